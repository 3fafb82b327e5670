"""The event documents referrals sends to cases (decision 0004), defined once for both services.

Referrals builds every event of a referral with `referral_event` (its `data` is a `ReferralEventData`, plus a
`DecisionData` for `referral.decision_recorded`); the outbox stores and delivers the JSON of that document, and
cases reads it back with `ServiceEvent` and `DecisionData`. The round-trip test in `shared/tests/test_events.py`
checks that what referrals writes is what cases reads. The vocabulary of the documents (event types, referral
kinds and states, decision types, whom a decision concerns) lives here too, so both services use one definition.

Times are written as `datetime.isoformat()` in UTC (`+00:00`), as the events have always been written.
"""

from __future__ import annotations

import uuid
from datetime import UTC, datetime
from enum import StrEnum
from typing import Annotated, Any, Literal

from pydantic import BaseModel, ConfigDict, Field, PlainSerializer


class EventType(StrEnum):
    """Events a referral emits (to cases and to webhook subscribers)."""

    SENT = "referral.sent"
    ACKNOWLEDGED = "referral.acknowledged"
    DECISION_RECORDED = "referral.decision_recorded"
    ACCEPTED = "referral.accepted"
    REJECTED = "referral.rejected"
    COMPLETED = "referral.completed"
    CANCELLED = "referral.cancelled"
    CLOSED = "referral.closed"


CASE_STATUS_CHANGED = "case.status_changed"
"""A case's own timeline event type, also accepted by cases' event endpoint."""


class ReferralKind(StrEnum):
    """To a prosecution office, or to a service provider."""

    PROSECUTION = "prosecution"
    SERVICE = "service"


class ReferralStatus(StrEnum):
    """States of a referral."""

    SENT = "sent"
    ACKNOWLEDGED = "acknowledged"
    ACCEPTED = "accepted"
    COMPLETED = "completed"
    REJECTED = "rejected"
    CANCELLED = "cancelled"
    DECIDED = "decided"
    CLOSED = "closed"


class DecisionType(StrEnum):
    """Prosecutor decisions."""

    RETURN_TO_FAMILY = "return_to_family"
    EMERGENCY_PLACEMENT = "emergency_placement"
    PLACEMENT_TRUSTED_PERSON = "placement_trusted_person"
    REFER_JUVENILE_JUDGE = "refer_juvenile_judge"
    MEDICAL_CARE_ORDER = "medical_care_order"
    CIVIL_STATUS_REGULARISATION = "civil_status_regularisation"
    DNA_EXPERTISE_ORDER = "dna_expertise_order"
    OPEN_INVESTIGATION = "open_investigation"
    PROSECUTE_ADULT = "prosecute_adult"
    NO_FURTHER_ACTION_ADULT = "no_further_action_adult"
    REFER_TRAFFICKING_MECHANISM = "refer_trafficking_mechanism"


class Concerns(StrEnum):
    """Whom a decision concerns."""

    CHILD = "child"
    ADULT = "adult"


def _iso_utc(moment: datetime) -> str:
    return (moment if moment.tzinfo else moment.replace(tzinfo=UTC)).astimezone(UTC).isoformat()


EventTime = Annotated[datetime, PlainSerializer(_iso_utc, return_type=str, when_used="json")]
"""A time of an event document, written in UTC with `isoformat()`."""


class ReferralEventData(BaseModel):
    """The `data` every referral event carries: the referral's state after the change.

    `sequence` is the referral's version: it orders a referral's events (cases never lets an older event undo
    a newer one; the outbox delivers a referral's events in this order). `reason` and `outcome` are set by the
    changes that have them (sent, rejected, cancelled; completed, closed), even when null.
    """

    model_config = ConfigDict(extra="ignore")

    kind: ReferralKind
    status: ReferralStatus
    open: bool
    sequence: int = Field(ge=1)
    sender_organization_id: uuid.UUID
    target_organization_id: uuid.UUID
    target_organization_type: str
    urgency: str
    service_type: str | None
    external_reference: str | None
    reason: str | None = None
    outcome: str | None = None


class DecisionData(BaseModel):
    """The decision in the `data` of a `referral.decision_recorded` event (next to the referral's state)."""

    model_config = ConfigDict(extra="ignore")

    decision_id: uuid.UUID | None = None
    type: DecisionType
    concerns: Concerns
    adult_id: uuid.UUID | None = None
    legal_basis: str | None = None
    decided_at: EventTime
    reference: str | None = Field(default=None, max_length=200)
    lifts_decision_ids: list[uuid.UUID] | None = None


class ServiceEvent(BaseModel):
    """The envelope of an event sent between services (decision 0004); `data` depends on the type."""

    model_config = ConfigDict(extra="ignore")

    id: uuid.UUID
    type: EventType | Literal["case.status_changed"]
    occurred_at: EventTime
    case_id: uuid.UUID
    referral_id: uuid.UUID | None = None
    organization_id: uuid.UUID | None = None
    actor: str = Field(min_length=1, max_length=200)
    data: dict[str, Any] = Field(default_factory=dict)

    def referral_data(self) -> ReferralEventData:
        """The referral's state this event carries (ValidationError when it does not carry one)."""
        return ReferralEventData.model_validate(self.data)

    def decision(self) -> DecisionData:
        """The decision of a `referral.decision_recorded` event (ValidationError when it is not valid)."""
        return DecisionData.model_validate(self.data)


def referral_event(*, event_id: uuid.UUID, event_type: EventType, occurred_at: datetime,
                   case_id: uuid.UUID, referral_id: uuid.UUID, organization_id: uuid.UUID, actor: str,
                   data: ReferralEventData, decision: DecisionData | None = None) -> ServiceEvent:
    """A referral's event: the envelope addressed to the receiving organisation, the referral's state, and the
    decision of a `referral.decision_recorded` event. Fields of `data` and `decision` left unset stay out of
    the document."""
    document = data.model_dump(mode="json", exclude_unset=True)
    if decision is not None:
        document.update(decision.model_dump(mode="json", exclude_unset=True))
    return ServiceEvent(id=event_id, type=event_type, occurred_at=occurred_at, case_id=case_id,
                        referral_id=referral_id, organization_id=organization_id, actor=actor, data=document)


def event_document(event: ServiceEvent) -> dict[str, Any]:
    """The JSON document of an event, as stored in an outbox and sent."""
    return event.model_dump(mode="json")
