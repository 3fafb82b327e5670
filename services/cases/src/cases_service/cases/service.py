"""Cases: reading one or a page, changing them, their path (transitions), timeline, adults and children."""

from __future__ import annotations

import dataclasses
import uuid
from datetime import datetime, timedelta
from typing import Any

from cases_service.cases import repository as repo
from cases_service.cases.records import (
    AdultMeasure,
    AdultRecord,
    CaseFilters,
    CaseRecord,
    TimelineRecord,
    TransitionRecord,
)
from cases_service.cases.schemas import CaseUpdate, TransitionCreate
from cases_service.core import repository as core_repo
from cases_service.core.access import may_see_adult_identity, may_see_names, may_see_offences, not_found, require
from cases_service.core.context import DAYS_PER_YEAR, Context, new_id, time_cursor
from cases_service.core.directory import check_case_assignment
from cases_service.core.enums import TERMINAL, Status
from cases_service.core.records import VisibleCase
from cases_service.core.reference import Place
from cases_service.core.states import allowed_targets, check_transition, ensure_open
from cases_service.decisions import service as decisions
from cases_service.duplicates import service as duplicates
from cases_service.intakes.schemas import AdultCreate
from himaya import clock
from himaya.audit import AuditEntry
from himaya.errors import Conflict, InvalidInput, PreconditionFailed
from himaya.pagination import build_page, decode_cursor
from himaya.scopes import Scope

# ---- reading cases -------------------------------------------------------------------------------------

def child_read_fields(ctx: Context) -> list[str]:
    """The child's fields a read of a case shows this caller (what its audit entry names)."""
    fields = ["child.sex", "child.birth_date", "child.nationality", "child.schooling"]
    if may_see_names(ctx.principal):
        fields += ["child.names", "child.description", "child.birth_act_reference"]
    return fields


def allowed_transitions(case: CaseRecord) -> list[str]:
    """Every state the path allows from the case's (whatever the role or guards)."""
    suspended_from = Status(case.suspended_from_status) if case.suspended_from_status else None
    return [t.value for t in allowed_targets(Status(case.status), suspended_from)]


async def get_case(ctx: Context, *, case_id: uuid.UUID) -> CaseRecord:
    """A case the caller may see (404 otherwise), with its child, intake and sibling cases; the read is audited.

    The load-or-404 is the read's own single prepared statement (decision 0091), not `CurrentCase`."""
    case = await repo.get_case_with_siblings(ctx.session, ctx.protector, case_id, ctx.visibility,
                                             reveal_names=may_see_names(ctx.principal))
    if case is None:
        raise not_found()
    await ctx.audit([AuditEntry(action="case.read", object_type="case", object_id=str(case_id), case_id=case_id,
                                fields=["case", *child_read_fields(ctx)])])
    return case


async def list_cases(ctx: Context, *, status: str | None, territory_code: str | None, sex: str | None,
                     age_min: float | None, age_max: float | None, opened_from: datetime | None,
                     opened_to: datetime | None, q: str | None, limit: int, cursor: str | None
                     ) -> tuple[list[CaseRecord], str | None]:
    """A page of the cases the caller may see, newest first, filtered; each listed case is audited."""
    v = ctx.visibility
    today = clock.now().date()
    if territory_code is not None and not ctx.reference.is_territory(territory_code) and territory_code != "MA":
        raise InvalidInput("territory_code is not a known territory.")
    born_after = born_before = None
    if age_max is not None:
        born_after = today - timedelta(days=round((age_max + 1) * DAYS_PER_YEAR))
    if age_min is not None:
        born_before = today - timedelta(days=round(age_min * DAYS_PER_YEAR))
    names = may_see_names(ctx.principal)
    q = q.strip() if q is not None else None
    filters = CaseFilters(status=status, territory_code=territory_code, sex=sex, born_after=born_after,
                          born_before=born_before, opened_from=opened_from, opened_to=opened_to,
                          case_number=q.upper() if q is not None else None,
                          # Names are searched only by callers who may see them.
                          name_query=q if q is not None and names else None)
    rows = await repo.list_cases(ctx.session, ctx.protector, v=v, filters=filters, after=time_cursor(cursor),
                                 limit=limit, reveal_names=names)
    items, next_cursor = build_page(rows, limit, lambda r: [r.opened_at.isoformat(), str(r.id)])
    fields = ["case", *child_read_fields(ctx)]
    await ctx.audit([AuditEntry(action="case.list", object_type="case", object_id=str(r.id), case_id=r.id,
                                fields=fields) for r in items])
    return items, next_cursor


