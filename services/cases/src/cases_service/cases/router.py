"""Routes of cases: one, a page, changes, transitions, the timeline, adults, and a child across its cases."""

from __future__ import annotations

import uuid
from datetime import date, datetime
from typing import Annotated, Any

from fastapi import APIRouter, Query, Response

from cases_service.cases import service
from cases_service.cases.deps import CaseForUpdate, CurrentCase, case_for
from cases_service.cases.records import AdultMeasure, AdultRecord, CaseRecord
from cases_service.cases.schemas import (
    AdultIdentityRead,
    AdultOffenceRead,
    AdultRead,
    AnyAdultRead,
    CaseRead,
    CaseSummary,
    CaseUpdate,
    ChildRead,
    ChildWithCases,
    IntakeSummary,
    TimelineEvent,
    TransitionCreate,
    TransitionRead,
)
from cases_service.core.access import may_see_adult_identity, may_see_offences
from cases_service.core.context import Context, age_years
from cases_service.core.deps import ContextDep, IdempotencyDep, IfMatchDep, create_idempotently, with_etag
from cases_service.core.enums import CaseStatus, Sex
from cases_service.core.records import VisibleCase
from cases_service.core.schemas import PersonNames, TerritoryCode
from cases_service.intakes.schemas import AdultCreate
from himaya import clock
from himaya.errors import problem_responses
from himaya.pagination import Page, PageDep
from himaya.scopes import Scope

router = APIRouter(tags=["cases"])
READ_ERRORS = problem_responses(401, 403, 404, 422)
CREATE_ERRORS = problem_responses(401, 403, 404, 409, 422)
UPDATE_ERRORS = problem_responses(401, 403, 404, 409, 412, 422, 428)


def _child(case: CaseRecord, today: date) -> ChildRead:
    child = case.child
    return ChildRead(
        id=child.id, sex=child.sex, birth_date=child.birth_date, estimated_age_years=child.estimated_age_years,
        age_years=age_years(child.reference_birth_date, today), age_at_intake_years=case.age_at_intake_years,
        nationality=child.nationality, civil_status_registered=child.civil_status_registered,
        schooling=child.schooling, disability=child.disability,
        names=PersonNames(**child.names) if child.names is not None else None, description=child.description,
        birth_act_reference=child.birth_act_reference)


def _summary_fields(case: CaseRecord, today: date) -> dict[str, Any]:
    return {"id": case.id, "case_number": case.case_number, "status": case.status,
            "commune_code": case.commune_code, "prefecture_code": case.prefecture_code,
            "court_code": case.court_code, "risk_level": case.risk_level,
            "trafficking_suspected": case.trafficking_suspected, "opened_at": case.opened_at,
            "closed_at": case.closed_at, "repeat_of_case_id": case.repeat_of_case_id, "child": _child(case, today)}


def _case_read(case: CaseRecord) -> CaseRead:
    intake = case.intake
    return CaseRead(
        **_summary_fields(case, clock.now().date()), region_code=case.region_code,
        suspended_from_status=case.suspended_from_status, lead_organization_id=case.lead_organization_id,
        case_manager_id=case.case_manager_id, transferred_from_case_id=case.transferred_from_case_id,
        transferred_to_case_id=case.transferred_to_case_id,
        intake=IntakeSummary(id=intake.id, reported_at=intake.reported_at, source=intake.source,
                             place_type=intake.place_type, night=intake.night,
                             exploitation_pattern=intake.exploitation_pattern, outing_id=intake.outing_id),
        sibling_case_ids=case.sibling_ids or [], allowed_transitions=service.allowed_transitions(case),
        version=case.version)


def _adult_read(ctx: Context, adult: AdultRecord, measures: list[AdultMeasure]) -> AdultRead:
    """The adult as the caller's audience sees it: with offence data (police, prosecution), with the CNIE
    (filiation), or neither."""
    names = PersonNames(**adult.names) if adult.names is not None else None
    full = None
    if names is not None:
        latin = " ".join(p for p in (names.first_name, names.last_name) if p)
        arabic = " ".join(p for p in (names.first_name_ar, names.last_name_ar) if p)
        full = latin or arabic or None
    base: dict[str, Any] = {"id": adult.id, "full_name": full, "names": names, "sex": adult.sex,
                            "age": adult.age_years, "nationality": adult.nationality,
                            "claimed_relationship": adult.claimed_relationship}
    if may_see_offences(ctx.principal):
        return AdultOffenceRead(**base, cnie=adult.cnie, suspected_offender=adult.suspected_offender,
                                offence_notes=adult.offence_notes, judicial_measures=[
                                    {"id": str(m.id), "decision_type": m.decision_type,
                                     "decided_at": m.decided_at.isoformat(), "reference": m.reference,
                                     "active": m.active} for m in measures])
    if may_see_adult_identity(ctx.principal):
        return AdultIdentityRead(**base, cnie=adult.cnie)
    return AdultRead(**base)


