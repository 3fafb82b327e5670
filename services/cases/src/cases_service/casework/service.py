"""Casework under a case: filiation checks, assessments, care plans, services, follow-ups, placements, and
the capacity of institutions (EPS)."""

from __future__ import annotations

import uuid
from collections.abc import Callable, Mapping
from typing import Any

from sqlalchemy.exc import IntegrityError

from cases_service.casework import repository as repo
from cases_service.casework.records import (
    Assessment,
    CarePlan,
    FiliationCheck,
    FollowUp,
    Institution,
    JudicialMeasure,
    Placement,
    ServiceDelivery,
)
from cases_service.casework.schemas import (
    AssessmentCreate,
    CarePlanCreate,
    FiliationCheckCreate,
    FiliationCheckUpdate,
    FollowUpCreate,
    InstitutionCreate,
    InstitutionUpdate,
    PlacementCreate,
    ServiceCreate,
    ServiceUpdate,
)
from cases_service.core import repository as core_repo
from cases_service.core.access import (
    may_see_filiation_details,
    may_see_health_details,
    may_see_names,
    not_found,
    require,
)
from cases_service.core.context import Context, new_id
from cases_service.core.directory import AssignmentRefused, check_institution_organization
from cases_service.core.enums import DNA_ORDERS, HEALTH_ASSESSMENTS, PLACEMENT_ORDERS
from cases_service.core.records import VisibleCase
from cases_service.core.states import ensure_open
from himaya import clock
from himaya.audit import AuditEntry
from himaya.errors import Conflict, Forbidden, InvalidInput, NotFound, PreconditionFailed
from himaya.scopes import Role, Scope


async def _event(ctx: Context, case_id: uuid.UUID, event_type: str, data: Mapping[str, Any]) -> None:
    await core_repo.add_events(ctx.session, [{
        "case_id": case_id, "actor": ctx.principal.actor, "actor_organization_id": ctx.principal.organization_id,
        "event_type": event_type, "data": dict(data)}])


async def _audit(ctx: Context, action: str, case_id: uuid.UUID, object_type: str, object_id: Any,
                 fields: list[str]) -> None:
    await ctx.audit([AuditEntry(action=action, object_type=object_type, object_id=str(object_id) if object_id
                                else None, case_id=case_id, fields=fields)])


def _reveal_filiation(ctx: Context) -> tuple[str, ...]:
    return ("dna_order_reference", "notes") if may_see_filiation_details(ctx.principal) else ()


def _reveal_notes(ctx: Context, column: str = "notes") -> tuple[str, ...]:
    return (column,) if may_see_names(ctx.principal) else ()


def may_read_assessment(ctx: Context, assessment_type: str) -> bool:
    """Whether the caller reads an assessment's content: health content (medical, psychological) only with
    health:details; others see that it exists and its status."""
    return assessment_type not in HEALTH_ASSESSMENTS or may_see_health_details(ctx.principal)


def _reveal_assessment(ctx: Context) -> Callable[[Mapping[Any, Any]], tuple[str, ...]]:
    return lambda row: ("summary",) if may_read_assessment(ctx, row["type"]) else ()


# ---- filiation checks ----------------------------------------------------------------------------------


