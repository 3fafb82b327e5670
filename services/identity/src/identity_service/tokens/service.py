"""The token endpoint's grants (password, refresh_token, client_credentials), revocation, and lockout."""

from __future__ import annotations

import uuid
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

from himaya.audit import AuditEntry
from himaya.errors import TooManyRequests
from himaya.scopes import ROLE_SCOPES, Role
from identity_service.core.audit import record_event
from identity_service.core.context import Context
from identity_service.core.crypto import (
    hash_password,
    needs_rehash,
    new_secret,
    secret_digest,
    verify_password,
)
from identity_service.core.errors import InvalidClient, InvalidGrant
from identity_service.keys import service as keys
from identity_service.tokens import repository as repo
from identity_service.tokens.records import Credentials, IssuedTokens

ISSUER = "himaya-identity"
AUDIENCE = "himaya"


@dataclass(frozen=True)
class TokenPolicy:
    """Lifetimes and protection thresholds of the token endpoint (from settings)."""

    issuer: str
    audience: str
    access_ttl: timedelta
    refresh_ttl: timedelta
    session_max_age: timedelta
    lockout_threshold: int
    lockout_window: timedelta
    lockout_duration: timedelta
    source_threshold: int
    source_window: timedelta
    source_block: timedelta


def user_scopes(role: str) -> list[str]:
    """The scopes of a user's token: exactly those of the role."""
    return sorted(s.value for s in ROLE_SCOPES[Role(role)])


def _claims(*, policy: TokenPolicy, now: datetime, sub: str, version: int, role: str, scopes: list[str],
            org: uuid.UUID, org_type: str, territories: list[str], username: str | None) -> dict[str, Any]:
    iat = int(now.timestamp())
    claims: dict[str, Any] = {
        # `sub_ver`: the version of the user's or client's record the grants were read from; a revocation
        # refuses the versions before a change (decision 0103).
        "iss": policy.issuer, "aud": policy.audience, "sub": sub, "sub_ver": int(version), "iat": iat,
        "exp": iat + int(policy.access_ttl.total_seconds()), "jti": uuid.uuid4().hex, "typ": "access",
        "scope": " ".join(scopes), "role": role, "org": str(org), "org_type": org_type,
        "territories": list(territories),
    }
    if username is not None:
        claims["preferred_username"] = username
    return claims


async def _access_token_for_user(ctx: Context, user: Credentials, *, policy: TokenPolicy,
                                 now: datetime) -> tuple[str, str]:
    scopes = user_scopes(user.role)
    claims = _claims(policy=policy, now=now, sub=f"user:{user.id}", version=user.version, role=user.role,
                     scopes=scopes, org=user.organization_id, org_type=user.organization_type,
                     territories=list(user.territories), username=user.username)
    key = await keys.current_signing_key(ctx, now=now)
    return keys.sign(claims, key), claims["scope"]


async def _new_refresh_token(ctx: Context, *, user_id: uuid.UUID, family_id: uuid.UUID,
                             family_started: datetime, policy: TokenPolicy, now: datetime) -> str:
    token = new_secret()
    expires_at = min(now + policy.refresh_ttl, family_started + policy.session_max_age)
    await repo.insert_refresh_token(ctx.session, family_id=family_id, user_id=user_id, token_hash=secret_digest(token),
                                    created_at=now, expires_at=expires_at)
    return token


async def _check_not_blocked(ctx: Context, throttle_keys: list[str], now: datetime) -> None:
    until = await repo.blocked_until(ctx.session, throttle_keys, now)
    if until is not None:
        raise TooManyRequests("Too many failed attempts; try again later.",
                              retry_after=int((until - now).total_seconds()) + 1)


async def _count_failure(ctx: Context, *, source_ip: str | None, username_key: str | None,
                         policy: TokenPolicy, now: datetime) -> None:
    if username_key is not None:
        await repo.count_failure(ctx.session, username_key, now=now, window=policy.lockout_window,
                                 threshold=policy.lockout_threshold, block=policy.lockout_duration)
    if source_ip is not None:
        await repo.count_failure(ctx.session, f"source:{source_ip}", now=now, window=policy.source_window,
                                 threshold=policy.source_threshold, block=policy.source_block)


