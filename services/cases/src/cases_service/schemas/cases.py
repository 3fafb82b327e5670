"""Request and response models of outings, intakes, children, adults, cases and the timeline."""

from __future__ import annotations

import uuid
from datetime import date, datetime
from typing import Any

from pydantic import Field, model_validator

from cases_service.core.enums import (
    CaseStatus,
    ExploitationPattern,
    PlaceType,
    Relationship,
    RiskLevel,
    Schooling,
    Sex,
    Source,
)
from cases_service.core.schemas import (
    AgeYears,
    Name,
    Nationality,
    PersonNames,
    RequestModel,
    ResponseModel,
    ShortText,
    TerritoryCode,
    Text,
)

# ---- outings -------------------------------------------------------------------------------------------


class OutingCreate(RequestModel):
    """A field team's patrol."""

    field_team_id: uuid.UUID
    started_at: datetime
    ended_at: datetime | None = None
    commune_code: TerritoryCode
    members_present: list[uuid.UUID] = Field(default_factory=list, max_length=50)

    @model_validator(mode="after")
    def _ends_after_start(self) -> OutingCreate:
        if self.ended_at is not None and self.ended_at < self.started_at:
            raise ValueError("ended_at must not be before started_at")
        return self


class OutingRead(ResponseModel):
    """A field team's patrol, with how many intakes it recorded."""

    id: uuid.UUID
    field_team_id: uuid.UUID
    started_at: datetime
    ended_at: datetime | None
    commune_code: str
    prefecture_code: str
    members_present: list[uuid.UUID]
    intake_count: int = 0
    created_at: datetime


# ---- intakes -------------------------------------------------------------------------------------------


class ChildCreate(RequestModel):
    """A child met at an encounter: a new child (names or a description) or an existing `child_id`."""

    child_id: uuid.UUID | None = None
    first_name: Name | None = None
    last_name: Name | None = None
    first_name_ar: Name | None = None
    last_name_ar: Name | None = None
    description: Text | None = None
    sex: Sex | None = None
    birth_date: date | None = None
    estimated_age_years: AgeYears | None = None
    nationality: Nationality | None = None
    civil_status_registered: bool | None = None
    birth_act_reference: ShortText | None = None
    schooling: Schooling | None = None
    disability: bool | None = None
    risk_level: RiskLevel | None = None
    trafficking_suspected: bool = False

    @model_validator(mode="after")
    def _new_or_existing(self) -> ChildCreate:
        details = self.model_dump(exclude={"child_id", "risk_level", "trafficking_suspected"}, exclude_none=True)
        if self.child_id is not None:
            if details:
                raise ValueError("an existing child (child_id) takes no other child fields")
            return self
        if not any((self.first_name, self.last_name, self.first_name_ar, self.last_name_ar, self.description)):
            raise ValueError("a new child needs at least one name or a description")
        if self.sex is None:
            raise ValueError("a new child needs sex")
        if self.birth_date is None and self.estimated_age_years is None:
            raise ValueError("a new child needs birth_date or estimated_age_years")
        return self


class AdultCreate(RequestModel):
    """An accompanying adult; `claimed_relationship` is what the adult says they are to the children."""

    first_name: Name | None = None
    last_name: Name | None = None
    first_name_ar: Name | None = None
    last_name_ar: Name | None = None
    sex: Sex | None = None
    age: int | None = Field(default=None, ge=12, le=120)
    cnie: ShortText | None = None
    nationality: Nationality | None = None
    claimed_relationship: Relationship = "unknown"
    suspected_offender: bool = False
    offence_notes: Text | None = None


class IntakeCreate(RequestModel):
    """An encounter with one or more children (one case each) and the adults with them."""

    reported_at: datetime
    source: Source
    commune_code: TerritoryCode
    court_code: ShortText | None = None
    outing_id: uuid.UUID | None = None
    place_type: PlaceType
    night: bool = False
    exploitation_pattern: ExploitationPattern
    narrative: Text | None = None
    children: list[ChildCreate] = Field(min_length=1, max_length=20)
    adults: list[AdultCreate] = Field(default_factory=list, max_length=20)

    @model_validator(mode="after")
    def _children_distinct(self) -> IntakeCreate:
        ids = [c.child_id for c in self.children if c.child_id is not None]
        if len(ids) != len(set(ids)):
            raise ValueError("a child appears twice in children")
        return self


class DuplicateCandidate(ResponseModel):
    """A child already known that may be the same as a child of this intake."""

    child_id: uuid.UUID
    score: float
    case_ids: list[uuid.UUID]


class IntakeCaseRead(ResponseModel):
    """A case opened by an intake."""

    id: uuid.UUID
    case_number: str
    child_id: uuid.UUID
    status: CaseStatus
    repeat_of_case_id: uuid.UUID | None
    duplicate_candidates: list[DuplicateCandidate]


class IntakeRead(ResponseModel):
    """An encounter and the cases it opened."""

    id: uuid.UUID
    reported_at: datetime
    source: str
    commune_code: str
    prefecture_code: str
    court_code: str
    outing_id: uuid.UUID | None
    place_type: str
    night: bool
    exploitation_pattern: str
    narrative: str | None = None
    cases: list[IntakeCaseRead]
    adult_ids: list[uuid.UUID]


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
