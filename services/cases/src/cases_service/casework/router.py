"""Routes of casework records under a case, judicial measures, placements and institutions."""

from __future__ import annotations

import uuid
from typing import Annotated

from fastapi import APIRouter, Response

from cases_service.cases.deps import CurrentCase, case_for
from cases_service.casework import service
from cases_service.casework.records import Assessment, CarePlan, FiliationCheck, FollowUp, ServiceDelivery
from cases_service.casework.schemas import (
    AnyAssessmentRead,
    AssessmentCreate,
    AssessmentDetailRead,
    AssessmentRead,
    CarePlanCreate,
    CarePlanRead,
    FiliationCheckCreate,
    FiliationCheckDetailRead,
    FiliationCheckRead,
    FiliationCheckUpdate,
    FollowUpCreate,
    FollowUpRead,
    InstitutionCreate,
    InstitutionRead,
    InstitutionUpdate,
    JudicialMeasureRead,
    PlacementCreate,
    PlacementRead,
    ServiceCreate,
    ServiceRead,
    ServiceUpdate,
)
from cases_service.core.access import may_see_filiation_details
from cases_service.core.context import Context
from cases_service.core.deps import ContextDep, IdempotencyDep, IfMatchDep, create_idempotently, with_etag
from cases_service.core.records import VisibleCase
from himaya.errors import problem_responses
from himaya.scopes import Scope

router = APIRouter(tags=["casework"])
READ_ERRORS = problem_responses(401, 403, 404)
CREATE_ERRORS = problem_responses(401, 403, 404, 409, 422)
UPDATE_ERRORS = problem_responses(401, 403, 404, 409, 412, 422, 428)
ACTION_ERRORS = problem_responses(401, 403, 404, 409)
FiliationOut = FiliationCheckDetailRead | FiliationCheckRead
CaseForFiliation = Annotated[VisibleCase, case_for(Scope.FILIATION_WRITE, lock=True)]
CaseForCasework = Annotated[VisibleCase, case_for(Scope.CASEWORK_WRITE, lock=True)]
CaseForValidation = Annotated[VisibleCase, case_for(check=service.check_care_plan_validator, lock=True)]
CaseForPlacement = Annotated[VisibleCase, case_for(Scope.PLACEMENTS_WRITE, lock=True)]
CaseToEndPlacement = Annotated[VisibleCase, case_for(Scope.PLACEMENTS_WRITE)]

def _filiation_read(ctx: Context, check: FiliationCheck) -> FiliationCheckRead:
    base = {"id": check.id, "case_id": check.case_id, "adult_id": check.adult_id,
            "claimed_relationship": check.claimed_relationship, "result": check.result,
            "created_at": check.created_at, "updated_at": check.updated_at, "version": check.version}
    if not may_see_filiation_details(ctx.principal):
        return FiliationCheckRead(**base)
    return FiliationCheckDetailRead(**base, methods=list(check.methods),
                                    dna_order_measure_id=check.dna_order_measure_id,
                                    dna_order_reference=check.dna_order_reference, notes=check.notes)


def _assessment_read(ctx: Context, assessment: Assessment) -> AssessmentRead:
    base = {"id": assessment.id, "case_id": assessment.case_id, "type": assessment.type,
            "status": assessment.status, "completed_at": assessment.completed_at, "created_at": assessment.created_at}
    if not service.may_read_assessment(ctx, assessment.type):
        return AssessmentRead(**base)
    return AssessmentDetailRead(**base, summary=assessment.summary)


def _care_plan_read(plan: CarePlan) -> CarePlanRead:
    return CarePlanRead(id=plan.id, case_id=plan.case_id, objectives=plan.objectives, status=plan.status,
                        validated_by=plan.validated_by, validated_at=plan.validated_at, created_at=plan.created_at)


def _service_read(delivery: ServiceDelivery) -> ServiceRead:
    return ServiceRead(id=delivery.id, case_id=delivery.case_id, beneficiary=delivery.beneficiary,
                       service_type=delivery.service_type, provider_organization_id=delivery.provider_organization_id,
                       status=delivery.status, created_at=delivery.created_at, updated_at=delivery.updated_at,
                       version=delivery.version, notes=delivery.notes)


def _follow_up_read(visit: FollowUp) -> FollowUpRead:
    return FollowUpRead(id=visit.id, case_id=visit.case_id, visited_at=visit.visited_at, child_seen=visit.child_seen,
                        attending_school=visit.attending_school, begging_observed=visit.begging_observed,
                        next_visit_due=visit.next_visit_due, created_at=visit.created_at, notes=visit.notes)


@router.get("/v1/cases/{case_id}/filiation-checks", response_model=list[FiliationOut], responses=READ_ERRORS)
async def list_filiation_checks(case_id: uuid.UUID, ctx: ContextDep, case: CurrentCase) -> list[FiliationCheckRead]:
    """Filiation checks: the result for everyone who sees the case, methods and DNA orders for police and
    prosecution."""
    return [_filiation_read(ctx, c) for c in await service.list_filiation_checks(ctx, case=case)]


