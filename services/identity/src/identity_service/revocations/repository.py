"""Queries of the revocation feed: entries written with the change that causes them, read after a cursor."""

from __future__ import annotations

import uuid
from datetime import datetime

import sqlalchemy as sa
from sqlalchemy.ext.asyncio import AsyncSession

from himaya.records import from_row
from identity_service.core.tables import api_clients, revocations, users
from identity_service.revocations.records import RevocationEntry

# Held from an entry's insert to its transaction's commit, so entry ids become visible in increasing order
# and a reader that has seen id N will never later find a smaller id committed (the feed's cursor is safe).
FEED_LOCK = 0x1D3E_0002


async def lock_feed(session: AsyncSession) -> None:
    """Serialise writers of the feed until the end of the transaction."""
    await session.execute(sa.select(sa.func.pg_advisory_xact_lock(FEED_LOCK)))


async def subject_version(session: AsyncSession, subject_type: str, subject_id: uuid.UUID) -> int | None:
    """The current version of a user's or client's record (this transaction's own change included)."""
    table = users if subject_type == "user" else api_clients
    q = sa.select(table.c.version).where(table.c.id == subject_id)
    return (await session.execute(q)).scalar_one_or_none()


async def insert_entry(session: AsyncSession, *, reason: str, expires_at: datetime, subject: str | None = None,
                       min_version: int | None = None, kid: str | None = None,
                       issued_after: datetime | None = None) -> int:
    """Append an entry (the caller holds the feed lock); returns its id."""
    q = (sa.insert(revocations)
         .values(subject=subject, min_version=min_version, kid=kid, issued_after=issued_after, reason=reason,
                 expires_at=expires_at)
         .returning(revocations.c.id))
    return int((await session.execute(q)).scalar_one())


async def purge_expired(session: AsyncSession, now: datetime) -> None:
    """Forget entries past their use (every token they could refuse has expired)."""
    await session.execute(sa.delete(revocations).where(revocations.c.expires_at <= now))


async def key_withdrawn(session: AsyncSession, kid: str) -> bool:
    """Whether `kid` has been withdrawn outright."""
    q = sa.select(sa.exists().where(revocations.c.kid == kid, revocations.c.issued_after.is_(None)))
    return bool((await session.execute(q)).scalar())


async def last_id(session: AsyncSession) -> int:
    """The newest entry's id (0 when there is none)."""
    return int((await session.execute(sa.select(sa.func.coalesce(sa.func.max(revocations.c.id), 0)))).scalar_one())


async def entries_after(session: AsyncSession, *, after: int, upto: int, now: datetime,
                        limit: int) -> list[RevocationEntry]:
    """Entries with `after` < id <= `upto` that still refuse something, oldest first."""
    q = (sa.select(revocations.c.id, revocations.c.subject, revocations.c.min_version, revocations.c.kid,
                   revocations.c.issued_after, revocations.c.expires_at)
         .where(revocations.c.id > after, revocations.c.id <= upto, revocations.c.expires_at > now)
         .order_by(revocations.c.id).limit(limit))
    return [from_row(RevocationEntry, r) for r in (await session.execute(q)).mappings().all()]
