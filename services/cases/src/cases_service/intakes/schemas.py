"""Request and response models of outings and intakes (the children and adults an intake records)."""

from __future__ import annotations

import uuid
from datetime import date, datetime

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
    RequestModel,
    ResponseModel,
    ShortText,
    TerritoryCode,
    Text,
)


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
