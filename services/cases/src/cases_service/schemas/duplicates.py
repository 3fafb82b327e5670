"""Request and response models of duplicate-child detection and review (decision 0070).

Two audiences for a candidate: a caller who may see one of the child's cases gets `ChildCandidate` (names,
age, its visible case ids); a case manager searching across territories for a child it may not see gets
`RemoteChildCandidate`: case numbers, prefecture, month, sex and age band, never a name.
"""

from __future__ import annotations

import uuid
from datetime import datetime
from typing import Literal

from cases_service.schemas.common import PersonNames, RequestModel, ResponseModel, Text


class CandidateCase(ResponseModel):
    """A case a candidate child appears in, as anyone who may search duplicates sees it."""

    case_number: str
    prefecture_code: str
    opened_month: str


class MatchEvidence(ResponseModel):
    """Why a child is proposed: the name score (0..1), the age difference, and a shared accompanying adult."""

    name_score: float
    age_difference_years: float
    same_sex: bool
    shared_adult: bool


class RemoteChildCandidate(ResponseModel):
    """A candidate child in cases the caller may not see: no name, no exact age, no case ids."""

    view: Literal["minimal"] = "minimal"
    child_id: uuid.UUID
    score: float
    evidence: MatchEvidence
    sex: str
    age_band: str
    cases: list[CandidateCase]


class ChildCandidate(ResponseModel):
    """A candidate child the caller may see (through at least one case), with its names."""

    view: Literal["full"] = "full"
    child_id: uuid.UUID
    score: float
    evidence: MatchEvidence
    sex: str
    age_years: float | None
    age_band: str
    names: PersonNames
    case_ids: list[uuid.UUID]
    cases: list[CandidateCase]


AnyCandidate = ChildCandidate | RemoteChildCandidate


class DuplicateSubject(ResponseModel):
    """The child under review (one the caller may see)."""

    child_id: uuid.UUID
    sex: str
    age_years: float | None
    age_band: str
    names: PersonNames
    case_ids: list[uuid.UUID]
    cases: list[CandidateCase]


class DuplicatesRead(ResponseModel):
    """The side-by-side review: the child, and the candidates that may be the same child, best first."""

    child: DuplicateSubject
    candidates: list[AnyCandidate]


class DuplicateReviewCreate(RequestModel):
    """A reviewer's decision on a candidate: `same` merges the records, `not_same` is never proposed again."""

    other_child_id: uuid.UUID
    decision: Literal["same", "not_same"]
    note: Text | None = None


class DuplicateReviewRead(ResponseModel):
    """A recorded decision; for `same`, which record survives and which cases moved to it."""

    id: uuid.UUID
    child_id: uuid.UUID
    other_child_id: uuid.UUID
    decision: Literal["same", "not_same"]
    survivor_child_id: uuid.UUID | None
    merged_child_id: uuid.UUID | None
    moved_case_ids: list[uuid.UUID]
    repeat_links: dict[str, uuid.UUID]
    note: str | None
    reviewed_by: str
    reviewed_at: datetime
