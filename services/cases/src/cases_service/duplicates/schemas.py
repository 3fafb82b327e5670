"""Request and response models of duplicate-child detection and review (decision 0070).

Two audiences for a candidate: a caller who may see one of the child's cases gets `ChildCandidate` (names,
age, its visible case ids); a case manager searching across territories for a child it may not see gets
`RemoteChildCandidate`: case numbers, prefecture, month, sex and age band, never a name.
"""

from __future__ import annotations

import uuid
from datetime import datetime
from typing import Literal

from pydantic import model_validator

from cases_service.core.enums import MergeRequestAnswer, MergeRequestStatus, ReviewDecision, ReviewOutcome
from cases_service.core.schemas import PersonNames, RequestModel, ResponseModel, Text


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
    decision: ReviewDecision
    note: Text | None = None


class DuplicateReviewRead(ResponseModel):
    """A recorded decision; for `same`, which record survives and which cases moved to it, or, for a child of
    another territory, the merge request awaiting that territory (`outcome` merge_requested, decision 0100)."""

    id: uuid.UUID
    outcome: ReviewOutcome
    merge_request_id: uuid.UUID | None
    child_id: uuid.UUID
    other_child_id: uuid.UUID
    decision: ReviewDecision
    survivor_child_id: uuid.UUID | None
    merged_child_id: uuid.UUID | None
    moved_case_ids: list[uuid.UUID]
    repeat_links: dict[str, uuid.UUID]
    note: str | None
    reviewed_by: str
    reviewed_at: datetime


class MergeRequestSide(ResponseModel):
    """One child of a merge request, as both territories see it: no name, no exact age, no case ids."""

    child_id: uuid.UUID
    sex: str
    age_band: str
    cases: list[CandidateCase]


class MergeRequestRead(ResponseModel):
    """"Same child" said of a child of another territory: pending until a case manager there decides."""

    id: uuid.UUID
    status: MergeRequestStatus
    child: MergeRequestSide
    other_child: MergeRequestSide
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


class MergeRequestDecision(RequestModel):
    """Accept (the records are merged) or refuse (with the reason the requester reads) a merge request."""

    decision: MergeRequestAnswer
    reason: Text | None = None

    @model_validator(mode="after")
    def _refusal_has_reason(self) -> MergeRequestDecision:
        if self.decision == "refuse" and not self.reason:
            raise ValueError("A refusal needs a reason.")
        return self


class UnmergeCreate(RequestModel):
    """Undo a merge: why the two records are not the same child."""

    reason: Text


class UnmergeRead(ResponseModel):
    """An undone merge: both records are children of their own again, each with the cases opened with it."""

    review_id: uuid.UUID
    survivor_child_id: uuid.UUID
    restored_child_id: uuid.UUID
    moved_case_ids: list[uuid.UUID]
    unmerged_by: str
    unmerged_at: datetime
