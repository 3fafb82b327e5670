"""Routes of outings and intakes."""

from __future__ import annotations

import uuid

from fastapi import APIRouter, Response

from cases_service.core.deps import ContextDep, IdempotencyDep, create_idempotently
from cases_service.intakes import service
from cases_service.intakes.records import RecordedIntake
from cases_service.intakes.schemas import (
    DuplicateCandidate,
    IntakeCaseRead,
    IntakeCreate,
    IntakeRead,
    OutingCreate,
    OutingRead,
)
from himaya.errors import problem_responses
from himaya.pagination import Page, PageDep

router = APIRouter(tags=["cases"])
READ_ERRORS = problem_responses(401, 403, 404, 422)
CREATE_ERRORS = problem_responses(401, 403, 404, 409, 422)
UPDATE_ERRORS = problem_responses(401, 403, 404, 409, 412, 422, 428)


def _intake_read(intake: RecordedIntake) -> IntakeRead:
    return IntakeRead(
        id=intake.id, reported_at=intake.reported_at, source=intake.source, commune_code=intake.commune_code,
        prefecture_code=intake.prefecture_code, court_code=intake.court_code, outing_id=intake.outing_id,
        place_type=intake.place_type, night=intake.night, exploitation_pattern=intake.exploitation_pattern,
        narrative=intake.narrative,
        cases=[IntakeCaseRead(id=c.id, case_number=c.case_number, child_id=c.child_id, status=c.status,
                              repeat_of_case_id=c.repeat_of_case_id,
                              duplicate_candidates=[DuplicateCandidate(child_id=d.child_id, score=d.score,
                                                                       case_ids=d.case_ids)
                                                    for d in c.duplicate_candidates])
               for c in intake.cases],
        adult_ids=intake.adult_ids)


@router.post("/v1/outings", status_code=201, response_model=OutingRead, responses=CREATE_ERRORS)
async def create_outing(body: OutingCreate, ctx: ContextDep, idem: IdempotencyDep) -> Response:
    """Record a field team's outing."""

    async def create() -> OutingRead:
        return OutingRead.model_validate(await service.create_outing(ctx, data=body))

    return await create_idempotently(ctx, idem, body, create)


@router.get("/v1/outings", response_model=Page[OutingRead], responses=READ_ERRORS)
async def list_outings(ctx: ContextDep, page: PageDep) -> Page[OutingRead]:
    """Outings of the caller's territories, newest first."""
    outings, next_cursor = await service.list_outings(ctx, limit=page.limit, cursor=page.cursor)
    return Page[OutingRead](items=[OutingRead.model_validate(o) for o in outings], next_cursor=next_cursor)


@router.get("/v1/outings/{outing_id}", response_model=OutingRead, responses=READ_ERRORS)
async def get_outing(outing_id: uuid.UUID, ctx: ContextDep) -> OutingRead:
    """An outing with the number of intakes it recorded."""
    return OutingRead.model_validate(await service.get_outing(ctx, outing_id=outing_id))


@router.post("/v1/intakes", status_code=201, response_model=IntakeRead, responses=CREATE_ERRORS)
async def create_intake(body: IntakeCreate, ctx: ContextDep, idem: IdempotencyDep) -> Response:
    """Record an encounter: opens one case per child (status `reported`), siblings linked through the intake."""

    async def create() -> IntakeRead:
        return _intake_read(await service.create_intake(ctx, data=body))

    return await create_idempotently(ctx, idem, body, create)
