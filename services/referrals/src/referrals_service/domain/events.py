"""Events of referrals: one per state change, written to the outbox in the change's own transaction."""

from __future__ import annotations

import base64
import uuid
from collections.abc import Mapping
from typing import Any

import orjson
from sqlalchemy.ext.asyncio import AsyncSession

from himaya import clock
from himaya.auth import Principal
from himaya.crypto import FieldCipher
from himaya.events import DecisionData, ReferralEventData, event_document, referral_event
from himaya.outbox import enqueue
from himaya.scopes import Scope
from referrals_service.db import repository as repo
from referrals_service.db.tables import outbox_events
from referrals_service.domain.vocabulary import OPEN_STATUSES, EventType

CASES_DESTINATION = "cases"
WEBHOOK_PREFIX = "webhook:"
# Free texts an event's `data` may carry: kept in the outbox only inside `sealed` (decision 0052).
SEALED_EVENT_FIELDS = ("reason", "outcome", "legal_basis")
SEALED_KEY = "sealed"
OUTBOX_TABLE = outbox_events.name


def webhook_destination(subscription_id: uuid.UUID) -> str:
    """The outbox destination of one webhook subscription."""
    return f"{WEBHOOK_PREFIX}{subscription_id}"


def event_body(referral: Mapping[str, Any], event_type: EventType, *, actor: str, event_id: uuid.UUID,
               data: dict[str, Any] | None = None, decision: DecisionData | None = None) -> dict[str, Any]:
    """The event document (himaya.events); `data.sequence`, the referral's version, orders a referral's events."""
    state = ReferralEventData(
        kind=referral["kind"], status=referral["status"], open=referral["status"] in OPEN_STATUSES,
        sequence=referral["version"], sender_organization_id=referral["sender_organization_id"],
        target_organization_id=referral["target_organization_id"],
        target_organization_type=referral["target_organization_type"], urgency=referral["urgency"],
        service_type=referral["service_type"], external_reference=referral["external_reference"], **(data or {}))
    return event_document(referral_event(
        event_id=event_id, event_type=event_type, occurred_at=clock.now(), case_id=referral["case_id"],
        referral_id=referral["id"], organization_id=referral["target_organization_id"], actor=actor, data=state,
        decision=decision))


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


async def emit(session: AsyncSession, cipher: FieldCipher, *, referral: Mapping[str, Any], event_type: EventType,
               principal: Principal, data: dict[str, Any] | None = None,
               decision: DecisionData | None = None) -> uuid.UUID:
    """Enqueue the event for cases and for every subscription of the sender or target that wants it."""
    event_id = uuid.uuid4()
    body = seal_event(cipher, event_body(referral, event_type, actor=principal.actor, event_id=event_id, data=data,
                                         decision=decision))
    await enqueue(session, outbox_events, event_type=str(event_type), destination=CASES_DESTINATION,
                  payload=body, aggregate_id=referral["id"], event_id=event_id)
    subscribers = await repo.subscriptions_for(
        session, organization_ids={referral["sender_organization_id"], referral["target_organization_id"]},
        event_type=str(event_type), read_scope=str(Scope.REFERRALS_READ))
    for sub in subscribers:
        await enqueue(session, outbox_events, event_type=str(event_type),
                      destination=webhook_destination(sub["id"]), payload=body, aggregate_id=referral["id"])
    return event_id
