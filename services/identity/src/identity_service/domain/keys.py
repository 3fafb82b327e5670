"""Ed25519 signing keys: creation, encryption at rest, rotation, the JWKS document, and signing."""

from __future__ import annotations

import secrets
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

import jwt
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey
from sqlalchemy.ext.asyncio import AsyncSession

from himaya.audit import AuditEntry, record
from himaya.auth import Principal
from himaya.errors import Conflict, Forbidden, NotFound, ServiceUnavailable
from himaya.scopes import Scope
from identity_service.db import tokens as repo
from identity_service.db.tables import audit_events
from identity_service.domain import revocations
from identity_service.domain.crypto import KeyEncryption

ALGORITHM = "EdDSA"
# Verifiers accept tokens up to this long after `exp` (himaya.auth.TokenVerifier's leeway), so a retired
# key stays published this much longer than its last token's lifetime.
VERIFIER_LEEWAY = timedelta(seconds=60)


@dataclass(frozen=True)
class SigningKey:
    """A decrypted private key and its id, ready to sign."""

    kid: str
    private_key: Ed25519PrivateKey


def _new_key_values(*, encryption: KeyEncryption, activates_at: datetime, now: datetime) -> dict[str, Any]:
    private = Ed25519PrivateKey.generate()
    kid = now.strftime("%Y%m%d") + "-" + secrets.token_hex(6)
    public_jwk = jwt.algorithms.OKPAlgorithm.to_jwk(private.public_key(), as_dict=True)
    public_jwk.update({"kid": kid, "use": "sig", "alg": ALGORITHM})
    pem = private.private_bytes(serialization.Encoding.DER, serialization.PrivateFormat.PKCS8,
                                serialization.NoEncryption())
    return {"kid": kid, "algorithm": ALGORITHM, "public_jwk": public_jwk,
            "private_key_encrypted": encryption.encrypt(pem, kid=kid), "kek_id": encryption.kek_id,
            "created_at": now, "activates_at": activates_at}


async def ensure_signing_key(session: AsyncSession, *, encryption: KeyEncryption, now: datetime) -> str | None:
    """Create a key that signs at once if no key signs now and none is pending; returns its kid if created."""
    await repo.lock_key_rotation(session)
    if await repo.signing_key_at(session, now) is not None or await repo.pending_keys(session, now):
        return None
    values = _new_key_values(encryption=encryption, activates_at=now, now=now)
    await repo.insert_signing_key(session, values)
    return str(values["kid"])


async def rotate_signing_key(session: AsyncSession, *, principal: Principal | None, encryption: KeyEncryption,
                             now: datetime, lead: timedelta, access_ttl: timedelta) -> list[dict[str, Any]]:
    """Publish a new key that starts signing after `lead`; the current key retires then and leaves the
    JWKS once the last token it signed has expired. 409 if a rotation is already pending. Returns the
    published keys' states."""
    if principal is not None and not principal.has_scope(Scope.IDENTITY_ADMIN):
        raise Forbidden("This operation needs the identity:admin scope.")
    await repo.lock_key_rotation(session)
    if await repo.pending_keys(session, now):
        raise Conflict("A new signing key is already published and waiting to sign.")
    activates_at = now + lead
    current = await repo.signing_key_at(session, now)
    values = _new_key_values(encryption=encryption, activates_at=activates_at, now=now)
    await repo.insert_signing_key(session, values)
    if current is not None:
        expires_at = activates_at + access_ttl + VERIFIER_LEEWAY
        await repo.retire_signing_key(session, current["kid"], retires_at=activates_at, expires_at=expires_at)
        await revocations.retire_key(session, kid=current["kid"], retires_at=activates_at, expires_at=expires_at,
                                     now=now)
    await record(session, audit_events, AuditEntry("signing_key.rotate", "signing_key", str(values["kid"])),
                 principal=principal, actor=None if principal else "system:keys")
    return await key_states(session, now=now)