# ---- changing cases ------------------------------------------------------------------------------------

async def visible_case(ctx: Context, *, case_id: uuid.UUID, lock: bool = False) -> VisibleCase:
    """The case if the caller may see it (locked for the transaction when asked), else 404."""
    case = await core_repo.visible_case(ctx.session, case_id, ctx.visibility, lock=lock)
    if case is None:
        raise not_found()
    return case


async def update_case(ctx: Context, *, case: VisibleCase, data: CaseUpdate, expected_version: int) -> CaseRecord:
    """Change a case's risk, assignment or court, only if it is still at the version the caller read."""
    require(ctx.principal, Scope.CASES_WRITE)
    if case.status in TERMINAL:
        raise Conflict("A closed case cannot be changed.")
    values = data.model_dump(exclude_unset=True)
    if not values:
        raise InvalidInput("Send at least one field to change.")
    if "court_code" in values:
        if values["court_code"] is None or values["court_code"] not in ctx.reference.courts:
            raise InvalidInput("court_code is not a known court.")
    if "trafficking_suspected" in values and values["trafficking_suspected"] is None:
        raise InvalidInput("trafficking_suspected must be true or false.")
    await check_case_assignment(ctx.directory, case, values)
    if await core_repo.update_case(ctx.session, case.id, expected_version=expected_version, values=values) is None:
        raise PreconditionFailed("The case changed since you read it; read it again.")
    await core_repo.add_events(ctx.session, [{
        "case_id": case.id, "actor": ctx.principal.actor, "actor_organization_id": ctx.principal.organization_id,
        "event_type": "case.updated", "data": {"fields": sorted(values),
                                               **{k: str(values[k]) for k in ("case_manager_id", "risk_level",
                                                                             "court_code") if k in values}}}])
    # The answer carries the child's record too, so the event names what was read as well as what changed.
    await ctx.audit([AuditEntry(action="case.update", object_type="case", object_id=str(case.id), case_id=case.id,
                                fields=sorted(f"case.{k}" for k in values) + child_read_fields(ctx))])
    updated = await repo.get_case(ctx.session, ctx.protector, case.id, ctx.visibility,
                                  reveal_names=may_see_names(ctx.principal))
    assert updated is not None
    siblings = await repo.sibling_case_ids(ctx.session, intake_id=updated.intake.id, case_id=case.id,
                                           v=ctx.visibility)
    return dataclasses.replace(updated, sibling_ids=siblings)


