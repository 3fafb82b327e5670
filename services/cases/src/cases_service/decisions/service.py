"""Events from referrals (decision 0004): recorded on the timeline, moving the case, granting or revoking
the receiving organisation's access; idempotent by event id, and the access ordered by the referral's
sequence so that no older event undoes a newer one (decision 0107).

Access grants (decision 0107): an organisation that is not territorial sees a case only while a grant made
by a referral it received, or by the intake it recorded, is active and unexpired.

- A referral's grant follows the referral: every event of the referral carries its `data.sequence` (the
  referral's version); the grant row keeps the newest sequence applied, and an event with an older or equal
  sequence changes nothing, so a replayed `referral.sent` (captured, redelivered after its id was purged from
  the processed events, or arriving out of order) cannot revive a grant its referral's end revoked. An open
  referral's events renew the expiry; an ending event (rejected, completed, cancelled, closed) revokes it, and
  arriving first it leaves a revoked row that older events cannot reopen.
- A reporter's grant (an NGO or other non-territorial organisation that recorded the intake) ends when the
  case closes (closed, closed not in scope, transferred out) or at its expiry.
"""

from __future__ import annotations

import itertools
import uuid
from datetime import UTC, datetime, timedelta
from typing import Any

from pydantic import ValidationError

from cases_service.core import repository as core_repo
from cases_service.core.context import Context, EventContext
from cases_service.core.enums import ENDING_REFERRAL_EVENTS, LASTING_DECISIONS, Status
from cases_service.decisions import repository as repo
from himaya import clock
from himaya.audit import AuditEntry
from himaya.errors import InvalidInput
from himaya.events import ServiceEvent

SAFE_DATA_KEYS = ("kind", "urgency", "service_type", "decision_id", "type", "concerns", "adult_id", "decided_at",
                  "reference", "police_report_number", "external_reference", "status", "lifts_decision_ids")


def parse_event(body: bytes) -> ServiceEvent:
    """The event in a request body; 422 for an event this service can never accept."""
    try:
        return ServiceEvent.model_validate_json(body)
    except ValidationError as exc:
        raise InvalidInput("The event is not valid.") from exc


def refuse_if_forgotten(event: ServiceEvent, retention: timedelta) -> None:
    """Refuse an event older than the processed ids are kept: whether it was applied can no longer be known,
    so it is never applied again (a dead event replayed months later, a captured event resent)."""
    occurred = event.occurred_at if event.occurred_at.tzinfo else event.occurred_at.replace(tzinfo=UTC)
    if occurred < clock.now() - retention:
        raise InvalidInput("The event is older than this service remembers applied events; it is refused.")


