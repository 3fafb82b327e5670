"""The events referrals writes to its outbox are the events cases parses (one model, himaya.events)."""

import uuid
from datetime import UTC, datetime

import orjson

from cases_service.decisions.service import parse_event
from himaya.events import DecisionData, ServiceEvent
from referrals_service.core.enums import Concerns, DecisionType, EventType
from referrals_service.delivery.service import event_body
from referrals_service.referrals.records import Referral

NOW = datetime.now(UTC)
REFERRAL = Referral(id=uuid.uuid4(), case_id=uuid.uuid4(), kind="prosecution", status="decided", version=4,
                    sender_organization_id=uuid.uuid4(), target_organization_id=uuid.uuid4(),
                    target_organization_type="prosecution_office", reason="r", urgency="urgent", service_type=None,
                    snapshot={}, external_reference="PR-77", outcome=None, rejection_reason=None,
                    cancellation_reason=None, created_by="user:s", created_at=NOW, updated_at=NOW, closed_at=None,
                    change_seq=9)


def test_referrals_decision_event_is_what_cases_reads() -> None:
    decision = DecisionData(decision_id=uuid.uuid4(), type=DecisionType.EMERGENCY_PLACEMENT,
                            concerns=Concerns.CHILD, legal_basis="art. 471", decided_at=datetime.now(UTC),
                            reference="PR-77")
    body = event_body(REFERRAL, EventType.DECISION_RECORDED, actor="user:p", event_id=uuid.uuid4(),
                      decision=decision)
    parsed = parse_event(orjson.dumps(body))
    assert isinstance(parsed, ServiceEvent)
    assert parsed.model_dump(mode="json") == body
    assert parsed.decision() == decision
    assert parsed.referral_data().sequence == 4 and parsed.organization_id == REFERRAL.target_organization_id


def test_every_state_change_event_parses_with_its_texts() -> None:
    for event_type, data in ((EventType.SENT, {"reason": "r"}), (EventType.CANCELLED, {"reason": "c"}),
                             (EventType.COMPLETED, {"outcome": "o"}), (EventType.CLOSED, {"outcome": None}),
                             (EventType.ACKNOWLEDGED, None)):
        body = event_body(REFERRAL, event_type, actor="user:p", event_id=uuid.uuid4(), data=data)
        parsed = parse_event(orjson.dumps(body))
        assert parsed.type == event_type and parsed.model_dump(mode="json") == body
        assert parsed.referral_data().model_dump(exclude_unset=True).keys() >= (data or {}).keys()