async def transition_case(ctx: Context, *, case: VisibleCase, data: TransitionCreate) -> TransitionRecord:
    """Move a case along its path if the state machine, the caller's role and the step's guard allow it (the case
    is locked: see `CaseForUpdate`)."""
    case_id = case.id
    today = clock.now().date()
    facts = await repo.case_facts(ctx.session, case_id, today)
    target = check_transition(facts=facts, target=Status(data.to), role=ctx.principal.role,
                              scopes=ctx.principal.scopes, reason=data.reason, today=today)
    values: dict[str, Any] = {"status": target.value}
    if target == Status.SUSPENDED:
        values["suspended_from_status"] = facts.status.value
    elif facts.status == Status.SUSPENDED:
        values["suspended_from_status"] = None
    sealed = None
    if target in TERMINAL:
        values["closed_at"] = clock.now()
        sealed = {"closure_reason": data.reason}
        # The reporter's reason to see the case ends with it (decision 0107).
        await decisions.end_reporter_grants(ctx, case_id=case_id)
    transfer_place = None
    if target == Status.TRANSFERRED_OUT:
        if data.commune_code is None:
            raise InvalidInput("A transfer needs the commune_code the child moves to.")
        transfer_place = ctx.reference.place(data.commune_code)
        if transfer_place.prefecture_code == case.prefecture_code:
            raise InvalidInput("A transfer goes to another prefecture; change the case's commune instead.")
    elif data.commune_code is not None:
        raise InvalidInput("commune_code is only for transferred_out.")
    version = await core_repo.update_case(ctx.session, case_id, expected_version=None, values=values,
                                          protector=ctx.protector, sealed=sealed)
    assert version is not None
    events: list[dict[str, Any]] = [{
        "case_id": case_id, "actor": ctx.principal.actor, "actor_organization_id": ctx.principal.organization_id,
        "event_type": "case.status_changed", "from_status": facts.status.value, "to_status": target.value,
        "data": {}, "reason": data.reason}]
    opened_case_id = None
    if transfer_place is not None:
        opened_case_id = await _open_transferred_case(ctx, case_id=case_id, place=transfer_place)
        events[0]["data"] = {"opened_case_id": str(opened_case_id)}
    await core_repo.add_events(ctx.session, events, protector=ctx.protector)
    await ctx.audit([AuditEntry(action="case.transition", object_type="case", object_id=str(case_id),
                                case_id=case_id, fields=["case.status"] + (["case.reason"] if data.reason else []))])
    return TransitionRecord(case_id=case_id, from_status=facts.status.value, status=target.value,
                          version=version, opened_case_id=opened_case_id)


async def _open_transferred_case(ctx: Context, *, case_id: uuid.UUID, place: Place) -> uuid.UUID:
    row = await repo.get_case(ctx.session, ctx.protector, case_id, ctx.visibility, reveal_names=False)
    assert row is not None
    opened_at = clock.now()
    number = await core_repo.allocate_case_numbers(ctx.session, prefecture_code=place.prefecture_code,
                                              year=opened_at.year, count=1)
    new_case = new_id()
    court = ctx.reference.court_for(place, None)
    await core_repo.insert_cases(ctx.session, [{
        "id": new_case, "case_number": f"{place.case_prefix}-{opened_at.year}-{number:06d}",
        "child_id": row.child_id, "recorded_child_id": row.recorded_child_id, "intake_id": row.intake.id,
        "region_code": place.region_code, "prefecture_code": place.prefecture_code,
        "commune_code": place.commune_code, "court_code": court,
        "status": Status.REPORTED.value, "risk_level": row.risk_level,
        "trafficking_suspected": row.trafficking_suspected, "transferred_from_case_id": case_id,
        "age_at_intake_years": row.age_at_intake_years, "duplicate_checked_at": opened_at,
        "opened_at": opened_at}])
    await core_repo.update_case(ctx.session, case_id, expected_version=None,
                           values={"transferred_to_case_id": new_case})
    await repo.copy_adult_links(ctx.session, from_case=case_id, to_case=new_case)
    await core_repo.add_events(ctx.session, [{
        "case_id": new_case, "actor": ctx.principal.actor, "actor_organization_id": ctx.principal.organization_id,
        "event_type": "case.opened", "to_status": Status.REPORTED.value,
        "data": {"transferred_from_case_id": str(case_id), "intake_id": str(row.intake.id)}}])
    return new_case


# ---- timeline ------------------------------------------------------------------------------------------

