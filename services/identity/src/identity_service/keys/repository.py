"""Statements on signing keys; the private keys are encrypted here on the way in and decrypted on the way out
(AES-256-GCM under IDENTITY_KEY_ENCRYPTION_KEY, bound to the kid), so no other code sees their stored form."""

from __future__ import annotations

from datetime import datetime
from typing import Any

import sqlalchemy as sa
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey
from sqlalchemy.dialects.postgresql import insert
from sqlalchemy.ext.asyncio import AsyncSession

from himaya.records import from_row
from identity_service.core.crypto import KeyEncryption
from identity_service.core.tables import signing_keys
from identity_service.keys.records import PublishedKey, SigningKey

KEY_ROTATION_LOCK = 0x1D3E_0001  # advisory lock serialising key rotations across replicas
_PUBLISHED = (signing_keys.c.kid, signing_keys.c.algorithm, signing_keys.c.public_jwk, signing_keys.c.created_at,
              signing_keys.c.activates_at, signing_keys.c.retires_at, signing_keys.c.expires_at)


def _published(row: Any) -> PublishedKey | None:
    return None if row is None else from_row(PublishedKey, row)


async def lock_key_rotation(session: AsyncSession) -> None:
    """Serialise key rotations for the rest of the transaction."""
    await session.execute(sa.select(sa.func.pg_advisory_xact_lock(KEY_ROTATION_LOCK)))


async def insert_signing_key(session: AsyncSession, encryption: KeyEncryption, *, kid: str, algorithm: str,
                             private_key: Ed25519PrivateKey, public_jwk: dict[str, Any], created_at: datetime,
                             activates_at: datetime) -> None:
    """Store a new signing key, its private part encrypted and bound to its kid."""
    der = private_key.private_bytes(serialization.Encoding.DER, serialization.PrivateFormat.PKCS8,
                                    serialization.NoEncryption())
    await session.execute(insert(signing_keys).values(
        kid=kid, algorithm=algorithm, public_jwk=public_jwk, private_key_encrypted=encryption.encrypt(der, kid=kid),
        kek_id=encryption.kek_id, created_at=created_at, activates_at=activates_at))


def _signing_at(now: datetime) -> sa.Select[Any]:
    return (sa.select(signing_keys)
            .where(signing_keys.c.activates_at <= now,
                   sa.or_(signing_keys.c.retires_at.is_(None), signing_keys.c.retires_at > now),
                   sa.or_(signing_keys.c.expires_at.is_(None), signing_keys.c.expires_at > now))
            .order_by(signing_keys.c.activates_at.desc()).limit(1))


async def signing_key_at(session: AsyncSession, now: datetime) -> PublishedKey | None:
    """The key that signs at `now`: the most recently activated one that has not retired (nor been withdrawn)."""
    return _published((await session.execute(_signing_at(now))).mappings().one_or_none())


async def private_signing_key_at(session: AsyncSession, encryption: KeyEncryption,
                                 now: datetime) -> SigningKey | None:
    """The key that signs at `now`, decrypted (RuntimeError when the configured key cannot decrypt it)."""
    row = (await session.execute(_signing_at(now))).mappings().one_or_none()
    if row is None:
        return None
    der = encryption.decrypt(bytes(row["private_key_encrypted"]), kid=row["kid"])
    private = serialization.load_der_private_key(der, password=None)
    assert isinstance(private, Ed25519PrivateKey)
    return SigningKey(kid=row["kid"], private_key=private)


async def pending_keys(session: AsyncSession, now: datetime) -> list[PublishedKey]:
    """Keys published but not yet signing (a withdrawn one is no longer published)."""
    q = (sa.select(*_PUBLISHED)
         .where(signing_keys.c.activates_at > now,
                sa.or_(signing_keys.c.expires_at.is_(None), signing_keys.c.expires_at > now))
         .order_by(signing_keys.c.activates_at))
    return [from_row(PublishedKey, r) for r in (await session.execute(q)).mappings().all()]


async def retire_signing_key(session: AsyncSession, kid: str, *, retires_at: datetime,
                             expires_at: datetime) -> None:
    """Stop a key signing at `retires_at` and drop it from the JWKS at `expires_at`."""
    await session.execute(sa.update(signing_keys).where(signing_keys.c.kid == kid)
                          .values(retires_at=retires_at, expires_at=expires_at))


async def signing_key(session: AsyncSession, kid: str, *, for_update: bool = False) -> PublishedKey | None:
    """A key by id (withdrawn or not)."""
    q = sa.select(*_PUBLISHED).where(signing_keys.c.kid == kid)
    if for_update:
        q = q.with_for_update()
    return _published((await session.execute(q)).mappings().one_or_none())


async def withdraw_signing_key(session: AsyncSession, kid: str, *, at: datetime) -> None:
    """Stop a key signing and drop it from the JWKS at `at` (an emergency revocation)."""
    await session.execute(
        sa.update(signing_keys).where(signing_keys.c.kid == kid)
        .values(retires_at=sa.func.least(sa.func.coalesce(signing_keys.c.retires_at, at), at), expires_at=at))


async def published_keys(session: AsyncSession, now: datetime) -> list[PublishedKey]:
    """Keys in the JWKS at `now`: pending, signing, and retired ones whose last token may still be valid."""
    q = (sa.select(*_PUBLISHED)
         .where(sa.or_(signing_keys.c.expires_at.is_(None), signing_keys.c.expires_at > now))
         .order_by(signing_keys.c.activates_at.desc()))
    return [from_row(PublishedKey, r) for r in (await session.execute(q)).mappings().all()]
