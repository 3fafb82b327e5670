"""Typed records of cases: what the repository returns (identifying values already opened, or None when the
caller may not see them) and the service maps to the API's schemas."""

from __future__ import annotations

import uuid
from dataclasses import dataclass
from datetime import date, datetime
from typing import Any


@dataclass(frozen=True)
class ChildRecord:
    """The child of a case: the identity recorded through the case, the id of the child it counts for."""

    id: uuid.UUID
    sex: str
    birth_date: date | None
    estimated_age_years: float | None
    reference_birth_date: date
    nationality: str | None
    civil_status_registered: bool | None
    schooling: str
    disability: bool | None
    names: dict[str, str | None] | None  # None when the caller may not see names
    description: str | None
    birth_act_reference: str | None


@dataclass(frozen=True)
class IntakeSummaryRecord:
    """The encounter that opened a case."""

    id: uuid.UUID
    reported_at: datetime
    source: str
    place_type: str | None
    night: bool | None
    exploitation_pattern: str | None
    outing_id: uuid.UUID | None


@dataclass(frozen=True)
class CaseRecord:
    """A case the caller may see, with its child and intake (`repeat_of_case_id` only when that case is visible
    too; `sibling_ids` only when read with them)."""

    id: uuid.UUID
    case_number: str
    status: str
    region_code: str
    prefecture_code: str
    commune_code: str
    court_code: str
    risk_level: str | None
    trafficking_suspected: bool
    opened_at: datetime
    closed_at: datetime | None
    repeat_of_case_id: uuid.UUID | None
    suspended_from_status: str | None
    lead_organization_id: uuid.UUID | None
    case_manager_id: uuid.UUID | None
    transferred_from_case_id: uuid.UUID | None
    transferred_to_case_id: uuid.UUID | None
    child_id: uuid.UUID
    recorded_child_id: uuid.UUID
    age_at_intake_years: float | None
    version: int
    child: ChildRecord
    intake: IntakeSummaryRecord
    sibling_ids: list[uuid.UUID] | None = None


@dataclass(frozen=True)
class TimelineRecord:
    """One event of a case's timeline (`reason` opened only for callers who see names)."""

    id: int
    occurred_at: datetime
    actor: str
    event_type: str
    from_status: str | None
    to_status: str | None
    data: dict[str, Any]
    reason: str | None


@dataclass(frozen=True)
class AdultRecord:
    """An adult of a case, with what the caller may see of it opened (else None)."""

    id: uuid.UUID
    sex: str | None
    age_years: int | None
    nationality: str | None
    claimed_relationship: str
    suspected_offender: bool
    names: dict[str, str | None] | None
    cnie: str | None
    offence_notes: str | None


@dataclass(frozen=True)
class AdultMeasure:
    """A prosecutor's decision about an adult of a case."""

    id: uuid.UUID
    adult_id: uuid.UUID
    decision_type: str
    decided_at: datetime
    reference: str | None
    active: bool


@dataclass(frozen=True)
class CaseFilters:
    """A case list's filters (`name_query`: a name to search, for callers who may see names)."""

    status: str | None = None
    territory_code: str | None = None
    sex: str | None = None
    born_after: date | None = None
    born_before: date | None = None
    opened_from: datetime | None = None
    opened_to: datetime | None = None
    case_number: str | None = None
    name_query: str | None = None
    child_id: uuid.UUID | None = None


@dataclass(frozen=True)
class TransitionRecord:
    """A step a case took (and the case a transfer opened)."""

    case_id: uuid.UUID
    from_status: str
    status: str
    version: int
    opened_case_id: uuid.UUID | None