@router.post("/v1/cases/{case_id}/filiation-checks", status_code=201, response_model=FiliationOut,
             responses=CREATE_ERRORS)
async def create_filiation_check(case_id: uuid.UUID, body: FiliationCheckCreate, ctx: ContextDep,
                                 idem: IdempotencyDep, case: CaseForFiliation) -> Response:
    """Record a filiation check; the DNA method needs a DNA-expertise order (dna_order_reference)."""

    async def create() -> FiliationCheckRead:
        return _filiation_read(ctx, await service.create_filiation_check(ctx, case=case, data=body))

    return await create_idempotently(ctx, idem, body, create, etag_version=lambda r: r.version)


@router.patch("/v1/cases/{case_id}/filiation-checks/{check_id}", response_model=FiliationOut,
              responses=UPDATE_ERRORS)
async def update_filiation_check(case_id: uuid.UUID, check_id: uuid.UUID, body: FiliationCheckUpdate,
                                 ctx: ContextDep, version: IfMatchDep, case: CaseForFiliation) -> Response:
    """Record a filiation check's result; needs If-Match."""
    result = await service.update_filiation_check(ctx, case=case, check_id=check_id, data=body,
                                                  expected_version=version)
    return with_etag(_filiation_read(ctx, result), result.version)


@router.get("/v1/cases/{case_id}/assessments", response_model=list[AnyAssessmentRead], responses=READ_ERRORS)
async def list_assessments(case_id: uuid.UUID, ctx: ContextDep, case: CurrentCase) -> list[AssessmentRead]:
    """Assessments of the case; health content only with health:details."""
    return [_assessment_read(ctx, a) for a in await service.list_assessments(ctx, case=case)]


@router.post("/v1/cases/{case_id}/assessments", status_code=201, response_model=AnyAssessmentRead,
             responses=CREATE_ERRORS)
async def create_assessment(case_id: uuid.UUID, body: AssessmentCreate, ctx: ContextDep,
                            idem: IdempotencyDep, case: CaseForCasework) -> Response:
    """Record an assessment (rapid intake, social enquiry, medical, psychological, best interest)."""

    async def create() -> AssessmentRead:
        return _assessment_read(ctx, await service.create_assessment(ctx, case=case, data=body))

    return await create_idempotently(ctx, idem, body, create)


@router.post("/v1/cases/{case_id}/assessments/{assessment_id}/complete", response_model=AnyAssessmentRead,
             responses=ACTION_ERRORS)
async def complete_assessment(case_id: uuid.UUID, assessment_id: uuid.UUID, ctx: ContextDep,
                              case: CaseForCasework) -> AssessmentRead:
    """Mark an assessment completed."""
    return _assessment_read(ctx, await service.complete_assessment(ctx, case=case, assessment_id=assessment_id))


@router.get("/v1/cases/{case_id}/care-plans", response_model=list[CarePlanRead], responses=READ_ERRORS)
async def list_care_plans(case_id: uuid.UUID, ctx: ContextDep, case: CurrentCase) -> list[CarePlanRead]:
    """Care plans of the case."""
    return [_care_plan_read(p) for p in await service.list_care_plans(ctx, case=case)]


@router.post("/v1/cases/{case_id}/care-plans", status_code=201, response_model=CarePlanRead,
             responses=CREATE_ERRORS)
async def create_care_plan(case_id: uuid.UUID, body: CarePlanCreate, ctx: ContextDep,
                           idem: IdempotencyDep, case: CaseForCasework) -> Response:
    """Draft a care plan."""

    async def create() -> CarePlanRead:
        return _care_plan_read(await service.create_care_plan(ctx, case=case, data=body))

    return await create_idempotently(ctx, idem, body, create)


@router.post("/v1/cases/{case_id}/care-plans/{plan_id}/validate", response_model=CarePlanRead,
             responses=ACTION_ERRORS)
async def validate_care_plan(case_id: uuid.UUID, plan_id: uuid.UUID, ctx: ContextDep,
                             case: CaseForValidation) -> CarePlanRead:
    """Validate a care plan (team coordinator)."""
    return _care_plan_read(await service.validate_care_plan(ctx, case=case, plan_id=plan_id))


@router.get("/v1/cases/{case_id}/services", response_model=list[ServiceRead], responses=READ_ERRORS)
async def list_services(case_id: uuid.UUID, ctx: ContextDep, case: CurrentCase) -> list[ServiceRead]:
    """Services to the child or the mother."""
    return [_service_read(d) for d in await service.list_services(ctx, case=case)]


@router.post("/v1/cases/{case_id}/services", status_code=201, response_model=ServiceRead, responses=CREATE_ERRORS)
async def create_service(case_id: uuid.UUID, body: ServiceCreate, ctx: ContextDep, idem: IdempotencyDep,
                         case: CaseForCasework) -> Response:
    """Propose or record a service with its provider and status."""

    async def create() -> ServiceRead:
        return _service_read(await service.create_service(ctx, case=case, data=body))

    return await create_idempotently(ctx, idem, body, create, etag_version=lambda r: r.version)


