"""Typed records of intakes: what the repository returns to the intake's service."""

from __future__ import annotations

import uuid
from dataclasses import dataclass
from datetime import date, datetime
from typing import Protocol

from cases_service.core.records import NamesData
from cases_service.duplicates.records import Candidate


class ChildData(NamesData, Protocol):
    """A new child as an intake describes it (the request's child; read only)."""

    @property
    def description(self) -> str | None: ...

    @property
    def birth_act_reference(self) -> str | None: ...

    @property
    def sex(self) -> str | None: ...

    @property
    def birth_date(self) -> date | None: ...

    @property
    def estimated_age_years(self) -> float | None: ...

    @property
    def nationality(self) -> str | None: ...

    @property
    def civil_status_registered(self) -> bool | None: ...

    @property
    def schooling(self) -> str | None: ...

    @property
    def disability(self) -> bool | None: ...


@dataclass(frozen=True)
class NewChild:
    """A child an intake recorded for the first time: what the search for duplicates needs of it."""

    id: uuid.UUID
    name_tokens: list[str]
    key_tokens: list[str]
    sex: str
    reference_birth_date: date


@dataclass(frozen=True)
class KnownChild:
    """A child an intake names again: the record of its latest case the caller sees (the identity it knows),
    its latest case in any territory (a repeat continues it) and whether the caller sees that case."""

    child_id: uuid.UUID
    record_id: uuid.UUID
    latest_case_id: uuid.UUID
    latest_case_visible: bool
    reference_birth_date: date


@dataclass(frozen=True)
class OpenCase:
    """An open case of a child an intake names, flagged with whether the caller may see it."""

    id: uuid.UUID
    child_id: uuid.UUID
    case_number: str
    prefecture_code: str
    visible: bool


@dataclass(frozen=True)
class Outing:
    """A field team's outing, with how many intakes it recorded."""

    id: uuid.UUID
    field_team_id: uuid.UUID
    started_at: datetime
    ended_at: datetime | None
    region_code: str
    prefecture_code: str
    commune_code: str
    members_present: list[uuid.UUID]
    organization_id: uuid.UUID | None
    created_by: str
    created_at: datetime
    intake_count: int


@dataclass(frozen=True)
class OpenedCase:
    """A case an intake opened (`repeat_of_case_id` only when the caller may see that case), with the children
    already known that may be the same child."""

    id: uuid.UUID
    case_number: str
    child_id: uuid.UUID
    status: str
    repeat_of_case_id: uuid.UUID | None
    duplicate_candidates: list[Candidate]


@dataclass(frozen=True)
class RecordedIntake:
    """An encounter as recorded, and the cases it opened (`narrative` only for callers who see names)."""

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
    narrative: str | None
    cases: list[OpenedCase]
    adult_ids: list[uuid.UUID]
