"""Request and response models of cases, their child, adults, path and timeline."""

from __future__ import annotations

import uuid
from datetime import date, datetime
from typing import Any

from pydantic import Field

from cases_service.core.enums import (
    CaseStatus,
    RiskLevel,
)
from cases_service.core.schemas import (
    PersonNames,
    RequestModel,
    ResponseModel,
    ShortText,
    TerritoryCode,
    Text,
)
from cases_service.intakes.schemas import AdultCreate

# ---- children, adults and cases -----------------------------------------------------------------------


class IntakeSummary(ResponseModel):
    """The encounter a case was opened from (the narrative is not part of it)."""

    id: uuid.UUID
    reported_at: datetime
    source: str
    place_type: str
    night: bool
    exploitation_pattern: str
    outing_id: uuid.UUID | None = None


class ChildRead(ResponseModel):
    """A child; `names` and the identifying fields only for callers who may see names."""

    id: uuid.UUID
    sex: str
    birth_date: date | None
    estimated_age_years: float | None
    age_years: float | None = None
    age_at_intake_years: float | None = None
    nationality: str | None
    civil_status_registered: bool | None = None
    schooling: str
    disability: bool | None = None
    names: PersonNames | None = None
    description: str | None = None
    birth_act_reference: str | None = None


class CaseSummary(ResponseModel):
    """A case in a list."""

    id: uuid.UUID
    case_number: str
    status: CaseStatus
    commune_code: str
    prefecture_code: str
    court_code: str
    risk_level: RiskLevel | None
    trafficking_suspected: bool
    opened_at: datetime
    closed_at: datetime | None
    repeat_of_case_id: uuid.UUID | None
    child: ChildRead


class CaseRead(CaseSummary):
    """A case with its child, intake, status, risk and assignment (ETag header carries its version)."""

    region_code: str
    suspended_from_status: CaseStatus | None
    lead_organization_id: uuid.UUID | None
    case_manager_id: uuid.UUID | None
    transferred_from_case_id: uuid.UUID | None
    transferred_to_case_id: uuid.UUID | None
    intake: IntakeSummary
    sibling_case_ids: list[uuid.UUID]
    allowed_transitions: list[CaseStatus]
    version: int


class CaseUpdate(RequestModel):
    """Fields a caseworker may change on a case (status moves through transitions only)."""

    risk_level: RiskLevel | None = None
    trafficking_suspected: bool | None = None
    case_manager_id: uuid.UUID | None = None
    lead_organization_id: uuid.UUID | None = None
    court_code: ShortText | None = None


class TransitionCreate(RequestModel):
    """Move a case: `to` a state, with a `reason` where the step needs one."""

    to: CaseStatus
    reason: Text | None = None
    commune_code: TerritoryCode | None = Field(
        default=None, description="For `transferred_out`: the commune (in another prefecture) the child moves to.")


class TransitionRead(ResponseModel):
    """The result of a transition; `opened_case_id` is the linked case a transfer opened."""

    case_id: uuid.UUID
    from_status: CaseStatus
    status: CaseStatus
    version: int
    opened_case_id: uuid.UUID | None = None


class TimelineEvent(ResponseModel):
    """One change of a case, in order."""

    id: int
    occurred_at: datetime
    actor: str
    event_type: str
    from_status: str | None
    to_status: str | None
    data: dict[str, Any]
    reason: str | None = None


class AdultRead(ResponseModel):
    """An accompanying adult as caseworkers without a filiation role see them: no ID number, no offence data."""

    id: uuid.UUID
    full_name: str | None
    names: PersonNames | None
    sex: str | None
    age: int | None
    nationality: str | None
    claimed_relationship: str


class AdultIdentityRead(AdultRead):
    """An adult with the CNIE number, for those who check filiation (police, CAPE case managers, prosecution)."""

    cnie: str | None


class AdultOffenceRead(AdultIdentityRead):
    """An accompanying adult with offence-related data (police and prosecution only)."""

    suspected_offender: bool
    offence_notes: str | None
    judicial_measures: list[dict[str, Any]]


AnyAdultRead = AdultOffenceRead | AdultIdentityRead | AdultRead


class AdultLink(RequestModel):
    """Add an adult to a case: a new adult."""

    adult: AdultCreate


class ChildWithCases(ChildRead):
    """A child across their cases (only the cases the caller may see)."""

    cases: list[CaseSummary]
