"""Typed records of the search for duplicates, reviews, merge requests and unmerges."""

from __future__ import annotations

import uuid
from dataclasses import dataclass
from datetime import datetime
from typing import Literal


@dataclass(frozen=True)
class Candidate:
    """A child already known that may be the same as a child just recorded: its score and the cases of it the
    caller may see."""

    child_id: uuid.UUID
    score: float
    case_ids: list[uuid.UUID]


@dataclass(frozen=True)
class CaseRef:
    """A case a child appears in, as anyone who may search duplicates sees it (no case id)."""

    case_number: str
    prefecture_code: str
    opened_month: str


@dataclass(frozen=True)
class Evidence:
    """Why a child is proposed: the name score, the age difference, a shared accompanying adult."""

    name_score: float
    age_difference_years: float
    same_sex: bool
    shared_adult: bool


@dataclass(frozen=True)
class RemoteCandidate:
    """A candidate child in cases the caller may not see: no name, no exact age, no case ids."""

    child_id: uuid.UUID
    score: float
    evidence: Evidence
    sex: str
    age_band: str
    cases: list[CaseRef]
    view: Literal["minimal"] = "minimal"


@dataclass(frozen=True)
class FullCandidate:
    """A candidate child the caller sees through at least one case, with its names."""

    child_id: uuid.UUID
    score: float
    evidence: Evidence
    sex: str
    age_band: str
    cases: list[CaseRef]
    age_years: float | None
    names: dict[str, str | None]
    case_ids: list[uuid.UUID]
    view: Literal["full"] = "full"


CandidateView = FullCandidate | RemoteCandidate


@dataclass(frozen=True)
class Subject:
    """The child under review (one the caller sees)."""

    child_id: uuid.UUID
    sex: str
    age_years: float | None
    age_band: str
    names: dict[str, str | None]
    case_ids: list[uuid.UUID]
    cases: list[CaseRef]


@dataclass(frozen=True)
class Duplicates:
    """The child, and the candidates that may be the same child, best first."""

    child: Subject
    candidates: list[CandidateView]


@dataclass(frozen=True)
class Review:
    """A recorded decision on a pair of children, or the merge request it became."""

    id: uuid.UUID
    outcome: str
    merge_request_id: uuid.UUID | None
    child_id: uuid.UUID
    other_child_id: uuid.UUID
    decision: str
    survivor_child_id: uuid.UUID | None
    merged_child_id: uuid.UUID | None
    moved_case_ids: list[uuid.UUID]
    repeat_links: dict[str, uuid.UUID]
    note: str | None
    reviewed_by: str
    reviewed_at: datetime


@dataclass(frozen=True)
class RequestSide:
    """One child of a merge request, as both territories see it."""

    child_id: uuid.UUID
    sex: str
    age_band: str
    cases: list[CaseRef]


@dataclass(frozen=True)
class MergeRequest:
    """A merge request with both children in the minimal view, its texts opened."""

    id: uuid.UUID
    status: str
    child: RequestSide
    other_child: RequestSide
    target_prefecture_codes: list[str]
    name_score: float | None
    note: str | None
    requested_by: str
    requested_at: datetime
    decided_by: str | None
    decided_at: datetime | None
    reason: str | None
    review_id: uuid.UUID | None
    survivor_child_id: uuid.UUID | None
    merged_child_id: uuid.UUID | None


@dataclass(frozen=True)
class Unmerged:
    """An undone merge."""

    review_id: uuid.UUID
    survivor_child_id: uuid.UUID
    restored_child_id: uuid.UUID
    moved_case_ids: list[uuid.UUID]
    unmerged_by: str
    unmerged_at: datetime