CaseToWrite = Annotated[VisibleCase, case_for(Scope.CASES_WRITE)]


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
    cases, next_cursor = await service.list_cases(
        ctx, status=status, territory_code=territory_code, sex=sex, age_min=age_min, age_max=age_max,
        opened_from=opened_from, opened_to=opened_to, q=q, limit=page.limit, cursor=page.cursor)
    today = clock.now().date()
    return Page[CaseSummary](items=[CaseSummary(**_summary_fields(c, today)) for c in cases],
                             next_cursor=next_cursor)


@router.get("/v1/cases/{case_id}", response_model=CaseRead, responses=READ_ERRORS)
async def get_case(case_id: uuid.UUID, ctx: ContextDep) -> Response:
    """A case with its child, intake, status, risk and assignment; the ETag header carries its version."""
    case = await service.get_case(ctx, case_id=case_id)
    return with_etag(_case_read(case), case.version)


@router.patch("/v1/cases/{case_id}", response_model=CaseRead, responses=UPDATE_ERRORS)
async def update_case(case_id: uuid.UUID, body: CaseUpdate, ctx: ContextDep, version: IfMatchDep,
                      case: CaseToWrite) -> Response:
    """Change risk, assignment or court; needs If-Match with the ETag read."""
    updated = await service.update_case(ctx, case=case, data=body, expected_version=version)
    return with_etag(_case_read(updated), updated.version)


@router.post("/v1/cases/{case_id}/transitions", response_model=TransitionRead,
             responses=problem_responses(401, 403, 404, 409, 422))
async def transition_case(case_id: uuid.UUID, body: TransitionCreate, ctx: ContextDep,
                          case: CaseForUpdate) -> TransitionRead:
    """Move a case along its path; 409 transition_not_allowed with the reason when refused."""
    step = await service.transition_case(ctx, case=case, data=body)
    return TransitionRead(case_id=step.case_id, from_status=step.from_status, status=step.status,
                          version=step.version, opened_case_id=step.opened_case_id)


@router.get("/v1/cases/{case_id}/timeline", response_model=Page[TimelineEvent], responses=READ_ERRORS)
async def get_timeline(case_id: uuid.UUID, ctx: ContextDep, page: PageDep, case: CurrentCase) -> Page[TimelineEvent]:
    """Every event of the case in order, including events received from referrals."""
    events, next_cursor = await service.get_timeline(ctx, case=case, limit=page.limit, cursor=page.cursor)
    return Page[TimelineEvent](items=[TimelineEvent(
        id=e.id, occurred_at=e.occurred_at, actor=e.actor, event_type=e.event_type, from_status=e.from_status,
        to_status=e.to_status, data=e.data, reason=e.reason) for e in events], next_cursor=next_cursor)


@router.get("/v1/cases/{case_id}/adults", response_model=list[AnyAdultRead],
            responses=READ_ERRORS)
async def list_adults(case_id: uuid.UUID, ctx: ContextDep, case: CurrentCase) -> list[AdultRead]:
    """The accompanying adults; offence-related data only for police and prosecution."""
    adults, measures = await service.list_adults(ctx, case=case)
    return [_adult_read(ctx, a, measures.get(a.id, [])) for a in adults]


@router.post("/v1/cases/{case_id}/adults", status_code=201, response_model=AnyAdultRead,
             responses=CREATE_ERRORS)
async def add_adult(case_id: uuid.UUID, body: AdultCreate, ctx: ContextDep, idem: IdempotencyDep,
                    case: CaseToWrite) -> Response:
    """Add an accompanying adult to the case."""

    async def create() -> AdultRead:
        return _adult_read(ctx, await service.add_adult(ctx, case=case, data=body), [])

    return await create_idempotently(ctx, idem, body, create)


@router.get("/v1/children/{child_id}", response_model=ChildWithCases, responses=READ_ERRORS)
async def get_child(child_id: uuid.UUID, ctx: ContextDep) -> ChildWithCases:
    """A child across the cases the caller may see."""
    cases = await service.get_child(ctx, child_id=child_id)
    today = clock.now().date()
    summaries = [CaseSummary(**_summary_fields(c, today)) for c in cases]
    return ChildWithCases(**summaries[0].child.model_dump(exclude={"age_at_intake_years"}), cases=summaries)
