"""himaya.events: the event documents referrals writes are the documents cases reads."""

import uuid
from datetime import UTC, datetime, timedelta, timezone

import orjson
import pytest
from pydantic import ValidationError

from himaya.events import (
    Concerns,
    DecisionData,
    DecisionType,
    EventType,
    ReferralEventData,
    ReferralKind,
    ReferralStatus,
    ServiceEvent,
    event_document,
    referral_event,
)

SENDER, TARGET = uuid.uuid4(), uuid.uuid4()


def _state(**changes: object) -> ReferralEventData:
    values: dict[str, object] = {
        "kind": ReferralKind.PROSECUTION, "status": ReferralStatus.DECIDED, "open": True, "sequence": 3,
        "sender_organization_id": SENDER, "target_organization_id": TARGET,
        "target_organization_type": "prosecution_office", "urgency": "urgent", "service_type": None,
        "external_reference": "PR-2026-114", **changes}
    return ReferralEventData.model_validate(values)


def _wire(event: ServiceEvent) -> bytes:
    return orjson.dumps(event_document(event))


def test_a_decision_event_round_trips_from_referrals_to_cases() -> None:
    decided = datetime(2026, 11, 30, 10, 15, tzinfo=timezone(timedelta(hours=1)))
    decision = DecisionData(decision_id=uuid.uuid4(), type=DecisionType.PROSECUTE_ADULT, concerns=Concerns.ADULT,
                            adult_id=uuid.uuid4(), legal_basis="art. 327-1", decided_at=decided,
                            reference="PR-2026-114")
    built = referral_event(event_id=uuid.uuid4(), event_type=EventType.DECISION_RECORDED,
                           occurred_at=datetime(2026, 11, 30, 9, 0, tzinfo=UTC), case_id=uuid.uuid4(),
                           referral_id=uuid.uuid4(), organization_id=TARGET, actor="user:prosecutor",
                           data=_state(), decision=decision)
    received = ServiceEvent.model_validate_json(_wire(built))
    assert received == built
    assert received.decision() == decision
    assert received.referral_data() == _state()
    assert received.referral_data().sequence == 3
    # Times are written in UTC as isoformat() has always written them.
    document = orjson.loads(_wire(built))
    assert document["data"]["decided_at"] == "2026-11-30T09:15:00+00:00"
    assert document["occurred_at"] == "2026-11-30T09:00:00+00:00"


def test_fields_a_change_does_not_set_stay_out_and_nulls_it_sets_stay_in() -> None:
    accepted = referral_event(event_id=uuid.uuid4(), event_type=EventType.ACCEPTED, occurred_at=datetime.now(UTC),
                              case_id=uuid.uuid4(), referral_id=uuid.uuid4(), organization_id=TARGET,
                              actor="user:x", data=_state(kind=ReferralKind.SERVICE, status=ReferralStatus.ACCEPTED,
                                                          service_type="medical"))
    closed = referral_event(event_id=uuid.uuid4(), event_type=EventType.CLOSED, occurred_at=datetime.now(UTC),
                            case_id=uuid.uuid4(), referral_id=uuid.uuid4(), organization_id=TARGET, actor="user:x",
                            data=_state(status=ReferralStatus.CLOSED, open=False, outcome=None))
    assert "reason" not in accepted.data and "outcome" not in accepted.data and "type" not in accepted.data
    assert "outcome" in closed.data and closed.data["outcome"] is None
    assert list(accepted.data)[:4] == ["kind", "status", "open", "sequence"]
    for event in (accepted, closed):
        assert ServiceEvent.model_validate_json(_wire(event)) == event


def test_cases_refuses_what_it_could_never_apply() -> None:
    body = {"id": str(uuid.uuid4()), "type": "referral.unknown", "occurred_at": datetime.now(UTC).isoformat(),
            "case_id": str(uuid.uuid4()), "actor": "user:x", "data": {}}
    with pytest.raises(ValidationError):
        ServiceEvent.model_validate_json(orjson.dumps(body))
    event = ServiceEvent.model_validate_json(orjson.dumps({**body, "type": "referral.decision_recorded", "data": {
        "type": "not_a_decision", "concerns": "child", "decided_at": datetime.now(UTC).isoformat()}}))
    with pytest.raises(ValidationError):
        event.decision()
    with pytest.raises(ValidationError):
        _state(sequence=0)

