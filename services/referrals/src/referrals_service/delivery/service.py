"""Events of referrals: one per state change, built once (himaya.events) and written to the outbox, for cases
and for every subscription that wants it, in the change's own transaction."""

from __future__ import annotations

import uuid
from typing import Any

from himaya import clock
from himaya.events import DecisionData, ReferralEventData, event_document, referral_event
from himaya.scopes import Scope
from referrals_service.core.context import Context
from referrals_service.core.enums import OPEN_STATUSES, EventType
from referrals_service.delivery import repository as repo
from referrals_service.referrals.records import Referral


def event_body(referral: Referral, event_type: EventType, *, actor: str, event_id: uuid.UUID,
               data: dict[str, Any] | None = None, decision: DecisionData | None = None) -> dict[str, Any]:
    """The event document (himaya.events); `data.sequence`, the referral's version, orders a referral's events."""
    state = ReferralEventData(
        kind=referral.kind, status=referral.status, open=referral.status in OPEN_STATUSES,
        sequence=referral.version, sender_organization_id=referral.sender_organization_id,
        target_organization_id=referral.target_organization_id,
        target_organization_type=referral.target_organization_type, urgency=referral.urgency,
        service_type=referral.service_type, external_reference=referral.external_reference, **(data or {}))
    return event_document(referral_event(
        event_id=event_id, event_type=event_type, occurred_at=clock.now(), case_id=referral.case_id,
        referral_id=referral.id, organization_id=referral.target_organization_id, actor=actor, data=state,
        decision=decision))


async def emit(ctx: Context, *, referral: Referral, event_type: EventType, data: dict[str, Any] | None = None,
               decision: DecisionData | None = None) -> uuid.UUID:
    """Enqueue the event for cases and for every subscription of the sender or target that wants it."""
    event_id = uuid.uuid4()
    body = event_body(referral, event_type, actor=ctx.principal.actor, event_id=event_id, data=data,
                      decision=decision)
    subscription_ids = await repo.subscribers(
        ctx.session, organization_ids={referral.sender_organization_id, referral.target_organization_id},
        event_type=str(event_type), read_scope=str(Scope.REFERRALS_READ))
    await repo.enqueue_event(ctx.session, ctx.cipher, body=body, event_type=str(event_type),
                             aggregate_id=referral.id, subscription_ids=subscription_ids)
    return event_id