async def create_filiation_check(ctx: Context, *, case: VisibleCase, data: FiliationCheckCreate
                                 ) -> FiliationCheck:
    """Record a filiation check; the DNA method needs a DNA-expertise order recorded on the case."""
    require(ctx.principal, Scope.FILIATION_WRITE)
    ensure_open(case.status)
    case_id = case.id
    if not await repo.adult_in_case(ctx.session, case_id=case_id, adult_id=data.adult_id):
        raise InvalidInput("adult_id does not name an adult of this case.")
    measure_id = None
    if "dna_expertise" in data.methods:
        measure = await repo.find_measure(ctx.session, case_id=case_id, types=DNA_ORDERS,
                                          reference=data.dna_order_reference)
        if measure is None:
            raise InvalidInput("A DNA check needs a prosecutor's DNA-expertise order on this case with this "
                               "dna_order_reference.")
        measure_id = measure.id
    rid = new_id()
    row = await repo.insert_record(ctx.session, ctx.protector, FiliationCheck, {
        "id": rid, "case_id": case_id, "adult_id": data.adult_id, "claimed_relationship": data.claimed_relationship,
        "methods": list(data.methods), "dna_order_measure_id": measure_id, "result": data.result,
        "created_by": ctx.principal.actor},
        sealed={"dna_order_reference": data.dna_order_reference, "notes": data.notes},
        reveal=_reveal_filiation(ctx))
    await _event(ctx, case_id, "filiation_check.recorded", {"filiation_check_id": str(rid), "result": data.result,
                                                             "adult_id": str(data.adult_id)})
    await _audit(ctx, "filiation_check.create", case_id, "filiation_check", rid,
                 ["filiation_check", "filiation_check.methods", "filiation_check.result"])
    return row


async def update_filiation_check(ctx: Context, *, case: VisibleCase, check_id: uuid.UUID,
                                 data: FiliationCheckUpdate, expected_version: int) -> FiliationCheck:
    """Record a filiation check's result, if it is still at the version the caller read."""
    require(ctx.principal, Scope.FILIATION_WRITE)
    ensure_open(case.status)
    case_id = case.id
    if await repo.get_record(ctx.session, ctx.protector, FiliationCheck, case_id=case_id,
                             record_id=check_id) is None:
        raise not_found("filiation check")
    row = await repo.update_record(ctx.session, ctx.protector, FiliationCheck, check_id,
                                   expected_version=expected_version, values={"result": data.result},
                                   sealed={"notes": data.notes} if data.notes is not None else None,
                                   reveal=_reveal_filiation(ctx))
    if row is None:
        raise PreconditionFailed("The filiation check changed since you read it; read it again.")
    await _event(ctx, case_id, "filiation_check.updated", {"filiation_check_id": str(check_id),
                                                            "result": data.result})
    await _audit(ctx, "filiation_check.update", case_id, "filiation_check", check_id, ["filiation_check.result"])
    return row


async def list_filiation_checks(ctx: Context, *, case: VisibleCase) -> list[FiliationCheck]:
    """A case's filiation checks: conclusions for everyone, details for police and prosecution."""
    case_id = case.id
    rows = await repo.list_records(ctx.session, ctx.protector, FiliationCheck, case_id,
                                   reveal=_reveal_filiation(ctx))
    detail = may_see_filiation_details(ctx.principal)
    await _audit(ctx, "filiation_checks.read", case_id, "case", case_id,
                 ["filiation_check.result"] + (["filiation_check.methods"] if detail else []))
    return rows


# ---- assessments ---------------------------------------------------------------------------------------


async def create_assessment(ctx: Context, *, case: VisibleCase, data: AssessmentCreate) -> Assessment:
    """Record an assessment (completed when its conclusions are in)."""
    require(ctx.principal, Scope.CASEWORK_WRITE)
    ensure_open(case.status)
    case_id = case.id
    if data.type in HEALTH_ASSESSMENTS and data.summary and not may_see_health_details(ctx.principal):
        raise Forbidden("Health assessment content needs the health:details scope.")
    rid = new_id()
    completed = clock.now() if data.completed else None
    row = await repo.insert_record(ctx.session, ctx.protector, Assessment, {
        "id": rid, "case_id": case_id, "type": data.type, "status": "completed" if completed else "in_progress",
        "completed_at": completed, "created_by": ctx.principal.actor},
        sealed={"summary": data.summary}, reveal=_reveal_assessment(ctx))
    await _event(ctx, case_id, "assessment.recorded", {"assessment_id": str(rid), "type": data.type,
                                                        "status": row.status})
    await _audit(ctx, "assessment.create", case_id, "assessment", rid, ["assessment"])
    return row


