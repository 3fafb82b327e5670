"""Queries for signing keys, refresh tokens and login throttles."""

from __future__ import annotations

import uuid
from collections.abc import Sequence
from datetime import datetime, timedelta
from typing import Any

import sqlalchemy as sa
from sqlalchemy.dialects.postgresql import insert
from sqlalchemy.ext.asyncio import AsyncSession

from identity_service.db.tables import login_throttles, refresh_tokens, signing_keys

Row = sa.RowMapping
KEY_ROTATION_LOCK = 0x1D3E_0001  # advisory lock serialising key rotations across replicas


# ---- signing keys ---------------------------------------------------------------------------------------


async def lock_key_rotation(session: AsyncSession) -> None:
    """Serialise key rotations for the rest of the transaction."""
    await session.execute(sa.select(sa.func.pg_advisory_xact_lock(KEY_ROTATION_LOCK)))


async def insert_signing_key(session: AsyncSession, values: dict[str, Any]) -> None:
    """Store a new signing key."""
    await session.execute(insert(signing_keys).values(**values))


async def signing_key_at(session: AsyncSession, now: datetime) -> Row | None:
    """The key that signs at `now`: the most recently activated one that has not retired (nor been withdrawn)."""
    q = (sa.select(signing_keys)
         .where(signing_keys.c.activates_at <= now,
                sa.or_(signing_keys.c.retires_at.is_(None), signing_keys.c.retires_at > now),
                sa.or_(signing_keys.c.expires_at.is_(None), signing_keys.c.expires_at > now))
         .order_by(signing_keys.c.activates_at.desc()).limit(1))
    return (await session.execute(q)).mappings().one_or_none()


async def pending_keys(session: AsyncSession, now: datetime) -> Sequence[Row]:
    """Keys published but not yet signing (a withdrawn one is no longer published)."""
    q = (sa.select(signing_keys)
         .where(signing_keys.c.activates_at > now,
                sa.or_(signing_keys.c.expires_at.is_(None), signing_keys.c.expires_at > now))
         .order_by(signing_keys.c.activates_at))
    return (await session.execute(q)).mappings().all()


async def retire_signing_key(session: AsyncSession, kid: str, *, retires_at: datetime,
                             expires_at: datetime) -> None:
    """Stop a key signing at `retires_at` and drop it from the JWKS at `expires_at`."""
    await session.execute(sa.update(signing_keys).where(signing_keys.c.kid == kid)
                          .values(retires_at=retires_at, expires_at=expires_at))


async def signing_key(session: AsyncSession, kid: str, *, for_update: bool = False) -> Row | None:
    """A key by id."""
    q = sa.select(signing_keys).where(signing_keys.c.kid == kid)
    if for_update:
        q = q.with_for_update()
    return (await session.execute(q)).mappings().one_or_none()


async def withdraw_signing_key(session: AsyncSession, kid: str, *, at: datetime) -> None:
    """Stop a key signing and drop it from the JWKS at `at` (an emergency revocation)."""
    await session.execute(
        sa.update(signing_keys).where(signing_keys.c.kid == kid)
        .values(retires_at=sa.func.least(sa.func.coalesce(signing_keys.c.retires_at, at), at), expires_at=at))


async def published_keys(session: AsyncSession, now: datetime) -> Sequence[Row]:
    """Keys in the JWKS at `now`: pending, signing, and retired ones whose last token may still be valid."""
    q = (sa.select(signing_keys)
         .where(sa.or_(signing_keys.c.expires_at.is_(None), signing_keys.c.expires_at > now))
         .order_by(signing_keys.c.activates_at.desc()))
    return (await session.execute(q)).mappings().all()


# ---- refresh tokens -------------------------------------------------------------------------------------


async def insert_refresh_token(session: AsyncSession, *, family_id: uuid.UUID, user_id: uuid.UUID,
                               token_hash: bytes, created_at: datetime, expires_at: datetime) -> None:
    """Store the digest of a new refresh token."""
    await session.execute(insert(refresh_tokens).values(
        id=uuid.uuid4(), family_id=family_id, user_id=user_id, token_hash=token_hash, created_at=created_at,
        expires_at=expires_at))


async def refresh_token_for_update(session: AsyncSession, token_hash: bytes) -> Row | None:
    """A refresh token by digest, locked so that two uses of the same token are serialised."""
    q = sa.select(refresh_tokens).where(refresh_tokens.c.token_hash == token_hash).with_for_update()
    return (await session.execute(q)).mappings().one_or_none()


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
    return (await session.execute(q)).scalar_one_or_none()


async def count_failure(session: AsyncSession, key: str, *, now: datetime, window: timedelta, threshold: int,
                        block: timedelta) -> datetime | None:
    """Count a failed attempt on `key` (a new window if the last one ended); return the block it triggers."""
    stale = login_throttles.c.window_started_at <= now - window
    stmt = insert(login_throttles).values(key=key, failures=1, window_started_at=now,
                                          blocked_until=now + block if threshold <= 1 else None)
    failures = sa.case((stale, 1), else_=login_throttles.c.failures + 1)
    stmt = stmt.on_conflict_do_update(
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
