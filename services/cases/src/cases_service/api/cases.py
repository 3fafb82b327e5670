"""Routes of outings, intakes, cases, transitions, the timeline, adults and children."""

from __future__ import annotations

import uuid
from datetime import datetime
from typing import Annotated

from fastapi import APIRouter, Query, Response

from cases_service.api.deps import ContextDep, IdempotencyDep, IfMatchDep, create_idempotently, with_etag
from cases_service.core.enums import CaseStatus, MergeRequestStatus, Sex
from cases_service.core.schemas import TerritoryCode
from cases_service.domain import cases as domain
from cases_service.domain import duplicates
from cases_service.schemas.cases import (
    AdultCreate,
    AdultRead,
    AnyAdultRead,
    CaseRead,
    CaseSummary,
    CaseUpdate,
    ChildWithCases,
    IntakeCreate,
    IntakeRead,
    OutingCreate,
    OutingRead,
    TimelineEvent,
    TransitionCreate,
    TransitionRead,
)
from cases_service.schemas.duplicates import (
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


@router.post("/v1/outings", status_code=201, response_model=OutingRead, responses=CREATE_ERRORS)
async def create_outing(body: OutingCreate, ctx: ContextDep, idem: IdempotencyDep) -> Response:
    """Record a field team's outing."""
    return await create_idempotently(ctx, idem, body, lambda: domain.create_outing(ctx=ctx, data=body))


@router.get("/v1/outings", response_model=Page[OutingRead], responses=READ_ERRORS)
async def list_outings(ctx: ContextDep, page: PageDep) -> Page[OutingRead]:
    """Outings of the caller's territories, newest first."""
    return await domain.list_outings(ctx=ctx, limit=page.limit, cursor=page.cursor)


@router.get("/v1/outings/{outing_id}", response_model=OutingRead, responses=READ_ERRORS)
async def get_outing(outing_id: uuid.UUID, ctx: ContextDep) -> OutingRead:
    """An outing with the number of intakes it recorded."""
    return await domain.get_outing(ctx=ctx, outing_id=outing_id)


@router.post("/v1/intakes", status_code=201, response_model=IntakeRead, responses=CREATE_ERRORS)
async def create_intake(body: IntakeCreate, ctx: ContextDep, idem: IdempotencyDep) -> Response:
    """Record an encounter: opens one case per child (status `reported`), siblings linked through the intake."""
    return await create_idempotently(ctx, idem, body, lambda: domain.create_intake(ctx=ctx, data=body))


@router.get("/v1/cases", response_model=Page[CaseSummary], responses=READ_ERRORS)
async def list_cases(
    ctx: ContextDep, page: PageDep,
    status: Annotated[CaseStatus | None, Query()] = None,
    territory_code: Annotated[TerritoryCode | None, Query()] = None,
    sex: Annotated[Sex | None, Query()] = None,
    age_min: Annotated[float | None, Query(ge=0, le=25)] = None,
    age_max: Annotated[float | None, Query(ge=0, le=25)] = None,
    opened_from: Annotated[datetime | None, Query()] = None,
    opened_to: Annotated[datetime | None, Query()] = None,
    q: Annotated[str | None, Query(min_length=1, max_length=100,
                                   description="A name (Arabic or Latin script) or a case number.")] = None,
) -> Page[CaseSummary]:
    """The cases the caller may see, newest first, filtered (keyset pagination)."""
    return await domain.list_cases(ctx=ctx, status=status, territory_code=territory_code, sex=sex, age_min=age_min,
                                   age_max=age_max, opened_from=opened_from, opened_to=opened_to, q=q,
                                   limit=page.limit, cursor=page.cursor)


@router.get("/v1/cases/{case_id}", response_model=CaseRead, responses=READ_ERRORS)
async def get_case(case_id: uuid.UUID, ctx: ContextDep) -> Response:
    """A case with its child, intake, status, risk and assignment; the ETag header carries its version."""
    case = await domain.get_case(ctx=ctx, case_id=case_id)
    return with_etag(case, case.version)


@router.patch("/v1/cases/{case_id}", response_model=CaseRead, responses=UPDATE_ERRORS)
async def update_case(case_id: uuid.UUID, body: CaseUpdate, ctx: ContextDep, version: IfMatchDep) -> Response:
    """Change risk, assignment or court; needs If-Match with the ETag read."""
    case = await domain.update_case(ctx=ctx, case_id=case_id, data=body, expected_version=version)
    return with_etag(case, case.version)


@router.post("/v1/cases/{case_id}/transitions", response_model=TransitionRead,
             responses=problem_responses(401, 403, 404, 409, 422))
async def transition_case(case_id: uuid.UUID, body: TransitionCreate, ctx: ContextDep) -> TransitionRead:
    """Move a case along its path; 409 transition_not_allowed with the reason when refused."""
    return await domain.transition_case(ctx=ctx, case_id=case_id, data=body)


@router.get("/v1/cases/{case_id}/timeline", response_model=Page[TimelineEvent], responses=READ_ERRORS)
async def get_timeline(case_id: uuid.UUID, ctx: ContextDep, page: PageDep) -> Page[TimelineEvent]:
    """Every event of the case in order, including events received from referrals."""
    return await domain.get_timeline(ctx=ctx, case_id=case_id, limit=page.limit, cursor=page.cursor)


@router.get("/v1/cases/{case_id}/adults", response_model=list[AnyAdultRead],
            responses=READ_ERRORS)
async def list_adults(case_id: uuid.UUID, ctx: ContextDep) -> list[AdultRead]:
    """The accompanying adults; offence-related data only for police and prosecution."""
    return await domain.list_adults(ctx=ctx, case_id=case_id)


@router.post("/v1/cases/{case_id}/adults", status_code=201, response_model=AnyAdultRead,
             responses=CREATE_ERRORS)
async def add_adult(case_id: uuid.UUID, body: AdultCreate, ctx: ContextDep, idem: IdempotencyDep) -> Response:
    """Add an accompanying adult to the case."""
    return await create_idempotently(ctx, idem, body, lambda: domain.add_adult(ctx=ctx, case_id=case_id, data=body))


@router.get("/v1/children", response_model=list[AnyCandidate], responses=READ_ERRORS)
async def search_children(
    ctx: ContextDep,
    q: Annotated[str, Query(min_length=1, max_length=100, description="A name in Arabic or Latin script.")],
    sex: Annotated[Sex | None, Query()] = None,
    age: Annotated[float | None, Query(ge=0, le=25, description="Approximate age in years.")] = None,
) -> list[AnyCandidate]:
    """Candidate children for a name (and sex and age): in every territory for holders of children:dedup (a
    minimal view, without names, of children in cases they may not see), otherwise in the cases they see."""
    return await duplicates.search_children(ctx=ctx, q=q, sex=sex, age=age)


@router.get("/v1/children/{child_id}/duplicates", response_model=DuplicatesRead, responses=READ_ERRORS)
async def list_duplicates(child_id: uuid.UUID, ctx: ContextDep) -> DuplicatesRead:
    """The child side by side with the children that may be the same (children:dedup), best first."""
    return await duplicates.list_duplicates(ctx=ctx, child_id=child_id)


@router.post("/v1/children/{child_id}/duplicate-reviews", status_code=201, response_model=DuplicateReviewRead,
             responses=CREATE_ERRORS)
async def review_duplicate(child_id: uuid.UUID, body: DuplicateReviewCreate, ctx: ContextDep,
                           idem: IdempotencyDep) -> Response:
    """Decide a candidate: `same` merges the newer record into the older (cases move, repeats linked), or for a
    child of another territory requests the merge from it; `not_same` is never proposed again (children:dedup)."""
    return await create_idempotently(ctx, idem, body, lambda: duplicates.review_duplicate(
        ctx=ctx, child_id=child_id, data=body))


@router.get("/v1/child-merge-requests", response_model=Page[MergeRequestRead], responses=READ_ERRORS)
async def list_merge_requests(
    ctx: ContextDep, page: PageDep,
    status: Annotated[MergeRequestStatus | None, Query()] = None,
) -> Page[MergeRequestRead]:
    """Merge requests the caller made and those addressed to its territories (case managers, team
    coordinators), newest first; both children in the minimal view."""
    return await duplicates.list_merge_requests(ctx=ctx, status=status, limit=page.limit, cursor=page.cursor)


@router.post("/v1/child-merge-requests/{request_id}/decision", response_model=MergeRequestRead,
             responses=problem_responses(401, 403, 404, 409, 422))
async def decide_merge_request(request_id: uuid.UUID, body: MergeRequestDecision, ctx: ContextDep) -> MergeRequestRead:
    """Accept (merge the two records) or refuse (with a reason) a merge request addressed to the caller's
    territory (case managers, team coordinators)."""
    return await duplicates.decide_merge_request(ctx=ctx, request_id=request_id, data=body)


@router.post("/v1/duplicate-reviews/{review_id}/unmerge", response_model=UnmergeRead,
             responses=problem_responses(401, 403, 404, 409, 422))
async def unmerge(review_id: uuid.UUID, body: UnmergeCreate, ctx: ContextDep) -> UnmergeRead:
    """Undo a merge: both records become children of their own again with their cases (case managers, team
    coordinators who see the child)."""
    return await duplicates.unmerge(ctx=ctx, review_id=review_id, data=body)


@router.get("/v1/children/{child_id}", response_model=ChildWithCases, responses=READ_ERRORS)
async def get_child(child_id: uuid.UUID, ctx: ContextDep) -> ChildWithCases:
    """A child across the cases the caller may see."""
    return await domain.get_child(ctx=ctx, child_id=child_id)
