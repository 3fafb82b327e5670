"""Ed25519 signing keys: creation, rotation, emergency revocation, the JWKS document, and signing."""

from __future__ import annotations

import secrets
from collections.abc import Mapping
from datetime import datetime, timedelta
from typing import Any

import jwt
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey

from himaya.errors import Conflict, Forbidden, NotFound, ServiceUnavailable
from himaya.scopes import Scope
from identity_service.core import access
from identity_service.core.audit import audit
from identity_service.core.context import Context
from identity_service.keys import repository as repo
from identity_service.keys.records import KeyState, SigningKey
from identity_service.revocations import service as revocations

ALGORITHM = "EdDSA"
# Verifiers accept tokens up to this long after `exp` (himaya.auth.TokenVerifier's leeway), so a retired
# key stays published this much longer than its last token's lifetime.
VERIFIER_LEEWAY = timedelta(seconds=60)


async def _new_key(ctx: Context, *, activates_at: datetime, now: datetime) -> str:
    private = Ed25519PrivateKey.generate()
    kid = now.strftime("%Y%m%d") + "-" + secrets.token_hex(6)
    public_jwk = jwt.algorithms.OKPAlgorithm.to_jwk(private.public_key(), as_dict=True)
    public_jwk.update({"kid": kid, "use": "sig", "alg": ALGORITHM})
    await repo.insert_signing_key(ctx.session, ctx.encryption, kid=kid, algorithm=ALGORITHM, private_key=private,
                                  public_jwk=public_jwk, created_at=now, activates_at=activates_at)
    return kid


async def ensure_signing_key(ctx: Context, *, now: datetime) -> str | None:
    """Create a key that signs at once if no key signs now and none is pending; returns its kid if created."""
    await repo.lock_key_rotation(ctx.session)
    if await repo.signing_key_at(ctx.session, now) is not None or await repo.pending_keys(ctx.session, now):
        return None
    return await _new_key(ctx, activates_at=now, now=now)


async def rotate_signing_key(ctx: Context, *, now: datetime, lead: timedelta, access_ttl: timedelta) -> list[KeyState]:
    """Publish a new key that starts signing after `lead`; the current key retires then and leaves the
    JWKS once the last token it signed has expired. 409 if a rotation is already pending. Returns the
    published keys' states."""
    if ctx.principal is not None and not ctx.principal.has_scope(Scope.IDENTITY_ADMIN):
        raise Forbidden("This operation needs the identity:admin scope.")
    await repo.lock_key_rotation(ctx.session)
    if await repo.pending_keys(ctx.session, now):
        raise Conflict("A new signing key is already published and waiting to sign.")
    activates_at = now + lead
    current = await repo.signing_key_at(ctx.session, now)
    kid = await _new_key(ctx, activates_at=activates_at, now=now)
    if current is not None:
        expires_at = activates_at + access_ttl + VERIFIER_LEEWAY
        await repo.retire_signing_key(ctx.session, current.kid, retires_at=activates_at, expires_at=expires_at)
        await revocations.retire_key(ctx, kid=current.kid, retires_at=activates_at, expires_at=expires_at, now=now)
    await audit(ctx, "signing_key.rotate", "signing_key", kid, system="system:keys")
    return await key_states(ctx, now=now)


async def revoke_signing_key(ctx: Context, *, kid: str, now: datetime, access_ttl: timedelta) -> list[KeyState]:
    """Emergency revocation of a (compromised) key: it leaves the JWKS at once and every token it signed is
    refused by every verifier within seconds; a new key signs at once. A key that was signing retires now
    (its tokens stay valid until they expire) and a pending rotation is withdrawn, since the new key
    replaces it. National administrators only; 404 for an unknown key, 409 when it is already revoked."""
    principal = ctx.principal
    if principal is not None and not (principal.has_scope(Scope.IDENTITY_ADMIN) and principal.is_national):
        raise Forbidden("An emergency key revocation needs a national administrator.")
    await repo.lock_key_rotation(ctx.session)
    if await repo.signing_key(ctx.session, kid, for_update=True) is None:
        raise NotFound("No such signing key.")
    if await revocations.key_withdrawn(ctx, kid):
        raise Conflict("This signing key has already been revoked.")
    tokens_expire = now + access_ttl + VERIFIER_LEEWAY
    for other in await repo.published_keys(ctx.session, now):
        if other.kid == kid:
            continue
        if other.activates_at > now:  # a pending key never signed: withdraw it with the rotation
            await repo.withdraw_signing_key(ctx.session, other.kid, at=now)
        elif other.retires_at is None or other.retires_at > now:
            await repo.retire_signing_key(ctx.session, other.kid, retires_at=now, expires_at=tokens_expire)
            await revocations.retire_key(ctx, kid=other.kid, retires_at=now, expires_at=tokens_expire, now=now)
    await repo.withdraw_signing_key(ctx.session, kid, at=now)
    new_kid = await _new_key(ctx, activates_at=now, now=now)
    await revocations.withdraw_key(ctx, kid=kid, until=tokens_expire)
    await audit(ctx, "signing_key.revoke", "signing_key", kid, system="system:keys")
    await audit(ctx, "signing_key.rotate", "signing_key", new_kid, system="system:keys")
    return await key_states(ctx, now=now)


async def current_signing_key(ctx: Context, *, now: datetime) -> SigningKey:
    """The decrypted key that signs at `now`; 503 when there is none (the seed command creates one)."""
    key = await repo.private_signing_key_at(ctx.session, ctx.encryption, now)
    if key is None:
        raise ServiceUnavailable("No signing key is active; run `python -m identity_service.seed`.")
    return key


async def jwks(ctx: Context, *, now: datetime) -> dict[str, Any]:
    """The public JWKS document at `now`."""
    return {"keys": [dict(key.public_jwk) for key in await repo.published_keys(ctx.session, now)]}


async def list_signing_keys(ctx: Context, *, now: datetime) -> list[KeyState]:
    """The published keys' states (administrators)."""
    access.require_admin(ctx.caller)
    return await key_states(ctx, now=now)


async def key_states(ctx: Context, *, now: datetime) -> list[KeyState]:
    """Every published key with its lifecycle dates and state (pending, signing, retired)."""
    out = []
    for key in await repo.published_keys(ctx.session, now):
        if key.activates_at > now:
            state = "pending"
        elif key.retires_at is None or key.retires_at > now:
            state = "signing"
        else:
            state = "retired"
        out.append(KeyState(kid=key.kid, algorithm=key.algorithm, state=state, created_at=key.created_at,
                            activates_at=key.activates_at, retires_at=key.retires_at, expires_at=key.expires_at))
    return out


def sign(claims: Mapping[str, Any], key: SigningKey) -> str:
    """A compact JWS of `claims` signed with `key`."""
    return jwt.encode(dict(claims), key.private_key, algorithm=ALGORITHM, headers={"kid": key.kid, "typ": "JWT"})
