"""Statements of the token endpoint: who logs in (users' and clients' credentials, read only here), refresh
tokens, and login throttles."""

from __future__ import annotations

import uuid
from collections.abc import Sequence
from datetime import datetime, timedelta
from typing import Any

import sqlalchemy as sa
from sqlalchemy.dialects.postgresql import insert
from sqlalchemy.ext.asyncio import AsyncSession

from himaya.records import from_row
from identity_service.core.tables import (
    api_clients,
    client_secrets,
    login_throttles,
    organizations,
    refresh_tokens,
    users,
)
from identity_service.tokens.records import ClientCredentials, Credentials, RefreshToken

_USER_VIEW = (sa.select(users, organizations.c.type.label("organization_type"))
              .join(organizations, organizations.c.id == users.c.organization_id))
_CLIENT_VIEW = (sa.select(api_clients, organizations.c.type.label("organization_type"))
                .join(organizations, organizations.c.id == api_clients.c.organization_id))


# ---- who logs in ----------------------------------------------------------------------------------------


async def user_credentials(session: AsyncSession, username: str) -> Credentials | None:
    """A user by username (case-insensitive) with the password hash and the organisation's type."""
    q = _USER_VIEW.where(sa.func.lower(users.c.username) == username.lower())
    row = (await session.execute(q)).mappings().one_or_none()
    return None if row is None else from_row(Credentials, row)


async def user_for_token(session: AsyncSession, user_id: uuid.UUID) -> Credentials | None:
    """A user by id as a refreshed token carries them (without the password hash)."""
    row = (await session.execute(_USER_VIEW.where(users.c.id == user_id))).mappings().one_or_none()
    return None if row is None else from_row(Credentials, {**row, "password_hash": None})


async def record_login(session: AsyncSession, user_id: uuid.UUID, *, at: datetime,
                       new_hash: str | None) -> None:
    """Note a successful login, upgrading the password hash when its parameters were outdated."""
    values: dict[str, Any] = {"last_login_at": at}
    if new_hash is not None:
        values["password_hash"] = new_hash
    await session.execute(sa.update(users).where(users.c.id == user_id).values(**values))


async def client_by_secret(session: AsyncSession, *, client_id: uuid.UUID, secret_hash: bytes,
                           now: datetime) -> ClientCredentials | None:
    """The client whose unexpired secret has this digest, with its organisation's type."""
    q = (_CLIENT_VIEW.join(client_secrets, client_secrets.c.client_id == api_clients.c.id)
         .where(api_clients.c.id == client_id, client_secrets.c.secret_hash == secret_hash,
                sa.or_(client_secrets.c.expires_at.is_(None), client_secrets.c.expires_at > now)))
    row = (await session.execute(q)).mappings().one_or_none()
    return None if row is None else from_row(ClientCredentials, row)


async def subject_active(session: AsyncSession, *, subject_type: str, subject_id: uuid.UUID) -> bool:
    """Whether the user or client named by a token still exists and is active."""
    table = users if subject_type == "user" else api_clients
    q = sa.select(table.c.active).where(table.c.id == subject_id)
    return bool((await session.execute(q)).scalar_one_or_none())




# ---- refresh tokens -------------------------------------------------------------------------------------


async def insert_refresh_token(session: AsyncSession, *, family_id: uuid.UUID, user_id: uuid.UUID,
                               token_hash: bytes, created_at: datetime, expires_at: datetime) -> None:
    """Store the digest of a new refresh token."""
    await session.execute(insert(refresh_tokens).values(
        id=uuid.uuid4(), family_id=family_id, user_id=user_id, token_hash=token_hash, created_at=created_at,
        expires_at=expires_at))


async def refresh_token_for_update(session: AsyncSession, token_hash: bytes) -> RefreshToken | None:
    """A refresh token by digest, locked so that two uses of the same token are serialised."""
    q = sa.select(refresh_tokens).where(refresh_tokens.c.token_hash == token_hash).with_for_update()
    row = (await session.execute(q)).mappings().one_or_none()
    return None if row is None else from_row(RefreshToken, row)


async def family_started_at(session: AsyncSession, family_id: uuid.UUID) -> datetime:
    """When a refresh-token family (one login) began."""
    q = sa.select(sa.func.min(refresh_tokens.c.created_at)).where(refresh_tokens.c.family_id == family_id)
    return (await session.execute(q)).scalar_one()  # type: ignore[no-any-return]


async def mark_refresh_token_used(session: AsyncSession, token_id: uuid.UUID, *, at: datetime) -> None:
    """Spend a refresh token."""
    await session.execute(sa.update(refresh_tokens).where(refresh_tokens.c.id == token_id).values(used_at=at))


async def revoke_family(session: AsyncSession, family_id: uuid.UUID, *, at: datetime) -> int:
    """Revoke every token of a family; returns how many were still unrevoked."""
    result = await session.execute(
        sa.update(refresh_tokens)
        .where(refresh_tokens.c.family_id == family_id, refresh_tokens.c.revoked_at.is_(None))
        .values(revoked_at=at))
    return int(getattr(result, "rowcount", 0) or 0)


async def revoke_user_tokens(session: AsyncSession, user_id: uuid.UUID, *, at: datetime) -> None:
    """Revoke every refresh token of a user (deactivation, password change)."""
    await session.execute(
        sa.update(refresh_tokens)
        .where(refresh_tokens.c.user_id == user_id, refresh_tokens.c.revoked_at.is_(None))
        .values(revoked_at=at))


# ---- login throttles ------------------------------------------------------------------------------------


async def blocked_until(session: AsyncSession, keys: Sequence[str], now: datetime) -> datetime | None:
    """The latest block still in force on any of `keys`, or None."""
    q = sa.select(sa.func.max(login_throttles.c.blocked_until)).where(
        login_throttles.c.key.in_(list(keys)), login_throttles.c.blocked_until > now)
    until: datetime | None = (await session.execute(q)).scalar_one_or_none()
    return until


async def count_failure(session: AsyncSession, key: str, *, now: datetime, window: timedelta, threshold: int,
                        block: timedelta) -> datetime | None:
    """Count a failed attempt on `key` (a new window if the last one ended); return the block it triggers."""
    stale = login_throttles.c.window_started_at <= now - window
    first = insert(login_throttles).values(key=key, failures=1, window_started_at=now,
                                           blocked_until=now + block if threshold <= 1 else None)
    failures = sa.case((stale, 1), else_=login_throttles.c.failures + 1)
    stmt = first.on_conflict_do_update(
        index_elements=[login_throttles.c.key],
        set_={"failures": failures,
              "window_started_at": sa.case((stale, now), else_=login_throttles.c.window_started_at),
              "blocked_until": sa.case((failures >= threshold, now + block),
                                       else_=login_throttles.c.blocked_until)},
    ).returning(login_throttles.c.failures, login_throttles.c.blocked_until)
    row = (await session.execute(stmt)).one()
    return row.blocked_until if row.failures >= threshold else None


async def clear_throttle(session: AsyncSession, key: str) -> None:
    """Forget the failures counted on `key` (after a successful login, or an administrator's unlock)."""
    await session.execute(sa.delete(login_throttles).where(login_throttles.c.key == key))