async def complete_assessment(ctx: Context, *, case: VisibleCase, assessment_id: uuid.UUID) -> Assessment:
    """Mark an assessment completed."""
    require(ctx.principal, Scope.CASEWORK_WRITE)
    ensure_open(case.status)
    case_id = case.id
    current = await repo.get_record(ctx.session, ctx.protector, Assessment, case_id=case_id,
                                    record_id=assessment_id, lock=True)
    if current is None:
        raise not_found("assessment")
    if current.status == "completed":
        raise Conflict("The assessment is already completed.")
    row = await repo.update_record(ctx.session, ctx.protector, Assessment, assessment_id, expected_version=None,
                                   values={"status": "completed", "completed_at": clock.now()},
                                   reveal=_reveal_assessment(ctx))
    assert row is not None
    await _event(ctx, case_id, "assessment.completed", {"assessment_id": str(assessment_id), "type": row.type})
    await _audit(ctx, "assessment.complete", case_id, "assessment", assessment_id, ["assessment.status"])
    return row


async def list_assessments(ctx: Context, *, case: VisibleCase) -> list[Assessment]:
    """A case's assessments; health content only with health:details."""
    case_id = case.id
    rows = await repo.list_records(ctx.session, ctx.protector, Assessment, case_id,
                                   reveal=_reveal_assessment(ctx))
    await _audit(ctx, "assessments.read", case_id, "case", case_id, ["assessment"])
    return rows


# ---- care plans ----------------------------------------------------------------------------------------


async def create_care_plan(ctx: Context, *, case: VisibleCase, data: CarePlanCreate) -> CarePlan:
    """Draft a care plan (the team coordinator validates it)."""
    require(ctx.principal, Scope.CASEWORK_WRITE)
    ensure_open(case.status)
    case_id = case.id
    rid = new_id()
    row = await repo.insert_record(ctx.session, ctx.protector, CarePlan, {
        "id": rid, "case_id": case_id, "status": "draft", "created_by": ctx.principal.actor},
        sealed={"objectives": data.objectives}, reveal=_reveal_notes(ctx, "objectives"))
    await _event(ctx, case_id, "care_plan.drafted", {"care_plan_id": str(rid)})
    await _audit(ctx, "care_plan.create", case_id, "care_plan", rid, ["care_plan"])
    return row


def check_care_plan_validator(ctx: Context) -> None:
    """403 unless the caller is a team coordinator with care_plans:validate."""
    require(ctx.principal, Scope.CARE_PLANS_VALIDATE)
    if ctx.principal.role != Role.TEAM_COORDINATOR:
        raise Forbidden("Only the team coordinator validates care plans.")


async def validate_care_plan(ctx: Context, *, case: VisibleCase, plan_id: uuid.UUID) -> CarePlan:
    """Validate a care plan: the team coordinator only."""
    check_care_plan_validator(ctx)
    ensure_open(case.status)
    case_id = case.id
    current = await repo.get_record(ctx.session, ctx.protector, CarePlan, case_id=case_id, record_id=plan_id,
                                    lock=True)
    if current is None:
        raise not_found("care plan")
    if current.status == "validated":
        raise Conflict("The care plan is already validated.")
    row = await repo.update_record(ctx.session, ctx.protector, CarePlan, plan_id, expected_version=None, values={
        "status": "validated", "validated_by": ctx.principal.actor, "validated_at": clock.now()},
        reveal=_reveal_notes(ctx, "objectives"))
    assert row is not None
    await _event(ctx, case_id, "care_plan.validated", {"care_plan_id": str(plan_id)})
    await _audit(ctx, "care_plan.validate", case_id, "care_plan", plan_id, ["care_plan.status"])
    return row


async def list_care_plans(ctx: Context, *, case: VisibleCase) -> list[CarePlan]:
    """A case's care plans."""
    case_id = case.id
    rows = await repo.list_records(ctx.session, ctx.protector, CarePlan, case_id,
                                   reveal=_reveal_notes(ctx, "objectives"))
    await _audit(ctx, "care_plans.read", case_id, "case", case_id, ["care_plan"])
    return rows


