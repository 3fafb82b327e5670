"""Request and response models of casework records: filiation, assessments, care plans, services,
follow-ups, placements and institutions."""

from __future__ import annotations

import uuid
from datetime import date, datetime

from pydantic import Field, model_validator

from cases_service.core.enums import (
    AssessmentType,
    Beneficiary,
    FiliationMethod,
    FiliationResult,
    Relationship,
    ServiceStatus,
    ServiceType,
)
from cases_service.core.schemas import RequestModel, ResponseModel, ShortText, TerritoryCode, Text


class FiliationCheckCreate(RequestModel):
    """A check of whether the adult is who they claim to be to the child."""

    adult_id: uuid.UUID
    claimed_relationship: Relationship
    methods: list[FiliationMethod] = Field(min_length=1, max_length=4)
    dna_order_reference: ShortText | None = None
    result: FiliationResult = "pending"
    notes: Text | None = None

    @model_validator(mode="after")
    def _dna_needs_order(self) -> FiliationCheckCreate:
        if "dna_expertise" in self.methods and not self.dna_order_reference:
            raise ValueError("the dna_expertise method needs dna_order_reference")
        if len(set(self.methods)) != len(self.methods):
            raise ValueError("methods must not repeat")
        return self


class FiliationCheckUpdate(RequestModel):
    """Record the outcome of a filiation check."""

    result: FiliationResult
    notes: Text | None = None


class FiliationCheckRead(ResponseModel):
    """A filiation check's conclusion (what callers without filiation:details see)."""

    id: uuid.UUID
    case_id: uuid.UUID
    adult_id: uuid.UUID
    claimed_relationship: str
    result: str
    created_at: datetime
    updated_at: datetime
    version: int


class FiliationCheckDetailRead(FiliationCheckRead):
    """A filiation check with its methods and DNA order (police and prosecution)."""

    methods: list[str]
    dna_order_reference: str | None
    dna_order_measure_id: uuid.UUID | None
    notes: str | None


class AssessmentCreate(RequestModel):
    """An assessment of the child; `completed` when its conclusions are recorded."""

    type: AssessmentType
    completed: bool = False
    summary: Text | None = None


class AssessmentRead(ResponseModel):
    """An assessment without its content: what callers without health:details see of a medical or
    psychological one (need-to-know)."""

    id: uuid.UUID
    case_id: uuid.UUID
    type: str
    status: str
    completed_at: datetime | None
    created_at: datetime


class AssessmentDetailRead(AssessmentRead):
    """An assessment with its summary (health assessments only with health:details)."""

    summary: str | None


AnyAssessmentRead = AssessmentDetailRead | AssessmentRead


class CarePlanCreate(RequestModel):
    """A care plan (a draft until the team coordinator validates it)."""

    objectives: Text


class CarePlanRead(ResponseModel):
    """A care plan."""

    id: uuid.UUID
    case_id: uuid.UUID
    objectives: str | None
    status: str
    validated_by: str | None
    validated_at: datetime | None
    created_at: datetime


class ServiceCreate(RequestModel):
    """A service to the child or the mother."""

    beneficiary: Beneficiary
    service_type: ServiceType
    provider_organization_id: uuid.UUID | None = None
    status: ServiceStatus = "proposed"
    notes: Text | None = None


class ServiceUpdate(RequestModel):
    """A change of a service's status (If-Match required)."""

    status: ServiceStatus
    notes: Text | None = None


class ServiceRead(ResponseModel):
    """A service delivery."""

    id: uuid.UUID
    case_id: uuid.UUID
    beneficiary: str
    service_type: str
    provider_organization_id: uuid.UUID | None
    status: str
    notes: str | None
    created_at: datetime
    updated_at: datetime
    version: int


class FollowUpCreate(RequestModel):
    """A follow-up visit."""

    visited_at: datetime
    child_seen: bool
    attending_school: bool | None = None
    begging_observed: bool = False
    next_visit_due: date | None = None
    notes: Text | None = None


class FollowUpRead(ResponseModel):
    """A follow-up visit."""

    id: uuid.UUID
    case_id: uuid.UUID
    visited_at: datetime
    child_seen: bool
    attending_school: bool | None
    begging_observed: bool
    next_visit_due: date | None
    notes: str | None
    created_at: datetime


class InstitutionCreate(RequestModel):
    """A social-protection institution (EPS) and its capacity."""

    organization_id: uuid.UUID
    name: ShortText
    prefecture_code: TerritoryCode
    places: int = Field(ge=0, le=10000)
    emergency_vacancies: int = Field(default=0, ge=0, le=10000)


class InstitutionUpdate(RequestModel):
    """New capacity figures (If-Match required)."""

    places: int | None = Field(default=None, ge=0, le=10000)
    emergency_vacancies: int | None = Field(default=None, ge=0, le=10000)


class InstitutionRead(ResponseModel):
    """An institution with its capacity and current occupancy."""

    id: uuid.UUID
    organization_id: uuid.UUID
    name: str
    prefecture_code: str
    places: int
    emergency_vacancies: int
    occupied: int
    version: int
    updated_at: datetime


class PlacementCreate(RequestModel):
    """Place the child in an institution, under a prosecutor's order recorded on the case."""

    institution_id: uuid.UUID
    order_measure_id: uuid.UUID
    started_at: datetime


class PlacementRead(ResponseModel):
    """A placement."""

    id: uuid.UUID
    case_id: uuid.UUID
    institution_id: uuid.UUID
    organization_id: uuid.UUID
    order_measure_id: uuid.UUID
    emergency: bool
    started_at: datetime
    ended_at: datetime | None


class JudicialMeasureRead(ResponseModel):
    """A prosecutor decision recorded on the case (from referrals)."""

    id: uuid.UUID
    referral_id: uuid.UUID | None
    decision_type: str
    concerns: str
    adult_id: uuid.UUID | None
    decided_at: datetime
    reference: str | None
    active: bool
    lifted_at: datetime | None
