"""Routes of cases: one, a page, changes, transitions, the timeline, adults, and a child across its cases."""

from __future__ import annotations

import uuid
from datetime import datetime
from typing import Annotated

from fastapi import APIRouter, Query, Response

from cases_service.cases import service
from cases_service.cases.deps import CaseForUpdate, CurrentCase
from cases_service.cases.schemas import (
    AdultRead,
    AnyAdultRead,
    CaseRead,
    CaseSummary,
    CaseUpdate,
    ChildWithCases,
    TimelineEvent,
    TransitionCreate,
    TransitionRead,
)
from cases_service.core.deps import ContextDep, IdempotencyDep, IfMatchDep, create_idempotently, with_etag
from cases_service.core.enums import CaseStatus, Sex
from cases_service.core.schemas import TerritoryCode
from cases_service.intakes.schemas import AdultCreate
from himaya.errors import problem_responses
from himaya.pagination import Page, PageDep

router = APIRouter(tags=["cases"])
READ_ERRORS = problem_responses(401, 403, 404, 422)
CREATE_ERRORS = problem_responses(401, 403, 404, 409, 422)
UPDATE_ERRORS = problem_responses(401, 403, 404, 409, 412, 422, 428)










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
    return await service.list_cases(ctx=ctx, status=status, territory_code=territory_code, sex=sex, age_min=age_min,
                                   age_max=age_max, opened_from=opened_from, opened_to=opened_to, q=q,
                                   limit=page.limit, cursor=page.cursor)


@router.get("/v1/cases/{case_id}", response_model=CaseRead, responses=READ_ERRORS)
async def get_case(case_id: uuid.UUID, ctx: ContextDep) -> Response:
    """A case with its child, intake, status, risk and assignment; the ETag header carries its version."""
    case = await service.get_case(ctx=ctx, case_id=case_id)
    return with_etag(case, case.version)


@router.patch("/v1/cases/{case_id}", response_model=CaseRead, responses=UPDATE_ERRORS)
async def update_case(case_id: uuid.UUID, body: CaseUpdate, ctx: ContextDep, version: IfMatchDep,
                      case: CurrentCase) -> Response:
    """Change risk, assignment or court; needs If-Match with the ETag read."""
    updated = await service.update_case(ctx=ctx, case=case, data=body, expected_version=version)
    return with_etag(updated, updated.version)


@router.post("/v1/cases/{case_id}/transitions", response_model=TransitionRead,
             responses=problem_responses(401, 403, 404, 409, 422))
async def transition_case(case_id: uuid.UUID, body: TransitionCreate, ctx: ContextDep,
                          case: CaseForUpdate) -> TransitionRead:
    """Move a case along its path; 409 transition_not_allowed with the reason when refused."""
    return await service.transition_case(ctx=ctx, case=case, data=body)


@router.get("/v1/cases/{case_id}/timeline", response_model=Page[TimelineEvent], responses=READ_ERRORS)
async def get_timeline(case_id: uuid.UUID, ctx: ContextDep, page: PageDep, case: CurrentCase) -> Page[TimelineEvent]:
    """Every event of the case in order, including events received from referrals."""
    return await service.get_timeline(ctx=ctx, case=case, limit=page.limit, cursor=page.cursor)


@router.get("/v1/cases/{case_id}/adults", response_model=list[AnyAdultRead],
            responses=READ_ERRORS)
async def list_adults(case_id: uuid.UUID, ctx: ContextDep, case: CurrentCase) -> list[AdultRead]:
    """The accompanying adults; offence-related data only for police and prosecution."""
    return await service.list_adults(ctx=ctx, case=case)


@router.post("/v1/cases/{case_id}/adults", status_code=201, response_model=AnyAdultRead,
             responses=CREATE_ERRORS)
async def add_adult(case_id: uuid.UUID, body: AdultCreate, ctx: ContextDep, idem: IdempotencyDep,
                    case: CurrentCase) -> Response:
    """Add an accompanying adult to the case."""
    return await create_idempotently(ctx, idem, body, lambda: service.add_adult(ctx=ctx, case=case, data=body))














@router.get("/v1/children/{child_id}", response_model=ChildWithCases, responses=READ_ERRORS)
async def get_child(child_id: uuid.UUID, ctx: ContextDep) -> ChildWithCases:
    """A child across the cases the caller may see."""
    return await service.get_child(ctx=ctx, child_id=child_id)