# ---- services ------------------------------------------------------------------------------------------


async def create_service(ctx: Context, *, case: VisibleCase, data: ServiceCreate) -> ServiceDelivery:
    """Propose or record a service to the child or the mother."""
    require(ctx.principal, Scope.CASEWORK_WRITE)
    ensure_open(case.status)
    case_id = case.id
    rid = new_id()
    row = await repo.insert_record(ctx.session, ctx.protector, ServiceDelivery, {
        "id": rid, "case_id": case_id, "beneficiary": data.beneficiary, "service_type": data.service_type,
        "provider_organization_id": data.provider_organization_id, "status": data.status,
        "created_by": ctx.principal.actor}, sealed={"notes": data.notes}, reveal=_reveal_notes(ctx))
    await _event(ctx, case_id, "service.recorded", {"service_id": str(rid), "service_type": data.service_type,
                                                     "beneficiary": data.beneficiary, "status": data.status})
    await _audit(ctx, "service.create", case_id, "service", rid, ["service"])
    return row


async def update_service(ctx: Context, *, case: VisibleCase, service_id: uuid.UUID, data: ServiceUpdate,
                         expected_version: int) -> ServiceDelivery:
    """Change a service's status, if it is still at the version the caller read."""
    require(ctx.principal, Scope.CASEWORK_WRITE)
    ensure_open(case.status)
    case_id = case.id
    if await repo.get_record(ctx.session, ctx.protector, ServiceDelivery, case_id=case_id,
                             record_id=service_id) is None:
        raise not_found("service")
    row = await repo.update_record(ctx.session, ctx.protector, ServiceDelivery, service_id,
                                   expected_version=expected_version, values={"status": data.status},
                                   sealed={"notes": data.notes} if data.notes is not None else None,
                                   reveal=_reveal_notes(ctx))
    if row is None:
        raise PreconditionFailed("The service changed since you read it; read it again.")
    await _event(ctx, case_id, "service.updated", {"service_id": str(service_id), "status": data.status})
    await _audit(ctx, "service.update", case_id, "service", service_id, ["service.status"])
    return row


async def list_services(ctx: Context, *, case: VisibleCase) -> list[ServiceDelivery]:
    """A case's services."""
    case_id = case.id
    rows = await repo.list_records(ctx.session, ctx.protector, ServiceDelivery, case_id,
                                   reveal=_reveal_notes(ctx))
    await _audit(ctx, "services.read", case_id, "case", case_id, ["service"])
    return rows


# ---- follow-ups ----------------------------------------------------------------------------------------


async def create_follow_up(ctx: Context, *, case: VisibleCase, data: FollowUpCreate) -> FollowUp:
    """Record a follow-up visit (and when the next one is due)."""
    require(ctx.principal, Scope.CASEWORK_WRITE)
    ensure_open(case.status)
    case_id = case.id
    if data.next_visit_due is not None and data.next_visit_due < data.visited_at.date():
        raise InvalidInput("next_visit_due must not be before the visit.")
    rid = new_id()
    row = await repo.insert_record(ctx.session, ctx.protector, FollowUp, {
        "id": rid, "case_id": case_id, "visited_at": data.visited_at, "child_seen": data.child_seen,
        "attending_school": data.attending_school, "begging_observed": data.begging_observed,
        "next_visit_due": data.next_visit_due, "created_by": ctx.principal.actor},
        sealed={"notes": data.notes}, reveal=_reveal_notes(ctx))
    await _event(ctx, case_id, "follow_up.recorded", {
        "follow_up_id": str(rid), "child_seen": data.child_seen, "begging_observed": data.begging_observed,
        "next_visit_due": data.next_visit_due.isoformat() if data.next_visit_due else None})
    await _audit(ctx, "follow_up.create", case_id, "follow_up", rid, ["follow_up"])
    return row


