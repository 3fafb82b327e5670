"""The outbox of referral events: written sealed with the change that causes them, read back by the dispatcher.

Free texts an event's `data` may carry (reasons, outcomes, a legal basis) are kept in the outbox only inside
one `sealed` blob bound to the event id (decision 0052); the dispatcher opens it to deliver.
"""

from __future__ import annotations

import base64
import uuid
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from typing import Any

import orjson
import sqlalchemy as sa
from sqlalchemy.ext.asyncio import AsyncConnection, AsyncSession

from himaya.crypto import FieldCipher
from himaya.outbox import enqueue
from himaya.records import from_row
from referrals_service.core.tables import outbox_events, webhook_subscriptions

CASES_DESTINATION = "cases"
WEBHOOK_PREFIX = "webhook:"
SEALED_EVENT_FIELDS = ("reason", "outcome", "legal_basis")
SEALED_KEY = "sealed"
OUTBOX_TABLE = outbox_events.name


@dataclass(frozen=True)
class DeliveryTarget:
    """What a delivery needs of a subscription: where, its secret, whether active, and its owner's rights."""

    url: str
    secret: str
    active: bool
    organization_id: uuid.UUID
    owner_scopes: list[str] | None


def webhook_destination(subscription_id: uuid.UUID) -> str:
    """The outbox destination of one webhook subscription."""
    return f"{WEBHOOK_PREFIX}{subscription_id}"


def seal_event(cipher: FieldCipher, body: Mapping[str, Any]) -> dict[str, Any]:
    """The event as stored in the outbox: its free texts moved out of `data` into one blob bound to the event id."""
    data = dict(body["data"])
    texts = {key: data.pop(key) for key in SEALED_EVENT_FIELDS if key in data}
    stored = {**body, "data": data}
    if texts:
        blob = cipher.encrypt(orjson.dumps(texts).decode(), table=OUTBOX_TABLE, column="payload",
                              row_id=str(body["id"]))
        stored[SEALED_KEY] = base64.b64encode(blob or b"").decode()
    return stored


def open_event(cipher: FieldCipher, stored: Mapping[str, Any]) -> dict[str, Any]:
    """The event as delivered: the stored document with its sealed free texts back in `data`."""
    body = dict(stored)
    sealed = body.pop(SEALED_KEY, None)
    if sealed is None:
        return body
    plain = cipher.decrypt(base64.b64decode(sealed), table=OUTBOX_TABLE, column="payload", row_id=str(body["id"]))
    return {**body, "data": {**body["data"], **orjson.loads(plain or "{}")}}


async def subscribers(session: AsyncSession, *, organization_ids: Iterable[uuid.UUID], event_type: str,
                      read_scope: str) -> list[uuid.UUID]:
    """Active subscriptions of these organisations that want `event_type` and whose owner held `read_scope`."""
    w = webhook_subscriptions
    return list((await session.execute(sa.select(w.c.id).where(
        w.c.organization_id.in_(list(organization_ids)), w.c.active.is_(True),
        sa.literal(event_type) == sa.any_(w.c.events), sa.literal(read_scope) == sa.any_(w.c.owner_scopes))
        .order_by(w.c.created_at, w.c.id))).scalars().all())


async def enqueue_event(session: AsyncSession, cipher: FieldCipher, *, body: Mapping[str, Any], event_type: str,
                        aggregate_id: uuid.UUID, subscription_ids: Iterable[uuid.UUID]) -> None:
    """Store the event sealed, once for cases and once for each subscription."""
    stored = seal_event(cipher, body)
    await enqueue(session, outbox_events, event_type=event_type, destination=CASES_DESTINATION, payload=stored,
                  aggregate_id=aggregate_id, event_id=uuid.UUID(str(body["id"])))
    for subscription_id in subscription_ids:
        await enqueue(session, outbox_events, event_type=event_type,
                      destination=webhook_destination(subscription_id), payload=stored, aggregate_id=aggregate_id)


async def delivery_target(conn: AsyncConnection, subscription_id: uuid.UUID) -> DeliveryTarget | None:
    """What a delivery needs of a subscription."""
    w = webhook_subscriptions
    row = (await conn.execute(sa.select(w.c.url, w.c.secret, w.c.active, w.c.organization_id, w.c.owner_scopes)
                              .where(w.c.id == subscription_id))).mappings().one_or_none()
    return None if row is None else from_row(DeliveryTarget, row)
