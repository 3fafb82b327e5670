"""All SQL of the referrals service: referrals, history, decisions, webhook subscriptions, deliveries.

Free texts (`SEALED_COLUMNS`) are sealed here on the way in and opened on the way out, so the rest of the
service reads and writes plaintext keys (`reason`) while Postgres only ever holds `reason_enc` blobs.
"""

from __future__ import annotations

import uuid
import zlib
from collections.abc import Iterable, Mapping, Sequence
from datetime import datetime
from typing import Any

import sqlalchemy as sa
from sqlalchemy.engine import RowMapping
from sqlalchemy.ext.asyncio import AsyncConnection, AsyncSession

from himaya.crypto import FieldCipher
from himaya.outbox import DEAD, PENDING
from referrals_service.db.tables import (
    SEALED_COLUMNS,
    outbox_events,
    prosecutor_decisions,
    referral_change_seq,
    referral_history,
    referrals,
    webhook_subscriptions,
)

CHANGE_LOCK = zlib.crc32(b"referrals.change_seq") & 0x7FFFFFFF


def _seal(cipher: FieldCipher, table: sa.Table, row_id: Any, values: Mapping[str, Any]) -> dict[str, Any]:
    """`values` with each free text of `table` replaced by its blob in `<column>_enc`, bound to the row."""
    sealed = dict(values)
    for column in SEALED_COLUMNS[table.name]:
        if column in sealed:
            sealed[f"{column}_enc"] = cipher.encrypt(sealed.pop(column), table=table.name, column=column,
                                                     row_id=str(row_id))
    return sealed


def _open(cipher: FieldCipher, table: sa.Table, row: RowMapping) -> dict[str, Any]:
    """A row as a dict whose `<column>_enc` blobs are replaced by their plaintext under `column`."""
    opened = dict(row)
    for column in SEALED_COLUMNS[table.name]:
        opened[column] = cipher.decrypt(opened.pop(f"{column}_enc"), table=table.name, column=column,
                                        row_id=str(row["id"]))
    return opened


async def next_change_number(session: AsyncSession) -> int:
    """The next change number, taken under a lock held until commit so changes commit in number order."""
    await session.execute(sa.select(sa.func.pg_advisory_xact_lock(CHANGE_LOCK)))
    return int((await session.execute(sa.select(referral_change_seq.next_value()))).scalar_one())


async def insert_referral(session: AsyncSession, cipher: FieldCipher, values: Mapping[str, Any]) -> dict[str, Any]:
    """Insert a referral (free texts sealed) and return it opened."""
    stmt = sa.insert(referrals).values(**_seal(cipher, referrals, values["id"], values)).returning(referrals)
    return _open(cipher, referrals, (await session.execute(stmt)).mappings().one())


async def open_referral_exists(session: AsyncSession, *, case_id: uuid.UUID, target_organization_id: uuid.UUID,
                               kind: str, open_statuses: Iterable[str]) -> bool:
    """Whether the case already has an open referral of this kind to this organisation."""
    r = referrals
    found = await session.execute(sa.select(r.c.id).where(
        r.c.case_id == case_id, r.c.target_organization_id == target_organization_id, r.c.kind == kind,
        r.c.status.in_(list(open_statuses))).limit(1))
    return found.scalar_one_or_none() is not None


async def get_referral(session: AsyncSession, cipher: FieldCipher, referral_id: uuid.UUID, *,
                       for_update: bool = False) -> dict[str, Any] | None:
    """A referral by id, opened (locked for the transaction when `for_update`)."""
    stmt = sa.select(referrals).where(referrals.c.id == referral_id)
    if for_update:
        stmt = stmt.with_for_update()
    row = (await session.execute(stmt)).mappings().one_or_none()
    return None if row is None else _open(cipher, referrals, row)


async def update_referral(session: AsyncSession, cipher: FieldCipher, referral_id: uuid.UUID,
                          values: Mapping[str, Any]) -> dict[str, Any]:
    """Apply `values` (free texts sealed) to a referral already locked by the caller and return it opened."""
    stmt = (sa.update(referrals).where(referrals.c.id == referral_id)
            .values(**_seal(cipher, referrals, referral_id, values)).returning(referrals))
    return _open(cipher, referrals, (await session.execute(stmt)).mappings().one())


async def list_referrals(session: AsyncSession, cipher: FieldCipher, *, organization_id: uuid.UUID, direction: str,
                         status: str | None, updated_since: datetime | None, after_change: int | None,
                         limit: int) -> list[dict[str, Any]]:
    """Referrals to (incoming) or from (outgoing) an organisation, opened, in change order, up to limit+1."""
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
    return [_open(cipher, r, row) for row in rows]


async def add_history(session: AsyncSession, cipher: FieldCipher, values: Mapping[str, Any]) -> None:
    """Append one step to a referral's history; its id is taken first, since the note's blob is bound to it."""
    h = referral_history
    next_id = sa.func.nextval(sa.func.pg_get_serial_sequence(f"{h.schema}.{h.name}", "id"))
    history_id = int((await session.execute(sa.select(next_id))).scalar_one())
    await session.execute(sa.insert(h).values(**_seal(cipher, h, history_id, {"id": history_id, **values})))


async def list_history(session: AsyncSession, cipher: FieldCipher, referral_id: uuid.UUID) -> list[dict[str, Any]]:
    """A referral's history, opened, in order."""
    h = referral_history
    rows = (await session.execute(sa.select(h).where(h.c.referral_id == referral_id).order_by(h.c.id))
            ).mappings().all()
    return [_open(cipher, h, row) for row in rows]