async def list_follow_ups(ctx: Context, *, case: VisibleCase) -> list[FollowUp]:
    """A case's follow-up visits."""
    case_id = case.id
    rows = await repo.list_records(ctx.session, ctx.protector, FollowUp, case_id, reveal=_reveal_notes(ctx))
    await _audit(ctx, "follow_ups.read", case_id, "case", case_id, ["follow_up"])
    return rows


# ---- judicial measures ---------------------------------------------------------------------------------

async def list_measures(ctx: Context, *, case: VisibleCase) -> list[JudicialMeasure]:
    """The prosecutor decisions recorded on a case; those about adults only with offences:read."""
    case_id = case.id
    concerns = None if ctx.principal.has_scope(Scope.OFFENCES_READ) else "child"
    rows = await repo.list_measures(ctx.session, case_id, concerns=concerns)
    await _audit(ctx, "judicial_measures.read", case_id, "case", case_id, ["judicial_measure"])
    return rows


# ---- institutions and placements -----------------------------------------------------------------------

async def create_institution(ctx: Context, *, data: InstitutionCreate) -> Institution:
    """Register an EPS of the caller's territories with its capacity."""
    require(ctx.principal, Scope.PLACEMENTS_WRITE)
    if ctx.reference.level(data.prefecture_code) != "prefecture":
        raise InvalidInput("prefecture_code is not a known prefecture.")
    if not ctx.principal.covers(data.prefecture_code):
        raise InvalidInput("The prefecture is outside your territories.")
    await check_institution_organization(ctx.directory, data.organization_id, data.prefecture_code)
    try:
        async with ctx.session.begin_nested():
            row = await repo.insert_institution(ctx.session, {
                "id": new_id(), "organization_id": data.organization_id, "name": data.name,
                "prefecture_code": data.prefecture_code, "places": data.places,
                "emergency_vacancies": data.emergency_vacancies})
    except IntegrityError as exc:  # one institution per EPS organisation
        raise Conflict("This organisation already has an institution; update its capacity instead.") from exc
    return row


def _may_manage_institution(ctx: Context, institution: Institution) -> bool:
    p = ctx.principal
    own = p.organization_id is not None and p.organization_id == institution.organization_id
    return own or (p.has_scope(Scope.PLACEMENTS_WRITE) and p.covers(institution.prefecture_code))


async def list_institutions(ctx: Context) -> list[Institution]:
    """Institutions and their vacancies, in the caller's territories."""
    require(ctx.principal, Scope.CASES_READ)
    rows = await repo.list_institutions(ctx.session, prefecture_codes=None)
    return [r for r in rows if ctx.principal.covers(r.prefecture_code)
            or r.organization_id == ctx.principal.organization_id]


async def update_institution(ctx: Context, *, institution_id: uuid.UUID, data: InstitutionUpdate,
                             expected_version: int) -> Institution:
    """Update an institution's capacity (its own staff, or caseworkers of its territory)."""
    require(ctx.principal, Scope.CASES_READ)
    row = await repo.get_institution(ctx.session, institution_id)
    if row is None or not (ctx.principal.covers(row.prefecture_code)
                           or row.organization_id == ctx.principal.organization_id):
        raise NotFound("No institution with this id.")
    # Whoever may read the institution learns nothing from a 403: it only says they may not change it.
    if not (_may_manage_institution(ctx, row) and (
            ctx.principal.has_scope(Scope.PLACEMENTS_WRITE) or ctx.principal.has_scope(Scope.CASEWORK_WRITE))):
        raise Forbidden("Only the institution's staff and caseworkers of its territory change its capacity.")
    values = data.model_dump(exclude_unset=True, exclude_none=True)
    if not values:
        raise InvalidInput("Send places or emergency_vacancies.")
    if not await repo.update_institution(ctx.session, institution_id, expected_version=expected_version,
                                         values=values):
        raise PreconditionFailed("The institution changed since you read it; read it again.")
    row = await repo.get_institution(ctx.session, institution_id)
    assert row is not None
    return row