async def revoke_signing_key(session: AsyncSession, *, principal: Principal | None, kid: str,
                             encryption: KeyEncryption, now: datetime,
                             access_ttl: timedelta) -> list[dict[str, Any]]:
    """Emergency revocation of a (compromised) key: it leaves the JWKS at once and every token it signed is
    refused by every verifier within seconds; a new key signs at once. A key that was signing retires now
    (its tokens stay valid until they expire) and a pending rotation is withdrawn, since the new key
    replaces it. National administrators only; 404 for an unknown key, 409 when it is already revoked."""
    if principal is not None and not (principal.has_scope(Scope.IDENTITY_ADMIN) and principal.is_national):
        raise Forbidden("An emergency key revocation needs a national administrator.")
    await repo.lock_key_rotation(session)
    row = await repo.signing_key(session, kid, for_update=True)
    if row is None:
        raise NotFound("No such signing key.")
    if await revocations.key_withdrawn(session, kid):
        raise Conflict("This signing key has already been revoked.")
    tokens_expire = now + access_ttl + VERIFIER_LEEWAY
    for other in await repo.published_keys(session, now):
        if other["kid"] == kid:
            continue
        if other["activates_at"] > now:  # a pending key never signed: withdraw it with the rotation
            await repo.withdraw_signing_key(session, other["kid"], at=now)
        elif other["retires_at"] is None or other["retires_at"] > now:
            await repo.retire_signing_key(session, other["kid"], retires_at=now, expires_at=tokens_expire)
            await revocations.retire_key(session, kid=other["kid"], retires_at=now, expires_at=tokens_expire,
                                         now=now)
    await repo.withdraw_signing_key(session, kid, at=now)
    values = _new_key_values(encryption=encryption, activates_at=now, now=now)
    await repo.insert_signing_key(session, values)
    await revocations.withdraw_key(session, kid=kid, until=tokens_expire)
    await record(session, audit_events, AuditEntry("signing_key.revoke", "signing_key", kid),
                 principal=principal, actor=None if principal else "system:keys")
    await record(session, audit_events, AuditEntry("signing_key.rotate", "signing_key", str(values["kid"])),
                 principal=principal, actor=None if principal else "system:keys")
    return await key_states(session, now=now)


async def current_signing_key(session: AsyncSession, *, encryption: KeyEncryption, now: datetime) -> SigningKey:
    """The decrypted key that signs at `now`; 503 when there is none (the seed command creates one)."""
    row = await repo.signing_key_at(session, now)
    if row is None:
        raise ServiceUnavailable("No signing key is active; run `python -m identity_service.seed`.")
    der = encryption.decrypt(bytes(row["private_key_encrypted"]), kid=row["kid"])
    private = serialization.load_der_private_key(der, password=None)
    assert isinstance(private, Ed25519PrivateKey)
    return SigningKey(kid=row["kid"], private_key=private)


async def jwks(session: AsyncSession, *, now: datetime) -> dict[str, Any]:
    """The public JWKS document at `now`."""
    return {"keys": [dict(row["public_jwk"]) for row in await repo.published_keys(session, now)]}


async def key_states(session: AsyncSession, *, now: datetime) -> list[dict[str, Any]]:
    """Every published key with its lifecycle dates and state (pending, signing, retired)."""
    out = []
    for row in await repo.published_keys(session, now):
        if row["activates_at"] > now:
            state = "pending"
        elif row["retires_at"] is None or row["retires_at"] > now:
            state = "signing"
        else:
            state = "retired"
        out.append({"kid": row["kid"], "algorithm": row["algorithm"], "state": state,
                    "created_at": row["created_at"], "activates_at": row["activates_at"],
                    "retires_at": row["retires_at"], "expires_at": row["expires_at"]})
    return out


def sign(claims: Mapping[str, Any], key: SigningKey) -> str:
    """A compact JWS of `claims` signed with `key`."""
    return jwt.encode(dict(claims), key.private_key, algorithm=ALGORITHM, headers={"kid": key.kid, "typ": "JWT"})