async def password_grant(ctx: Context, *, username: str, password: str, source_ip: str | None,
                         policy: TokenPolicy, now: datetime) -> IssuedTokens:
    """Log a user in: access and refresh tokens, or 401 (429 while the username or source is blocked)."""
    user_key = "user:" + username.strip().lower()
    throttle_keys = [user_key] + ([f"source:{source_ip}"] if source_ip else [])
    try:
        await _check_not_blocked(ctx, throttle_keys, now)
    except TooManyRequests:
        await record_event(ctx, AuditEntry("login", "user", outcome="blocked"),
                     actor=f"username:{username[:64]}", source_ip=source_ip)
        raise
    user = await repo.user_credentials(ctx.session, username.strip())
    valid = await verify_password(user.password_hash if user else None, password)
    if user is None or not valid or not user.active:
        await _count_failure(ctx, source_ip=source_ip, username_key=user_key, policy=policy, now=now)
        reason = "inactive" if (user is not None and valid) else "failure"
        await record_event(ctx, AuditEntry("login", "user", str(user.id) if user else None,
                                                       outcome=reason),
                     actor=f"user:{user.id}" if user else f"username:{username[:64]}", source_ip=source_ip,
                     organization_id=user.organization_id if user else None)
        raise InvalidGrant("The username or password is incorrect, or the account is deactivated.")
    await repo.clear_throttle(ctx.session, user_key)
    assert user.password_hash is not None
    new_hash = await hash_password(password) if needs_rehash(user.password_hash) else None
    await repo.record_login(ctx.session, user.id, at=now, new_hash=new_hash)
    access, scope = await _access_token_for_user(ctx, user, policy=policy, now=now)
    refresh = await _new_refresh_token(ctx, user_id=user.id, family_id=uuid.uuid4(), family_started=now,
                                       policy=policy, now=now)
    actor = f"user:{user.id}"
    await record_event(ctx, AuditEntry("login", "user", str(user.id)), actor=actor,
                 source_ip=source_ip, organization_id=user.organization_id)
    await record_event(ctx, AuditEntry("token.issue", "token", outcome="password"), actor=actor,
                 source_ip=source_ip, organization_id=user.organization_id)
    return IssuedTokens(access_token=access, expires_in=int(policy.access_ttl.total_seconds()), scope=scope,
                        refresh_token=refresh)


async def refresh_grant(ctx: Context, *, refresh_token: str, source_ip: str | None, policy: TokenPolicy,
                        now: datetime) -> IssuedTokens:
    """Exchange a refresh token for new tokens; reusing a spent one revokes its whole family."""
    await _check_not_blocked(ctx, [f"source:{source_ip}"] if source_ip else [], now)
    row = await repo.refresh_token_for_update(ctx.session, secret_digest(refresh_token))
    if row is None:
        await _count_failure(ctx, source_ip=source_ip, username_key=None, policy=policy, now=now)
        await record_event(ctx, AuditEntry("token.refresh", "token", outcome="unknown_token"),
                     source_ip=source_ip)
        raise InvalidGrant("The refresh token is not valid.")
    actor = f"user:{row.user_id}"
    family = str(row.family_id)
    if row.used_at is not None or row.revoked_at is not None:
        revoked = await repo.revoke_family(ctx.session, row.family_id, at=now)
        outcome = "reuse_detected" if row.used_at is not None and revoked else "revoked_token"
        await record_event(ctx, AuditEntry("token.refresh", "token_family", family, outcome=outcome),
                     actor=actor, source_ip=source_ip)
        raise InvalidGrant("The refresh token has been used or revoked.")
    if row.expires_at <= now:
        await record_event(ctx, AuditEntry("token.refresh", "token_family", family, outcome="expired"),
                     actor=actor, source_ip=source_ip)
        raise InvalidGrant("The refresh token has expired.")
    user = await repo.user_for_token(ctx.session, row.user_id)
    if user is None or not user.active:
        await repo.revoke_family(ctx.session, row.family_id, at=now)
        await record_event(ctx, AuditEntry("token.refresh", "token_family", family, outcome="inactive"),
                     actor=actor, source_ip=source_ip)
        raise InvalidGrant("The account is deactivated.")
    await repo.mark_refresh_token_used(ctx.session, row.id, at=now)
    started = await repo.family_started_at(ctx.session, row.family_id)
    refresh = await _new_refresh_token(ctx, user_id=user.id, family_id=row.family_id, family_started=started,
                                       policy=policy, now=now)
    access, scope = await _access_token_for_user(ctx, user, policy=policy, now=now)
    await record_event(ctx, AuditEntry("token.issue", "token", outcome="refresh_token"), actor=actor,
                 source_ip=source_ip, organization_id=user.organization_id)
    return IssuedTokens(access_token=access, expires_in=int(policy.access_ttl.total_seconds()), scope=scope,
                        refresh_token=refresh)


