"""Routes of the search for children, their possible duplicates, reviews, merge requests and unmerges."""

from __future__ import annotations

import uuid
from typing import Annotated

from fastapi import APIRouter, Query, Response
from pydantic import TypeAdapter

from cases_service.core.deps import ContextDep, IdempotencyDep, create_idempotently
from cases_service.core.enums import MergeRequestStatus, Sex
from cases_service.duplicates import service
from cases_service.duplicates.schemas import (
    AnyCandidate,
    DuplicateReviewCreate,
    DuplicateReviewRead,
    DuplicatesRead,
    MergeRequestDecision,
    MergeRequestRead,
    UnmergeCreate,
    UnmergeRead,
)
from himaya.errors import problem_responses
from himaya.pagination import Page, PageDep

router = APIRouter(tags=["cases"])
READ_ERRORS = problem_responses(401, 403, 404, 422)
CREATE_ERRORS = problem_responses(401, 403, 404, 409, 422)
UPDATE_ERRORS = problem_responses(401, 403, 404, 409, 412, 422, 428)
# The candidates as their audience sees them: full (names, case ids) or minimal.
CANDIDATES = TypeAdapter(list[AnyCandidate])


@router.get("/v1/children", response_model=list[AnyCandidate], responses=READ_ERRORS)
async def search_children(
    ctx: ContextDep,
    q: Annotated[str, Query(min_length=1, max_length=100, description="A name in Arabic or Latin script.")],
    sex: Annotated[Sex | None, Query()] = None,
    age: Annotated[float | None, Query(ge=0, le=25, description="Approximate age in years.")] = None,
) -> list[AnyCandidate]:
    """Candidate children for a name (and sex and age): in every territory for holders of children:dedup (a
    minimal view, without names, of children in cases they may not see), otherwise in the cases they see."""
    return CANDIDATES.validate_python(await service.search_children(ctx, q=q, sex=sex, age=age),
                                      from_attributes=True)


@router.get("/v1/children/{child_id}/duplicates", response_model=DuplicatesRead, responses=READ_ERRORS)
async def list_duplicates(child_id: uuid.UUID, ctx: ContextDep) -> DuplicatesRead:
    """The child side by side with the children that may be the same (children:dedup), best first."""
    return DuplicatesRead.model_validate(await service.list_duplicates(ctx, child_id=child_id))


@router.post("/v1/children/{child_id}/duplicate-reviews", status_code=201, response_model=DuplicateReviewRead,
             responses=CREATE_ERRORS)
async def review_duplicate(child_id: uuid.UUID, body: DuplicateReviewCreate, ctx: ContextDep,
                           idem: IdempotencyDep) -> Response:
    """Decide a candidate: `same` merges the newer record into the older (cases move, repeats linked), or for a
    child of another territory requests the merge from it; `not_same` is never proposed again (children:dedup)."""

    async def create() -> DuplicateReviewRead:
        return DuplicateReviewRead.model_validate(await service.review_duplicate(ctx, child_id=child_id, data=body))

    return await create_idempotently(ctx, idem, body, create)


@router.get("/v1/child-merge-requests", response_model=Page[MergeRequestRead], responses=READ_ERRORS)
async def list_merge_requests(
    ctx: ContextDep, page: PageDep,
    status: Annotated[MergeRequestStatus | None, Query()] = None,
) -> Page[MergeRequestRead]:
    """Merge requests the caller made and those addressed to its territories (case managers, team
    coordinators), newest first; both children in the minimal view."""
    requests, next_cursor = await service.list_merge_requests(ctx, status=status, limit=page.limit,
                                                              cursor=page.cursor)
    return Page[MergeRequestRead](items=[MergeRequestRead.model_validate(r) for r in requests],
                                  next_cursor=next_cursor)


@router.post("/v1/child-merge-requests/{request_id}/decision", response_model=MergeRequestRead,
             responses=problem_responses(401, 403, 404, 409, 422))
async def decide_merge_request(request_id: uuid.UUID, body: MergeRequestDecision, ctx: ContextDep) -> MergeRequestRead:
    """Accept (merge the two records) or refuse (with a reason) a merge request addressed to the caller's
    territory (case managers, team coordinators)."""
    return MergeRequestRead.model_validate(await service.decide_merge_request(ctx, request_id=request_id, data=body))


@router.post("/v1/duplicate-reviews/{review_id}/unmerge", response_model=UnmergeRead,
             responses=problem_responses(401, 403, 404, 409, 422))
async def unmerge(review_id: uuid.UUID, body: UnmergeCreate, ctx: ContextDep) -> UnmergeRead:
    """Undo a merge: both records become children of their own again with their cases (case managers, team
    coordinators who see the child)."""
    return UnmergeRead.model_validate(await service.unmerge(ctx, review_id=review_id, data=body))