async def get_institution(ctx: Context, *, institution_id: uuid.UUID) -> Institution:
    """One institution and its vacancies."""
    require(ctx.principal, Scope.CASES_READ)
    row = await repo.get_institution(ctx.session, institution_id)
    if row is None or not (ctx.principal.covers(row.prefecture_code)
                           or row.organization_id == ctx.principal.organization_id):
        raise NotFound("No institution with this id.")
    return row


async def create_placement(ctx: Context, *, case: VisibleCase, data: PlacementCreate) -> Placement:
    """Place the child in an EPS under a prosecutor's placement order, within the institution's capacity."""
    require(ctx.principal, Scope.PLACEMENTS_WRITE)
    ensure_open(case.status)
    case_id = case.id
    order = await repo.find_measure(ctx.session, case_id=case_id, types=PLACEMENT_ORDERS,
                                    measure_id=data.order_measure_id)
    if order is None or not order.active:
        raise InvalidInput("A placement needs an active prosecutor's placement order recorded on this case.")
    if await repo.has_active_placement(ctx.session, case_id):
        raise Conflict("The child is already placed; end that placement first.")
    institution = await repo.get_institution(ctx.session, data.institution_id)
    if institution is None:
        raise InvalidInput("institution_id does not name an institution.")
    if not ctx.principal.covers(institution.prefecture_code):
        raise AssignmentRefused("institution_id names an institution outside your territories.")
    # Asked before the institution's row is locked, so no lock is held across the call to identity.
    await check_institution_organization(ctx.directory, institution.organization_id,
                                         institution.prefecture_code)
    institution = await repo.get_institution(ctx.session, data.institution_id, lock=True)
    assert institution is not None
    emergency = order.decision_type == "emergency_placement"
    if institution.occupied >= institution.places:
        raise Conflict("The institution has no free place.")
    if emergency:
        if institution.emergency_vacancies <= 0:
            raise Conflict("The institution has no emergency vacancy.")
        await repo.update_institution(ctx.session, institution.id, expected_version=None,
                                      values={"emergency_vacancies": institution.emergency_vacancies - 1})
    rid = new_id()
    row = await repo.insert_record(ctx.session, ctx.protector, Placement, {
        "id": rid, "case_id": case_id, "institution_id": institution.id,
        "organization_id": institution.organization_id, "order_measure_id": order.id, "emergency": emergency,
        "started_at": data.started_at, "created_by": ctx.principal.actor})
    await _event(ctx, case_id, "placement.started", {"placement_id": str(rid),
                                                      "institution_id": str(institution.id),
                                                      "order_measure_id": str(order.id)})
    await _audit(ctx, "placement.create", case_id, "placement", rid, ["placement"])
    return row


async def end_placement(ctx: Context, *, case: VisibleCase, placement_id: uuid.UUID) -> Placement:
    """End a placement (the child leaves the institution)."""
    require(ctx.principal, Scope.PLACEMENTS_WRITE)
    case_id = case.id
    current = await repo.get_record(ctx.session, ctx.protector, Placement, case_id=case_id,
                                    record_id=placement_id, lock=True)
    if current is None:
        raise not_found("placement")
    if current.ended_at is not None:
        raise Conflict("The placement has already ended.")
    row = await repo.update_record(ctx.session, ctx.protector, Placement, placement_id, expected_version=None,
                                   values={"ended_at": clock.now()})
    assert row is not None
    await _event(ctx, case_id, "placement.ended", {"placement_id": str(placement_id)})
    await _audit(ctx, "placement.end", case_id, "placement", placement_id, ["placement.ended_at"])
    return row


async def list_placements(ctx: Context, *, case: VisibleCase) -> list[Placement]:
    """A case's placements."""
    case_id = case.id
    rows = await repo.list_records(ctx.session, ctx.protector, Placement, case_id)
    await _audit(ctx, "placements.read", case_id, "case", case_id, ["placement"])
    return rows