async def insert_decision(session: AsyncSession, cipher: FieldCipher, values: Mapping[str, Any]) -> dict[str, Any]:
    """Record a prosecutor decision (free texts sealed) and return it opened."""
    d = prosecutor_decisions
    stmt = sa.insert(d).values(**_seal(cipher, d, values["id"], values)).returning(d)
    return _open(cipher, d, (await session.execute(stmt)).mappings().one())


async def list_decisions(session: AsyncSession, cipher: FieldCipher, referral_id: uuid.UUID) -> list[dict[str, Any]]:
    """A referral's decisions, opened, in the order they were recorded."""
    d = prosecutor_decisions
    rows = (await session.execute(sa.select(d).where(d.c.referral_id == referral_id)
                                  .order_by(d.c.created_at, d.c.id))).mappings().all()
    return [_open(cipher, d, row) for row in rows]


async def count_decisions(session: AsyncSession, referral_id: uuid.UUID) -> int:
    """How many decisions a referral has."""
    d = prosecutor_decisions
    return int((await session.execute(sa.select(sa.func.count()).select_from(d)
                                      .where(d.c.referral_id == referral_id))).scalar_one())


async def insert_subscription(session: AsyncSession, values: Mapping[str, Any]) -> RowMapping:
    """Create a webhook subscription and return it."""
    w = webhook_subscriptions
    return (await session.execute(sa.insert(w).values(**values).returning(w))).mappings().one()


async def get_subscription(session: AsyncSession, subscription_id: uuid.UUID) -> RowMapping | None:
    """A webhook subscription by id."""
    w = webhook_subscriptions
    return (await session.execute(sa.select(w).where(w.c.id == subscription_id))).mappings().one_or_none()


async def list_subscriptions(session: AsyncSession, *, organization_id: uuid.UUID,
                             after: tuple[datetime, uuid.UUID] | None, limit: int) -> Sequence[RowMapping]:
    """An organisation's active subscriptions, oldest first, up to limit+1 rows."""
    w = webhook_subscriptions
    stmt = sa.select(w).where(w.c.organization_id == organization_id, w.c.active.is_(True))
    if after is not None:
        stmt = stmt.where(sa.tuple_(w.c.created_at, w.c.id) > sa.tuple_(sa.literal(after[0]), sa.literal(after[1])))
    return (await session.execute(stmt.order_by(w.c.created_at, w.c.id).limit(limit + 1))).mappings().all()


async def deactivate_subscription(session: AsyncSession, subscription_id: uuid.UUID) -> None:
    """Stop delivering to a subscription (its delivery log is kept)."""
    w = webhook_subscriptions
    await session.execute(sa.update(w).where(w.c.id == subscription_id).values(active=False))


async def subscriptions_for(session: AsyncSession, *, organization_ids: Iterable[uuid.UUID], event_type: str,
                            read_scope: str) -> Sequence[RowMapping]:
    """Active subscriptions of these organisations that want `event_type` and whose owner held `read_scope`."""
    w = webhook_subscriptions
    return (await session.execute(sa.select(w.c.id, w.c.organization_id).where(
        w.c.organization_id.in_(list(organization_ids)), w.c.active.is_(True),
        sa.literal(event_type) == sa.any_(w.c.events), sa.literal(read_scope) == sa.any_(w.c.owner_scopes))
        .order_by(w.c.created_at, w.c.id))).mappings().all()


async def delivery_subscription(conn: AsyncConnection, subscription_id: uuid.UUID) -> RowMapping | None:
    """What a delivery needs of a subscription: where, its secret, whether active, and its owner's rights."""
    w = webhook_subscriptions
    return (await conn.execute(sa.select(w.c.url, w.c.secret, w.c.active, w.c.organization_id, w.c.owner_scopes)
                               .where(w.c.id == subscription_id))).mappings().one_or_none()


async def list_deliveries(session: AsyncSession, *, destination: str, after: tuple[datetime, uuid.UUID] | None,
                          limit: int, status: str | None = None) -> Sequence[RowMapping]:
    """Outbox rows of one destination (or of every destination when `status` is dead), newest first."""
    o = outbox_events
    stmt = sa.select(o)
    if destination:
        stmt = stmt.where(o.c.destination == destination)
    if status is not None:
        stmt = stmt.where(o.c.status == status)
    if after is not None:
        stmt = stmt.where(sa.tuple_(o.c.created_at, o.c.id) < sa.tuple_(sa.literal(after[0]), sa.literal(after[1])))
    return (await session.execute(stmt.order_by(o.c.created_at.desc(), o.c.id.desc()).limit(limit + 1))
            ).mappings().all()


async def get_delivery(session: AsyncSession, delivery_id: uuid.UUID) -> RowMapping | None:
    """One outbox row by id."""
    o = outbox_events
    return (await session.execute(sa.select(o).where(o.c.id == delivery_id))).mappings().one_or_none()


async def requeue_dead(session: AsyncSession, delivery_id: uuid.UUID) -> RowMapping | None:
    """Put a dead outbox row back in the queue; None when it was not dead."""
    o = outbox_events
    return (await session.execute(sa.update(o).where(o.c.id == delivery_id, o.c.status == DEAD).values(
        status=PENDING, attempts=0, next_attempt_at=sa.func.now(), last_error=None).returning(o))
            ).mappings().one_or_none()


async def notify_outbox(session: AsyncSession) -> None:
    """Wake the dispatchers when this transaction commits."""
    await session.execute(sa.select(sa.func.pg_notify(f"{outbox_events.schema}_outbox", "")))


async def latest_change_number(session: AsyncSession) -> int:
    """The highest change number committed so far (0 when there is none)."""
    return int((await session.execute(sa.select(sa.func.coalesce(sa.func.max(referrals.c.change_seq), 0))))
               .scalar_one())