async def client_credentials_grant(ctx: Context, *, client_id: str, client_secret: str,
                                   requested_scope: str | None, source_ip: str | None, policy: TokenPolicy,
                                   now: datetime) -> IssuedTokens:
    """A partner system's access token; the scope may be narrowed by `requested_scope`."""
    await _check_not_blocked(ctx, [f"source:{source_ip}"] if source_ip else [], now)
    try:
        cid = uuid.UUID(client_id)
    except ValueError:
        cid = None
    client = (await repo.client_by_secret(ctx.session, client_id=cid, secret_hash=secret_digest(client_secret),
                                          now=now)) if cid else None
    if client is None or not client.active:
        await _count_failure(ctx, source_ip=source_ip, username_key=None, policy=policy, now=now)
        outcome = "inactive" if client is not None else "failure"
        await record_event(ctx, AuditEntry("client.authenticate", "client",
                                                       str(cid) if cid else None, outcome=outcome),
                     actor=f"client:{cid}" if cid else "anonymous", source_ip=source_ip)
        raise InvalidClient("Client authentication failed.")
    granted = sorted(client.scopes)
    if requested_scope:
        wanted = set(requested_scope.split())
        if not wanted <= set(granted):
            await record_event(ctx, AuditEntry("token.issue", "token", outcome="invalid_scope"),
                         actor=f"client:{cid}", source_ip=source_ip, organization_id=client.organization_id)
            raise InvalidGrant("The requested scope exceeds the client's scopes.", extra={"error": "invalid_scope"})
        granted = sorted(wanted)
    claims = _claims(policy=policy, now=now, sub=f"client:{client.id}", version=client.version,
                     role=Role.PARTNER_SYSTEM.value, scopes=granted, org=client.organization_id,
                     org_type=client.organization_type, territories=list(client.territories), username=None)
    key = await keys.current_signing_key(ctx, now=now)
    await record_event(ctx, AuditEntry("token.issue", "token", outcome="client_credentials"),
                 actor=f"client:{client.id}", source_ip=source_ip, organization_id=client.organization_id)
    return IssuedTokens(access_token=keys.sign(claims, key), expires_in=int(policy.access_ttl.total_seconds()),
                        scope=claims["scope"])


async def revoke(ctx: Context, *, token: str, source_ip: str | None, now: datetime) -> None:
    """RFC 7009: revoke the refresh token's whole family; unknown tokens and access tokens change nothing."""
    row = await repo.refresh_token_for_update(ctx.session, secret_digest(token))
    if row is None:
        return
    await repo.revoke_family(ctx.session, row.family_id, at=now)
    await record_event(ctx, AuditEntry("token.revoke", "token_family", str(row.family_id)),
                 actor=f"user:{row.user_id}", source_ip=source_ip)


async def revoke_user_refresh_tokens(ctx: Context, *, user_id: uuid.UUID, now: datetime) -> None:
    """Revoke every refresh token of a user (deactivation, new grants, a new password)."""
    await repo.revoke_user_tokens(ctx.session, user_id, at=now)


async def clear_login_failures(ctx: Context, *, username: str) -> None:
    """Forget the failed logins counted on a username (a new password, a deactivation, an unlock)."""
    await repo.clear_throttle(ctx.session, "user:" + username.lower())


async def subject_active(ctx: Context, *, subject_type: str, subject_id: uuid.UUID) -> bool:
    """Whether the user or client named by a token still exists and is active."""
    return await repo.subject_active(ctx.session, subject_type=subject_type, subject_id=subject_id)
