"""Routes of outings and intakes."""

from __future__ import annotations

import uuid

from fastapi import APIRouter, Response

from cases_service.core.deps import ContextDep, IdempotencyDep, create_idempotently
from cases_service.intakes import service
from cases_service.intakes.schemas import IntakeCreate, IntakeRead, OutingCreate, OutingRead
from himaya.errors import problem_responses
from himaya.pagination import Page, PageDep

router = APIRouter(tags=["cases"])
READ_ERRORS = problem_responses(401, 403, 404, 422)
CREATE_ERRORS = problem_responses(401, 403, 404, 409, 422)
UPDATE_ERRORS = problem_responses(401, 403, 404, 409, 412, 422, 428)


@router.post("/v1/outings", status_code=201, response_model=OutingRead, responses=CREATE_ERRORS)
async def create_outing(body: OutingCreate, ctx: ContextDep, idem: IdempotencyDep) -> Response:
    """Record a field team's outing."""
    return await create_idempotently(ctx, idem, body, lambda: service.create_outing(ctx=ctx, data=body))


@router.get("/v1/outings", response_model=Page[OutingRead], responses=READ_ERRORS)
async def list_outings(ctx: ContextDep, page: PageDep) -> Page[OutingRead]:
    """Outings of the caller's territories, newest first."""
    return await service.list_outings(ctx=ctx, limit=page.limit, cursor=page.cursor)


@router.get("/v1/outings/{outing_id}", response_model=OutingRead, responses=READ_ERRORS)
async def get_outing(outing_id: uuid.UUID, ctx: ContextDep) -> OutingRead:
    """An outing with the number of intakes it recorded."""
    return await service.get_outing(ctx=ctx, outing_id=outing_id)


@router.post("/v1/intakes", status_code=201, response_model=IntakeRead, responses=CREATE_ERRORS)
async def create_intake(body: IntakeCreate, ctx: ContextDep, idem: IdempotencyDep) -> Response:
    """Record an encounter: opens one case per child (status `reported`), siblings linked through the intake."""
    return await create_idempotently(ctx, idem, body, lambda: service.create_intake(ctx=ctx, data=body))
