"""Statements on webhook subscriptions and on the outbox rows that are their deliveries (and dead letters)."""

from __future__ import annotations

import uuid
from collections.abc import Mapping
from datetime import datetime
from typing import Any

import sqlalchemy as sa
from sqlalchemy.ext.asyncio import AsyncSession

from himaya.outbox import DEAD, PENDING, enqueue
from himaya.records import from_row
from referrals_service.core.tables import outbox_events, webhook_subscriptions
from referrals_service.webhooks.records import OutboxRow, Subscription


async def insert_subscription(session: AsyncSession, values: Mapping[str, Any]) -> Subscription:
    """Create a webhook subscription and return it."""
    w = webhook_subscriptions
    return from_row(Subscription, (await session.execute(sa.insert(w).values(**values).returning(w))).mappings().one())


async def get_subscription(session: AsyncSession, subscription_id: uuid.UUID) -> Subscription | None:
    """A webhook subscription by id."""
    w = webhook_subscriptions
    row = (await session.execute(sa.select(w).where(w.c.id == subscription_id))).mappings().one_or_none()
    return None if row is None else from_row(Subscription, row)


async def list_subscriptions(session: AsyncSession, *, organization_id: uuid.UUID,
                             after: tuple[datetime, uuid.UUID] | None, limit: int) -> list[Subscription]:
    """An organisation's active subscriptions, oldest first, up to limit+1 rows."""
    w = webhook_subscriptions
    stmt = sa.select(w).where(w.c.organization_id == organization_id, w.c.active.is_(True))
    if after is not None:
        stmt = stmt.where(sa.tuple_(w.c.created_at, w.c.id) > sa.tuple_(sa.literal(after[0]), sa.literal(after[1])))
    rows = (await session.execute(stmt.order_by(w.c.created_at, w.c.id).limit(limit + 1))).mappings().all()
    return [from_row(Subscription, r) for r in rows]


async def deactivate_subscription(session: AsyncSession, subscription_id: uuid.UUID) -> None:
    """Stop delivering to a subscription (its delivery log is kept)."""
    w = webhook_subscriptions
    await session.execute(sa.update(w).where(w.c.id == subscription_id).values(active=False))


async def list_deliveries(session: AsyncSession, *, destination: str, after: tuple[datetime, uuid.UUID] | None,
                          limit: int, status: str | None = None) -> list[OutboxRow]:
    """Outbox rows of one destination (or of every destination when `status` is dead), newest first."""
    o = outbox_events
    stmt = sa.select(o)
    if destination:
        stmt = stmt.where(o.c.destination == destination)
    if status is not None:
        stmt = stmt.where(o.c.status == status)
    if after is not None:
        stmt = stmt.where(sa.tuple_(o.c.created_at, o.c.id) < sa.tuple_(sa.literal(after[0]), sa.literal(after[1])))
    rows = (await session.execute(stmt.order_by(o.c.created_at.desc(), o.c.id.desc()).limit(limit + 1))
            ).mappings().all()
    return [from_row(OutboxRow, r) for r in rows]


async def get_delivery(session: AsyncSession, delivery_id: uuid.UUID) -> OutboxRow | None:
    """One outbox row by id."""
    o = outbox_events
    row = (await session.execute(sa.select(o).where(o.c.id == delivery_id))).mappings().one_or_none()
    return None if row is None else from_row(OutboxRow, row)


async def enqueue_again(session: AsyncSession, original: OutboxRow) -> OutboxRow:
    """A new delivery of the same stored event (same event id) to the same destination."""
    new_id = await enqueue(session, outbox_events, event_type=original.event_type,
                           destination=original.destination, payload=original.payload,
                           aggregate_id=original.aggregate_id)
    created = await get_delivery(session, new_id)
    assert created is not None
    return created


async def requeue_dead(session: AsyncSession, delivery_id: uuid.UUID) -> OutboxRow | None:
    """Put a dead outbox row back in the queue and wake the dispatchers at commit; None when it was not dead."""
    o = outbox_events
    row = (await session.execute(sa.update(o).where(o.c.id == delivery_id, o.c.status == DEAD).values(
        status=PENDING, attempts=0, next_attempt_at=sa.func.now(), last_error=None).returning(o))
           ).mappings().one_or_none()
    if row is None:
        return None
    await session.execute(sa.select(sa.func.pg_notify(f"{outbox_events.schema}_outbox", "")))
    return from_row(OutboxRow, row)