async def receive_event(ctx: EventContext, *, event: ServiceEvent) -> str:
    """Apply an event once: `processed`, or `duplicate` when its id was seen before."""
    session = ctx.session
    sequence = None
    if event.type.startswith("referral."):
        if event.organization_id is None or event.referral_id is None:
            raise InvalidInput("A referral event needs organization_id and referral_id.")
        sequence = referral_sequence(event.data)
    if not await repo.claim_event(session, event_id=event.id, event_type=event.type, case_id=event.case_id):
        return "duplicate"
    status = await repo.lock_case_status(session, event.case_id)
    if status is None:
        raise InvalidInput("The event names no case of this service.")
    if sequence is not None:
        assert event.organization_id is not None and event.referral_id is not None
        # The grant follows the referral's newest state; an older event leaves it as it is.
        await apply_referral_event(ctx, event_type=event.type, case_id=event.case_id,
                                   organization_id=event.organization_id, referral_id=event.referral_id,
                                   kind=str(event.data.get("kind", "service")), sequence=sequence,
                                   at=clock.now())
    timeline: list[dict[str, Any]] = []
    data = {k: _jsonable(event.data[k]) for k in SAFE_DATA_KEYS if k in event.data}
    base = {"case_id": event.case_id, "actor": event.actor, "source_event_id": event.id}
    record: dict[str, Any] = {**base, "event_type": event.type, "data": {
        **data, "referral_id": str(event.referral_id) if event.referral_id else None,
        "organization_id": str(event.organization_id) if event.organization_id else None}}
    timeline.append(record)
    new_status: Status | None = None
    passed_through: Status | None = None

    if event.type == "referral.sent":
        kind = str(event.data.get("kind", "service"))
        if kind == "prosecution" and status == Status.SCREENED:
            new_status = Status.REFERRED_TO_PROSECUTION
    elif event.type == "referral.decision_recorded":
        try:
            decision = event.decision()
        except ValidationError as exc:
            raise InvalidInput("The decision in the event is not valid.") from exc
        if decision.concerns == "adult" and decision.adult_id is None:
            raise InvalidInput("A decision concerning an adult names the adult_id.")
        measure_id = uuid.uuid4()
        await repo.insert_measure(session, {
            "id": measure_id, "case_id": event.case_id, "referral_id": event.referral_id,
            "decision_id": decision.decision_id, "source_event_id": event.id, "decision_type": decision.type,
            "concerns": decision.concerns, "adult_id": decision.adult_id, "decided_at": decision.decided_at,
            "reference": decision.reference,
            "active": decision.concerns == "child" and decision.type in LASTING_DECISIONS})
        record["data"]["judicial_measure_id"] = str(measure_id)
        if decision.concerns == "child":
            lifts = decision.lifts_decision_ids
            if decision.type == "return_to_family" and lifts is None:
                # Returning the child home lifts every lasting measure unless the decision names which.
                await repo.lift_measures(session, case_id=event.case_id, lifted_by=measure_id, decision_ids=None)
            elif lifts:
                await repo.lift_measures(session, case_id=event.case_id, lifted_by=measure_id, decision_ids=lifts)
            if status == Status.REFERRED_TO_PROSECUTION:
                new_status = Status.INTERIM_MEASURE
            elif status == Status.SCREENED and event.data.get("kind") == "prosecution":
                # Screened after the referral was sent: the decision proves the referral, take both steps.
                passed_through = Status.REFERRED_TO_PROSECUTION
                new_status = Status.INTERIM_MEASURE

    if new_status is not None:
        await core_repo.update_case(session, event.case_id, expected_version=None, values={"status": new_status.value})
        steps = [status, passed_through, new_status] if passed_through else [status, new_status]
        for source, target in itertools.pairwise(steps):
            assert source is not None and target is not None
            timeline.append({**base, "event_type": "case.status_changed", "from_status": source.value,
                             "to_status": target.value, "data": {"cause": event.type}})
    await core_repo.add_events(session, timeline)
    await core_repo.write_audit(session, [AuditEntry(action=f"event.{event.type}", object_type="case",
                                                object_id=str(event.case_id), case_id=event.case_id,
                                                fields=sorted(f"case.{k}" for k in ("status", "access")
                                                              if k == "access" or new_status))],
                           principal=None, actor=event.actor, organization_id=event.organization_id)
    return "processed"


def _jsonable(value: Any) -> Any:
    if isinstance(value, (str, int, float, bool)) or value is None:
        return value
    if isinstance(value, list):
        return [_jsonable(v) for v in value]
    return str(value)


def referral_sequence(data: dict[str, Any]) -> int:
    """The referral's version carried by one of its events; 422 when missing (it orders the grant's changes)."""
    sequence = data.get("sequence")
    if isinstance(sequence, bool) or not isinstance(sequence, int) or sequence < 1:
        raise InvalidInput("A referral event carries data.sequence, the referral's version (an integer >= 1).")
    return sequence


async def apply_referral_event(ctx: EventContext, *, event_type: str, case_id: uuid.UUID,
                               organization_id: uuid.UUID, referral_id: uuid.UUID, kind: str, sequence: int,
                               at: datetime) -> bool:
    """Bring the referral's grant to the referral's state at `sequence`; False when a newer event was applied."""
    grant_kind = "prosecution" if kind == "prosecution" else "service"
    return await repo.apply_referral_grant(
        ctx.session, case_id=case_id, organization_id=organization_id, referral_id=referral_id, kind=grant_kind,
        sequence=sequence, active=event_type not in ENDING_REFERRAL_EVENTS,
        expires_at=at + ctx.lifetimes.of(grant_kind))


async def grant_reporter(ctx: Context, *, case_ids: list[uuid.UUID], organization_id: uuid.UUID,
                         intake_id: uuid.UUID, at: datetime) -> None:
    """The organisation that recorded the intake keeps seeing its cases until they close or the grant expires."""
    for case_id in case_ids:
        await repo.insert_reporter_grant(ctx.session, case_id=case_id, organization_id=organization_id,
                                         intake_id=intake_id, expires_at=at + ctx.lifetimes.reporter)


async def end_reporter_grants(ctx: Context, *, case_id: uuid.UUID) -> int:
    """A closed case's reporters lose access (the referrals' grants end with their referrals)."""
    return await repo.revoke_reporter_grants(ctx.session, case_id=case_id)
