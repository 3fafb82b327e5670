"""Typed records of casework: what the repository returns, free texts already opened (or None when the caller
may not read them)."""

from __future__ import annotations

import uuid
from dataclasses import dataclass
from datetime import date, datetime


@dataclass(frozen=True)
class FiliationCheck:
    """A filiation check (`dna_order_reference` and `notes` opened only when asked, else None)."""

    id: uuid.UUID
    case_id: uuid.UUID
    adult_id: uuid.UUID
    claimed_relationship: str
    methods: list[str]
    dna_order_reference: str | None
    dna_order_measure_id: uuid.UUID | None
    result: str
    notes: str | None
    created_by: str
    version: int
    updated_at: datetime
    created_at: datetime


@dataclass(frozen=True)
class Assessment:
    """An assessment (`summary` opened only when asked, else None)."""

    id: uuid.UUID
    case_id: uuid.UUID
    type: str
    status: str
    completed_at: datetime | None
    summary: str | None
    created_by: str
    created_at: datetime


@dataclass(frozen=True)
class CarePlan:
    """A care plan (`objectives` opened only when asked, else None)."""

    id: uuid.UUID
    case_id: uuid.UUID
    objectives: str | None
    status: str
    validated_by: str | None
    validated_at: datetime | None
    created_by: str
    created_at: datetime


@dataclass(frozen=True)
class ServiceDelivery:
    """A service to the child or the mother (`notes` opened only when asked, else None)."""

    id: uuid.UUID
    case_id: uuid.UUID
    beneficiary: str
    service_type: str
    provider_organization_id: uuid.UUID | None
    status: str
    notes: str | None
    created_by: str
    version: int
    updated_at: datetime
    created_at: datetime


@dataclass(frozen=True)
class FollowUp:
    """A follow-up visit (`notes` opened only when asked, else None)."""

    id: uuid.UUID
    case_id: uuid.UUID
    visited_at: datetime
    child_seen: bool
    attending_school: bool | None
    begging_observed: bool
    next_visit_due: date | None
    notes: str | None
    created_by: str
    created_at: datetime


@dataclass(frozen=True)
class Placement:
    """A placement of the child in an institution."""

    id: uuid.UUID
    case_id: uuid.UUID
    institution_id: uuid.UUID
    organization_id: uuid.UUID
    order_measure_id: uuid.UUID
    emergency: bool
    started_at: datetime
    ended_at: datetime | None
    created_by: str
    created_at: datetime


@dataclass(frozen=True)
class Institution:
    """An institution (EPS) with its capacity and current occupancy."""

    id: uuid.UUID
    organization_id: uuid.UUID
    name: str
    prefecture_code: str
    places: int
    emergency_vacancies: int
    version: int
    updated_at: datetime
    created_at: datetime
    occupied: int


@dataclass(frozen=True)
class JudicialMeasure:
    """A prosecutor's decision recorded on a case."""

    id: uuid.UUID
    case_id: uuid.UUID
    referral_id: uuid.UUID | None
    decision_id: uuid.UUID | None
    source_event_id: uuid.UUID | None
    decision_type: str
    concerns: str
    adult_id: uuid.UUID | None
    decided_at: datetime
    reference: str | None
    active: bool
    lifted_at: datetime | None
    lifted_by_id: uuid.UUID | None
    created_at: datetime
