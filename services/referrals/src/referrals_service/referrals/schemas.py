"""API models of referrals and prosecutor decisions."""

from __future__ import annotations

import uuid
from datetime import datetime
from typing import Annotated

from pydantic import AwareDatetime, BaseModel, ConfigDict, Field, StringConstraints

from himaya.text import NO_NUL
from referrals_service.core.enums import (
    Concerns,
    DecisionType,
    EventType,
    ReferralKind,
    ReferralStatus,
    ServiceType,
    Urgency,
)

ShortText = Annotated[str, StringConstraints(strip_whitespace=True, min_length=1, max_length=2000, pattern=NO_NUL)]
Reference = Annotated[str, StringConstraints(strip_whitespace=True, min_length=1, max_length=100, pattern=NO_NUL)]


class RequestModel(BaseModel):
    """Base of request bodies: unknown fields are rejected (no mass assignment)."""

    model_config = ConfigDict(extra="forbid")


class ReferralCreate(RequestModel):
    """A referral of a case to a prosecution office or a service provider."""

    case_id: uuid.UUID
    target_organization_id: uuid.UUID
    kind: ReferralKind
    reason: ShortText
    urgency: Urgency = Urgency.ROUTINE
    service_type: ServiceType | None = Field(default=None, description="Required for `service`, absent otherwise.")


class ReferralAcknowledge(RequestModel):
    """The receiver has the referral; a prosecution office gives its own file number."""

    external_reference: Reference | None = Field(
        default=None, description="The receiver's file number; required for a prosecution referral.")


class ReferralReason(RequestModel):
    """A reason: for rejecting or cancelling a referral."""

    reason: ShortText


class ReferralOutcome(RequestModel):
    """How a referral ended (complete, close)."""

    outcome: ShortText


class ReferralAccept(RequestModel):
    """A service provider takes the referral on."""

    note: ShortText | None = None


class DecisionCreate(RequestModel):
    """A prosecutor's decision on a prosecution referral."""

    type: DecisionType
    concerns: Concerns
    adult_id: uuid.UUID | None = Field(default=None, description="The case's adult; required when concerns=adult.")
    legal_basis: Annotated[str, StringConstraints(strip_whitespace=True, max_length=500, pattern=NO_NUL)] | None = None
    decided_at: AwareDatetime
    notes: ShortText | None = None


class DecisionRead(BaseModel):
    """A recorded prosecutor decision."""

    id: uuid.UUID
    referral_id: uuid.UUID
    type: DecisionType
    concerns: Concerns
    adult_id: uuid.UUID | None
    legal_basis: str | None
    decided_at: datetime
    notes: str | None
    recorded_by: str
    created_at: datetime


class CaseSnapshot(BaseModel):
    """What the receiver needs to know about the case, and nothing more (no names, no narrative)."""

    case_number: str | None
    court_code: str | None
    commune_code: str | None
    age_band: str
    sex: str | None
    exploitation_pattern: str | None
    summary: str


class HistoryEntry(BaseModel):
    """One step of a referral's history."""

    event_type: EventType
    from_status: ReferralStatus | None
    to_status: ReferralStatus
    actor: str
    actor_organization_id: uuid.UUID | None
    note: str | None
    occurred_at: datetime


class ReferralRead(BaseModel):
    """A referral as its sender and receiver see it."""

    id: uuid.UUID
    case_id: uuid.UUID
    kind: ReferralKind
    status: ReferralStatus
    sender_organization_id: uuid.UUID
    target_organization_id: uuid.UUID
    target_organization_type: str
    reason: str
    urgency: Urgency
    service_type: ServiceType | None
    snapshot: CaseSnapshot
    external_reference: str | None
    outcome: str | None
    rejection_reason: str | None
    cancellation_reason: str | None
    created_by: str
    created_at: datetime
    updated_at: datetime
    closed_at: datetime | None
    version: int


class ReferralDetail(ReferralRead):
    """A referral with its decisions and history (GET /v1/referrals/{id})."""

    decisions: list[DecisionRead]
    history: list[HistoryEntry]


class ReferralPage(BaseModel):
    """A page of referrals, oldest change first; `poll_cursor` resumes after the last change seen."""

    items: list[ReferralRead]
    next_cursor: str | None = Field(description="The next page, or null on the last page.")
    poll_cursor: str = Field(description="Pass as `cursor` on the next poll to receive only later changes.")
