"""Statements on referrals, their history and prosecutor decisions; free texts are sealed on the way in and
opened on the way out, so the rest of the service reads and writes plaintext (`reason`) while Postgres only
holds `reason_enc` blobs."""

from __future__ import annotations

import uuid
import zlib
from collections.abc import Iterable, Mapping
from datetime import datetime
from typing import Any

import sqlalchemy as sa
from sqlalchemy.ext.asyncio import AsyncSession

from himaya.crypto import FieldCipher
from himaya.records import from_row
from referrals_service.core.sealing import open_row, seal
from referrals_service.core.tables import prosecutor_decisions, referral_change_seq, referral_history, referrals
from referrals_service.referrals.records import Decision, HistoryEntry, Referral

CHANGE_LOCK = zlib.crc32(b"referrals.change_seq") & 0x7FFFFFFF


def _referral(cipher: FieldCipher, row: Mapping[Any, Any]) -> Referral:
    return from_row(Referral, open_row(cipher, referrals, row))


async def next_change_number(session: AsyncSession) -> int:
    """The next change number, taken under a lock held until commit so changes commit in number order."""
    await session.execute(sa.select(sa.func.pg_advisory_xact_lock(CHANGE_LOCK)))
    return int((await session.execute(sa.select(referral_change_seq.next_value()))).scalar_one())


async def latest_change_number(session: AsyncSession) -> int:
    """The highest change number committed so far (0 when there is none)."""
    return int((await session.execute(sa.select(sa.func.coalesce(sa.func.max(referrals.c.change_seq), 0))))
               .scalar_one())


async def insert_referral(session: AsyncSession, cipher: FieldCipher, values: Mapping[str, Any]) -> Referral:
    """Insert a referral (free texts sealed) and return it."""
    stmt = sa.insert(referrals).values(**seal(cipher, referrals, values["id"], values)).returning(referrals)
    return _referral(cipher, (await session.execute(stmt)).mappings().one())


async def open_referral_exists(session: AsyncSession, *, case_id: uuid.UUID, target_organization_id: uuid.UUID,
                               kind: str, open_statuses: Iterable[str]) -> bool:
    """Whether the case already has an open referral of this kind to this organisation."""
    r = referrals
    found = await session.execute(sa.select(r.c.id).where(
        r.c.case_id == case_id, r.c.target_organization_id == target_organization_id, r.c.kind == kind,
        r.c.status.in_(list(open_statuses))).limit(1))
    return found.scalar_one_or_none() is not None


async def get_referral(session: AsyncSession, cipher: FieldCipher, referral_id: uuid.UUID, *,
                       for_update: bool = False) -> Referral | None:
    """A referral by id (locked for the transaction when `for_update`)."""
    stmt = sa.select(referrals).where(referrals.c.id == referral_id)
    if for_update:
        stmt = stmt.with_for_update()
    row = (await session.execute(stmt)).mappings().one_or_none()
    return None if row is None else _referral(cipher, row)


async def update_referral(session: AsyncSession, cipher: FieldCipher, referral_id: uuid.UUID,
                          values: Mapping[str, Any]) -> Referral:
    """Apply `values` (free texts sealed) to a referral already locked by the caller and return it."""
    stmt = (sa.update(referrals).where(referrals.c.id == referral_id)
            .values(**seal(cipher, referrals, referral_id, values)).returning(referrals))
    return _referral(cipher, (await session.execute(stmt)).mappings().one())


async def list_referrals(session: AsyncSession, cipher: FieldCipher, *, organization_id: uuid.UUID, direction: str,
                         status: str | None, updated_since: datetime | None, after_change: int | None,
                         limit: int) -> list[Referral]:
    """Referrals to (incoming) or from (outgoing) an organisation, in change order, up to limit+1."""
    r = referrals
    org_column = r.c.target_organization_id if direction == "incoming" else r.c.sender_organization_id
    stmt = sa.select(r).where(org_column == organization_id)
    if status is not None:
        stmt = stmt.where(r.c.status == status)
    if updated_since is not None:
        stmt = stmt.where(r.c.updated_at >= updated_since)
    if after_change is not None:
        stmt = stmt.where(r.c.change_seq > after_change)
    rows = (await session.execute(stmt.order_by(r.c.change_seq).limit(limit + 1))).mappings().all()
    return [_referral(cipher, row) for row in rows]


async def add_history(session: AsyncSession, cipher: FieldCipher, values: Mapping[str, Any]) -> None:
    """Append one step to a referral's history; its id is taken first, since the note's blob is bound to it."""
    h = referral_history
    next_id = sa.func.nextval(sa.func.pg_get_serial_sequence(f"{h.schema}.{h.name}", "id"))
    history_id = int((await session.execute(sa.select(next_id))).scalar_one())
    await session.execute(sa.insert(h).values(**seal(cipher, h, history_id, {"id": history_id, **values})))


async def list_history(session: AsyncSession, cipher: FieldCipher, referral_id: uuid.UUID) -> list[HistoryEntry]:
    """A referral's history, in order."""
    h = referral_history
    rows = (await session.execute(sa.select(h).where(h.c.referral_id == referral_id).order_by(h.c.id))
            ).mappings().all()
    return [from_row(HistoryEntry, open_row(cipher, h, row)) for row in rows]


async def insert_decision(session: AsyncSession, cipher: FieldCipher, values: Mapping[str, Any]) -> Decision:
    """Record a prosecutor decision (free texts sealed) and return it."""
    d = prosecutor_decisions
    stmt = sa.insert(d).values(**seal(cipher, d, values["id"], values)).returning(d)
    return from_row(Decision, open_row(cipher, d, (await session.execute(stmt)).mappings().one()))


async def list_decisions(session: AsyncSession, cipher: FieldCipher, referral_id: uuid.UUID) -> list[Decision]:
    """A referral's decisions, in the order they were recorded."""
    d = prosecutor_decisions
    rows = (await session.execute(sa.select(d).where(d.c.referral_id == referral_id)
                                  .order_by(d.c.created_at, d.c.id))).mappings().all()
    return [from_row(Decision, open_row(cipher, d, row)) for row in rows]