async def get_timeline(ctx: Context, *, case: VisibleCase, limit: int, cursor: str | None
                       ) -> tuple[list[TimelineRecord], str | None]:
    """Every event of a visible case in order, including those received from referrals."""
    case_id = case.id
    after = None
    if cursor:
        (last,) = decode_cursor(cursor, 1)
        if not isinstance(last, int):
            raise InvalidInput("The cursor is not valid.")
        after = last
    # Decisions about the adult (prosecution, no further action) are offence data: police and prosecution only.
    names = may_see_names(ctx.principal)
    rows = await repo.list_events(ctx.session, ctx.protector, case_id, after=after, limit=limit,
                                  with_adult_decisions=may_see_offences(ctx.principal), reveal_reasons=names)
    items, next_cursor = build_page(rows, limit, lambda r: [r.id])
    await ctx.audit([AuditEntry(action="case.timeline.read", object_type="case", object_id=str(case_id),
                                case_id=case_id, fields=["timeline"] + (["timeline.reason"] if names else []))])
    return items, next_cursor


# ---- adults --------------------------------------------------------------------------------------------

async def list_adults(ctx: Context, *, case: VisibleCase
                      ) -> tuple[list[AdultRecord], dict[uuid.UUID, list[AdultMeasure]]]:
    """The accompanying adults of a visible case, and (police and prosecution only, with the offence data) the
    prosecutor's decisions about each."""
    offences = may_see_offences(ctx.principal)
    adults = await repo.adults_of_case(ctx.session, ctx.protector, case.id, reveal_names=may_see_names(ctx.principal),
                                       reveal_offences=offences)
    measures: dict[uuid.UUID, list[AdultMeasure]] = {}
    if offences:
        for m in await repo.measures_for_adults(ctx.session, [a.id for a in adults], case.id):
            measures.setdefault(m.adult_id, []).append(m)
    fields = ["adults"] + (["adults.names"] if may_see_names(ctx.principal) else []) + (
        ["adults.cnie"] if offences or may_see_adult_identity(ctx.principal) else [])
    if offences:
        fields += ["adults.offences"]
    await ctx.audit([AuditEntry(action="case.adults.read", object_type="case", object_id=str(case.id),
                                case_id=case.id, fields=fields)])
    return adults, measures


async def add_adult(ctx: Context, *, case: VisibleCase, data: AdultCreate) -> AdultRecord:
    """Add an accompanying adult to a visible, open case."""
    require(ctx.principal, Scope.CASES_WRITE)
    ensure_open(case.status)
    (adult,) = await core_repo.insert_adults(ctx.session, ctx.protector, [data], intake_id=None)
    await core_repo.link_adults(ctx.session, [{"case_id": case.id, "adult_id": adult.id,
                                               "claimed_relationship": data.claimed_relationship}])
    await core_repo.add_events(ctx.session, [{
        "case_id": case.id, "actor": ctx.principal.actor, "actor_organization_id": ctx.principal.organization_id,
        "event_type": "adult.added", "data": {"adult_id": str(adult.id),
                                              "claimed_relationship": data.claimed_relationship}}])
    await ctx.audit([AuditEntry(action="case.adult.create", object_type="adult", object_id=str(adult.id),
                                case_id=case.id, fields=["adult"])])
    adults = await repo.adults_of_case(ctx.session, ctx.protector, case.id, reveal_names=may_see_names(ctx.principal),
                                       reveal_offences=may_see_offences(ctx.principal))
    return next(a for a in adults if a.id == adult.id)


# ---- children ------------------------------------------------------------------------------------------

async def get_child(ctx: Context, *, child_id: uuid.UUID) -> list[CaseRecord]:
    """A child's cases the caller may see, newest first (404 if none); each is audited as a read of the child."""
    v = ctx.visibility
    child_id = await duplicates.current_child_id(ctx, child_id=child_id)
    cases = await repo.list_cases(ctx.session, ctx.protector, v=v, filters=CaseFilters(child_id=child_id),
                                  after=None, limit=200, reveal_names=may_see_names(ctx.principal))
    if not cases:
        raise not_found("child")
    await ctx.audit([AuditEntry(action="child.read", object_type="child", object_id=str(child_id),
                                case_id=c.id, fields=child_read_fields(ctx)) for c in cases])
    return cases