@router.patch("/v1/cases/{case_id}/services/{service_id}", response_model=ServiceRead, responses=UPDATE_ERRORS)
async def update_service(case_id: uuid.UUID, service_id: uuid.UUID, body: ServiceUpdate, ctx: ContextDep,
                         version: IfMatchDep, case: CaseForCasework) -> Response:
    """Change a service's status; needs If-Match."""
    result = await service.update_service(ctx, case=case, service_id=service_id, data=body,
                                          expected_version=version)
    return with_etag(_service_read(result), result.version)


@router.get("/v1/cases/{case_id}/follow-ups", response_model=list[FollowUpRead], responses=READ_ERRORS)
async def list_follow_ups(case_id: uuid.UUID, ctx: ContextDep, case: CurrentCase) -> list[FollowUpRead]:
    """Follow-up visits of the case."""
    return [_follow_up_read(v) for v in await service.list_follow_ups(ctx, case=case)]


@router.post("/v1/cases/{case_id}/follow-ups", status_code=201, response_model=FollowUpRead,
             responses=CREATE_ERRORS)
async def create_follow_up(case_id: uuid.UUID, body: FollowUpCreate, ctx: ContextDep,
                           idem: IdempotencyDep, case: CaseForCasework) -> Response:
    """Record a follow-up visit and when the next one is due."""

    async def create() -> FollowUpRead:
        return _follow_up_read(await service.create_follow_up(ctx, case=case, data=body))

    return await create_idempotently(ctx, idem, body, create)


@router.get("/v1/cases/{case_id}/judicial-measures", response_model=list[JudicialMeasureRead],
            responses=READ_ERRORS)
async def list_judicial_measures(case_id: uuid.UUID, ctx: ContextDep, case: CurrentCase) -> list[JudicialMeasureRead]:
    """Prosecutor decisions recorded on the case (those about adults only with offences:read)."""
    return [JudicialMeasureRead.model_validate(m) for m in await service.list_measures(ctx, case=case)]


@router.get("/v1/cases/{case_id}/placements", response_model=list[PlacementRead], responses=READ_ERRORS)
async def list_placements(case_id: uuid.UUID, ctx: ContextDep, case: CurrentCase) -> list[PlacementRead]:
    """Placements of the child."""
    return [PlacementRead.model_validate(p) for p in await service.list_placements(ctx, case=case)]


@router.post("/v1/cases/{case_id}/placements", status_code=201, response_model=PlacementRead,
             responses=CREATE_ERRORS)
async def create_placement(case_id: uuid.UUID, body: PlacementCreate, ctx: ContextDep,
                           idem: IdempotencyDep, case: CaseForPlacement) -> Response:
    """Place the child in an EPS under a prosecutor's placement order."""

    async def create() -> PlacementRead:
        return PlacementRead.model_validate(await service.create_placement(ctx, case=case, data=body))

    return await create_idempotently(ctx, idem, body, create)


@router.post("/v1/cases/{case_id}/placements/{placement_id}/end", response_model=PlacementRead,
             responses=ACTION_ERRORS)
async def end_placement(case_id: uuid.UUID, placement_id: uuid.UUID, ctx: ContextDep,
                        case: CaseToEndPlacement) -> PlacementRead:
    """End a placement."""
    return PlacementRead.model_validate(await service.end_placement(ctx, case=case, placement_id=placement_id))


@router.get("/v1/institutions", response_model=list[InstitutionRead], responses=problem_responses(401, 403))
async def list_institutions(ctx: ContextDep) -> list[InstitutionRead]:
    """EPS of the caller's territories with places, occupancy and emergency vacancies."""
    return [InstitutionRead.model_validate(i) for i in await service.list_institutions(ctx)]


@router.post("/v1/institutions", status_code=201, response_model=InstitutionRead, responses=CREATE_ERRORS)
async def create_institution(body: InstitutionCreate, ctx: ContextDep, idem: IdempotencyDep) -> Response:
    """Register an EPS and its capacity."""

    async def create() -> InstitutionRead:
        return InstitutionRead.model_validate(await service.create_institution(ctx, data=body))

    return await create_idempotently(ctx, idem, body, create,
                                     etag_version=lambda r: r.version)


@router.get("/v1/institutions/{institution_id}", response_model=InstitutionRead, responses=READ_ERRORS)
async def get_institution(institution_id: uuid.UUID, ctx: ContextDep) -> Response:
    """An EPS with its capacity; the ETag header carries its version."""
    result = await service.get_institution(ctx, institution_id=institution_id)
    return with_etag(InstitutionRead.model_validate(result), result.version)


@router.patch("/v1/institutions/{institution_id}", response_model=InstitutionRead, responses=UPDATE_ERRORS)
async def update_institution(institution_id: uuid.UUID, body: InstitutionUpdate, ctx: ContextDep,
                             version: IfMatchDep) -> Response:
    """Update places or emergency vacancies; needs If-Match."""
    result = await service.update_institution(ctx, institution_id=institution_id, data=body,
                                              expected_version=version)
    return with_etag(InstitutionRead.model_validate(result), result.version)
