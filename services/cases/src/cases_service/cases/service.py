"""Cases: reading one or a page, changing them, their path (transitions), timeline, adults and children."""

from __future__ import annotations

import uuid
from collections.abc import Mapping
from datetime import date, datetime, timedelta
from typing import Any

from cases_service.cases import repository as repo
from cases_service.cases.schemas import (
    AdultIdentityRead,
    AdultOffenceRead,
    AdultRead,
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
from cases_service.core import repository as core_repo
from cases_service.core.access import may_see_adult_identity, may_see_names, may_see_offences, not_found, require
from cases_service.core.context import DAYS_PER_YEAR, Context, age_years, new_id, time_cursor
from cases_service.core.directory import check_case_assignment
from cases_service.core.enums import TERMINAL, Status
from cases_service.core.protection import NAME_FIELDS
from cases_service.core.records import VisibleCase
from cases_service.core.repository import territory_clause
from cases_service.core.schemas import PersonNames
from cases_service.core.states import CaseFacts, allowed_targets, check_transition, ensure_open
from cases_service.core.tables import cases as cases_table
from cases_service.decisions import service as decisions
from cases_service.duplicates import repository as dup
from cases_service.intakes.schemas import (
    AdultCreate,
)
from himaya import clock
from himaya.audit import AuditEntry
from himaya.errors import Conflict, InvalidInput, PreconditionFailed
from himaya.pagination import Page, build_page, decode_cursor
from himaya.scopes import Scope

CHILD_SECRET_FIELDS = (*NAME_FIELDS, "description", "birth_act_reference")
ADULT_SECRET_FIELDS = (*NAME_FIELDS, "cnie")




# ---- outings -------------------------------------------------------------------------------------------







# ---- intakes -------------------------------------------------------------------------------------------









# ---- reading cases -------------------------------------------------------------------------------------

def _child_read(ctx: Context, row: Mapping[Any, Any], *, prefix: str = "child__", today: date) -> ChildRead:
    names_allowed = may_see_names(ctx.principal)
    child = {k[len(prefix):]: v for k, v in row.items() if k.startswith(prefix)}
    # The identity is the record the case was opened with; the id is the child the case now counts for (the
    # survivor after a merge): decision 0100.
    data: dict[str, Any] = {
        "id": row.get("child_id", child["id"]), "sex": child["sex"], "birth_date": child["birth_date"],
        "estimated_age_years": float(child["estimated_age_years"]) if child["estimated_age_years"] is not None
        else None,
        "age_years": age_years(child["reference_birth_date"], today), "nationality": child["nationality"],
        "civil_status_registered": child["civil_status_registered"], "schooling": child["schooling"],
        "disability": child["disability"],
        "age_at_intake_years": float(row["age_at_intake_years"]) if row.get("age_at_intake_years") is not None
        else None}
    if names_allowed:
        plain = ctx.protector.open("children", child, *CHILD_SECRET_FIELDS)
        data["names"] = PersonNames(**{f: plain[f] for f in NAME_FIELDS})
        data["description"] = plain["description"]
        data["birth_act_reference"] = plain["birth_act_reference"]
    return ChildRead(**data)


def _summary_fields(ctx: Context, row: Mapping[Any, Any], today: date) -> dict[str, Any]:
    return {"id": row["id"], "case_number": row["case_number"], "status": row["status"],
            "commune_code": row["commune_code"], "prefecture_code": row["prefecture_code"],
            "court_code": row["court_code"], "risk_level": row["risk_level"],
            "trafficking_suspected": row["trafficking_suspected"], "opened_at": row["opened_at"],
            "closed_at": row["closed_at"],
            "repeat_of_case_id": row["repeat_of_case_id"] if row.get("repeat_visible", True) else None,
            "child": _child_read(ctx, row, today=today)}


def _child_read_fields(ctx: Context) -> list[str]:
    fields = ["child.sex", "child.birth_date", "child.nationality", "child.schooling"]
    if may_see_names(ctx.principal):
        fields += ["child.names", "child.description", "child.birth_act_reference"]
    return fields


async def get_case(ctx: Context, *, case_id: uuid.UUID) -> CaseRead:
    """A case the caller may see (404 otherwise), with its child and intake; the read is audited."""
    v = ctx.visibility
    row = await repo.get_case_with_siblings(ctx.session, case_id, v)
    if row is None:
        raise not_found()
    siblings = list(row["sibling_ids"])
    await ctx.audit([AuditEntry(action="case.read", object_type="case", object_id=str(case_id), case_id=case_id,
                                fields=["case", *_child_read_fields(ctx)])])
    return _case_read(ctx, row, siblings)


def _case_read(ctx: Context, row: Mapping[Any, Any], siblings: list[uuid.UUID]) -> CaseRead:
    today = clock.now().date()
    status = Status(row["status"])
    suspended_from = Status(row["suspended_from_status"]) if row["suspended_from_status"] else None
    return CaseRead(
        **_summary_fields(ctx, row, today), region_code=row["region_code"],
        suspended_from_status=row["suspended_from_status"], lead_organization_id=row["lead_organization_id"],
        case_manager_id=row["case_manager_id"], transferred_from_case_id=row["transferred_from_case_id"],
        transferred_to_case_id=row["transferred_to_case_id"],
        intake=IntakeSummary(id=row["intake_id"], reported_at=row["intake__reported_at"],
                             source=row["intake__source"], place_type=row["intake__place_type"],
                             night=row["intake__night"], exploitation_pattern=row["intake__exploitation_pattern"],
                             outing_id=row["intake__outing_id"]),
        sibling_case_ids=siblings, allowed_transitions=[t.value for t in allowed_targets(status, suspended_from)],
        version=row["version"])






async def list_cases(ctx: Context, *, status: str | None, territory_code: str | None, sex: str | None,
                     age_min: float | None, age_max: float | None, opened_from: datetime | None,
                     opened_to: datetime | None, q: str | None, limit: int, cursor: str | None
                     ) -> Page[CaseSummary]:
    """A page of the cases the caller may see, newest first, with API.md's filters; each listed case is audited."""
    v = ctx.visibility
    today = clock.now().date()
    territory = None
    if territory_code is not None:
        if not ctx.reference.is_territory(territory_code) and territory_code != "MA":
            raise InvalidInput("territory_code is not a known territory.")
        territory = territory_clause((territory_code,))
    born_after = born_before = None
    if age_max is not None:
        born_after = today - timedelta(days=round((age_max + 1) * DAYS_PER_YEAR))
    if age_min is not None:
        born_before = today - timedelta(days=round(age_min * DAYS_PER_YEAR))
    case_number = tokens = None
    if q is not None:
        q = q.strip()
        case_number = q.upper()
        tokens = ctx.protector.query_tokens(q) if may_see_names(ctx.principal) else []
    filters = repo.case_filters(status=status, territory=territory, sex=sex, born_after=born_after,
                                born_before=born_before, opened_from=opened_from, opened_to=opened_to,
                                case_number=case_number, tokens=tokens)
    after = time_cursor(cursor)
    rows = await repo.list_cases(ctx.session, v=v, filters=filters, after=after, limit=limit)
    items, next_cursor = build_page(rows, limit, lambda r: [r["opened_at"].isoformat(), str(r["id"])])
    fields = ["case", *_child_read_fields(ctx)]
    await ctx.audit([AuditEntry(action="case.list", object_type="case", object_id=str(r["id"]), case_id=r["id"],
                                fields=fields) for r in items])
    return Page[CaseSummary](items=[CaseSummary(**_summary_fields(ctx, r, today)) for r in items],
                             next_cursor=next_cursor)


# ---- changing cases ------------------------------------------------------------------------------------

async def visible_case(ctx: Context, *, case_id: uuid.UUID, lock: bool = False) -> VisibleCase:
    """The case if the caller may see it (locked for the transaction when asked), else 404."""
    case = await core_repo.visible_case(ctx.session, case_id, ctx.visibility, lock=lock)
    if case is None:
        raise not_found()
    return case


async def update_case(ctx: Context, *, case: VisibleCase, data: CaseUpdate, expected_version: int) -> CaseRead:
    """Change a case's risk, assignment or court, only if it is still at the version the caller read."""
    require(ctx.principal, Scope.CASES_WRITE)
    v, case_id, current = ctx.visibility, case.id, case
    if current.status in TERMINAL:
        raise Conflict("A closed case cannot be changed.")
    values = data.model_dump(exclude_unset=True)
    if not values:
        raise InvalidInput("Send at least one field to change.")
    if "court_code" in values:
        if values["court_code"] is None or values["court_code"] not in ctx.reference.courts:
            raise InvalidInput("court_code is not a known court.")
    if "trafficking_suspected" in values and values["trafficking_suspected"] is None:
        raise InvalidInput("trafficking_suspected must be true or false.")
    await check_case_assignment(ctx.directory, current, values)
    updated = await core_repo.update_case(ctx.session, case_id, expected_version=expected_version, values=values)
    if updated is None:
        raise PreconditionFailed("The case changed since you read it; read it again.")
    await core_repo.add_events(ctx.session, [{
        "case_id": case_id, "actor": ctx.principal.actor, "actor_organization_id": ctx.principal.organization_id,
        "event_type": "case.updated", "data": {"fields": sorted(values),
                                               **{k: str(values[k]) for k in ("case_manager_id", "risk_level",
                                                                             "court_code") if k in values}}}])
    # The answer carries the child's record too, so the event names what was read as well as what changed.
    await ctx.audit([AuditEntry(action="case.update", object_type="case", object_id=str(case_id), case_id=case_id,
                                fields=sorted(f"case.{k}" for k in values) + _child_read_fields(ctx))])
    row = await repo.get_case(ctx.session, case_id, v)
    assert row is not None
    siblings = await repo.sibling_case_ids(ctx.session, intake_id=row["intake_id"], case_id=case_id, v=v)
    return _case_read(ctx, row, siblings)


async def transition_case(ctx: Context, *, case: VisibleCase, data: TransitionCreate) -> TransitionRead:
    """Move a case along its path if the state machine, the caller's role and the step's guard allow it (the case
    is locked: see `CaseForUpdate`)."""
    case_id = case.id
    today = clock.now().date()
    f = await repo.case_facts(ctx.session, case_id, today)
    facts = CaseFacts(
        status=Status(f["status"]),
        suspended_from=Status(f["suspended_from_status"]) if f["suspended_from_status"] else None,
        child_identified=f["child_identified"], duplicate_checked=f["duplicate_checked"],
        prosecution_referral=f["prosecution_referral"], child_decision=f["child_decision"],
        case_manager_assigned=f["case_manager_assigned"], social_enquiry_completed=f["social_enquiry_completed"],
        care_plan_validated=f["care_plan_validated"], next_visit_due=f["next_visit_due"],
        active_child_measures=f["active_child_measures"])
    target = check_transition(facts=facts, target=Status(data.to), role=ctx.principal.role,
                              scopes=ctx.principal.scopes, reason=data.reason, today=today)
    values: dict[str, Any] = {"status": target.value}
    if target == Status.SUSPENDED:
        values["suspended_from_status"] = facts.status.value
    elif facts.status == Status.SUSPENDED:
        values["suspended_from_status"] = None
    if target in (Status.CLOSED, Status.CLOSED_NOT_IN_SCOPE, Status.TRANSFERRED_OUT):
        values["closed_at"] = clock.now()
        values.update(ctx.protector.seal("cases", case_id, {"closure_reason": data.reason}))
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
    updated = await core_repo.update_case(ctx.session, case_id, expected_version=None, values=values)
    assert updated is not None
    events: list[dict[str, Any]] = [{
        "case_id": case_id, "actor": ctx.principal.actor, "actor_organization_id": ctx.principal.organization_id,
        "event_type": "case.status_changed", "from_status": facts.status.value, "to_status": target.value,
        "data": {}, "reason_enc": None}]
    opened_case_id = None
    if transfer_place is not None:
        opened_case_id = await _open_transferred_case(ctx, case_id=case_id, place=transfer_place)
        events[0]["data"] = {"opened_case_id": str(opened_case_id)}
    # Timeline rows get their id from the database, so their reasons are bound to the case's id.
    events[0]["reason_enc"] = ctx.protector.cipher.encrypt(data.reason, table="case_events", column="reason",
                                                           row_id=case_id)
    await core_repo.add_events(ctx.session, events)
    await ctx.audit([AuditEntry(action="case.transition", object_type="case", object_id=str(case_id),
                                case_id=case_id, fields=["case.status"] + (["case.reason"] if data.reason else []))])
    return TransitionRead(case_id=case_id, from_status=facts.status.value, status=target.value,
                          version=updated["version"], opened_case_id=opened_case_id)


async def _open_transferred_case(ctx: Context, *, case_id: uuid.UUID, place: Any) -> uuid.UUID:
    row = await repo.get_case(ctx.session, case_id, ctx.visibility)
    assert row is not None
    opened_at = clock.now()
    number = await core_repo.allocate_case_numbers(ctx.session, prefecture_code=place.prefecture_code,
                                              year=opened_at.year, count=1)
    new_case = new_id()
    court = ctx.reference.court_for(place, None)
    await core_repo.insert_cases(ctx.session, [{
        "id": new_case, "case_number": f"{place.case_prefix}-{opened_at.year}-{number:06d}",
        "child_id": row["child_id"], "recorded_child_id": row["recorded_child_id"], "intake_id": row["intake_id"],
        "region_code": place.region_code, "prefecture_code": place.prefecture_code,
        "commune_code": place.commune_code, "court_code": court,
        "status": Status.REPORTED.value, "risk_level": row["risk_level"],
        "trafficking_suspected": row["trafficking_suspected"], "transferred_from_case_id": case_id,
        "age_at_intake_years": row["age_at_intake_years"], "duplicate_checked_at": opened_at,
        "opened_at": opened_at}])
    await core_repo.update_case(ctx.session, case_id, expected_version=None,
                           values={"transferred_to_case_id": new_case})
    await repo.copy_adult_links(ctx.session, from_case=case_id, to_case=new_case)
    await core_repo.add_events(ctx.session, [{
        "case_id": new_case, "actor": ctx.principal.actor, "actor_organization_id": ctx.principal.organization_id,
        "event_type": "case.opened", "to_status": Status.REPORTED.value,
        "data": {"transferred_from_case_id": str(case_id), "intake_id": str(row["intake_id"])}}])
    return new_case


# ---- timeline ------------------------------------------------------------------------------------------

async def get_timeline(ctx: Context, *, case: VisibleCase, limit: int, cursor: str | None) -> Page[TimelineEvent]:
    """Every event of a visible case in order, including those received from referrals."""
    case_id = case.id
    after = None
    if cursor:
        (last,) = decode_cursor(cursor, 1)
        if not isinstance(last, int):
            raise InvalidInput("The cursor is not valid.")
        after = last
    # Decisions about the adult (prosecution, no further action) are offence data: police and prosecution only.
    rows = await repo.list_events(ctx.session, case_id, after=after, limit=limit,
                                  with_adult_decisions=may_see_offences(ctx.principal))
    items, next_cursor = build_page(rows, limit, lambda r: [r["id"]])
    names = may_see_names(ctx.principal)
    out = []
    for r in items:
        reason = None
        if names and r["reason_enc"] is not None:
            reason = ctx.protector.cipher.decrypt(bytes(r["reason_enc"]), table="case_events", column="reason",
                                                  row_id=r["case_id"])
        out.append(TimelineEvent(id=r["id"], occurred_at=r["occurred_at"], actor=r["actor"],
                                 event_type=r["event_type"], from_status=r["from_status"],
                                 to_status=r["to_status"], data=r["data"], reason=reason))
    await ctx.audit([AuditEntry(action="case.timeline.read", object_type="case", object_id=str(case_id),
                                case_id=case_id, fields=["timeline"] + (["timeline.reason"] if names else []))])
    return Page[TimelineEvent](items=out, next_cursor=next_cursor)


# ---- adults --------------------------------------------------------------------------------------------

async def list_adults(ctx: Context, *, case: VisibleCase) -> list[AdultRead]:
    """The accompanying adults of a visible case; offence data only for police and prosecution."""
    case_id = case.id
    rows = await repo.case_adults_rows(ctx.session, case_id)
    offences = may_see_offences(ctx.principal)
    measures: dict[uuid.UUID, list[dict[str, Any]]] = {}
    if offences:
        for m in await repo.measures_for_adults(ctx.session, [r["id"] for r in rows], case_id):
            measures.setdefault(m["adult_id"], []).append(
                {"id": str(m["id"]), "decision_type": m["decision_type"], "decided_at": m["decided_at"].isoformat(),
                 "reference": m["reference"], "active": m["active"]})
    out: list[AdultRead] = [_adult_read(ctx, r, offences=offences, measures=measures.get(r["id"], []))
                            for r in rows]
    fields = ["adults"] + (["adults.names"] if may_see_names(ctx.principal) else []) + (
        ["adults.cnie"] if offences or may_see_adult_identity(ctx.principal) else [])
    if offences:
        fields += ["adults.offences"]
    await ctx.audit([AuditEntry(action="case.adults.read", object_type="case", object_id=str(case_id),
                                case_id=case_id, fields=fields)])
    return out


def _adult_read(ctx: Context, row: Mapping[Any, Any], *, offences: bool,
                measures: list[dict[str, Any]]) -> AdultRead:
    names_allowed = may_see_names(ctx.principal)
    plain = ctx.protector.open("adults", row, *ADULT_SECRET_FIELDS) if names_allowed else {}
    names = PersonNames(**{f: plain.get(f) for f in NAME_FIELDS}) if names_allowed else None
    full = None
    if names is not None:
        latin = " ".join(p for p in (names.first_name, names.last_name) if p)
        arabic = " ".join(p for p in (names.first_name_ar, names.last_name_ar) if p)
        full = latin or arabic or None
    base: dict[str, Any] = {"id": row["id"], "full_name": full, "names": names, "sex": row["sex"],
                            "age": row["age_years"], "nationality": row["nationality"],
                            "claimed_relationship": row["claimed_relationship"]}
    if offences:
        notes = ctx.protector.open("adults", row, "offence_notes")["offence_notes"]
        return AdultOffenceRead(**base, cnie=plain.get("cnie"), suspected_offender=row["suspected_offender"],
                                offence_notes=notes, judicial_measures=measures)
    if may_see_adult_identity(ctx.principal):
        return AdultIdentityRead(**base, cnie=plain.get("cnie"))
    return AdultRead(**base)


async def add_adult(ctx: Context, *, case: VisibleCase, data: AdultCreate) -> AdultRead:
    """Add an accompanying adult to a visible, open case."""
    require(ctx.principal, Scope.CASES_WRITE)
    case_id = case.id
    ensure_open(case.status)
    (adult,) = await core_repo.insert_adults(ctx.session, ctx.protector, [data], intake_id=None)
    await core_repo.link_adults(ctx.session, [{"case_id": case_id, "adult_id": adult.id,
                                               "claimed_relationship": data.claimed_relationship}])
    await core_repo.add_events(ctx.session, [{
        "case_id": case_id, "actor": ctx.principal.actor, "actor_organization_id": ctx.principal.organization_id,
        "event_type": "adult.added", "data": {"adult_id": str(adult.id),
                                              "claimed_relationship": data.claimed_relationship}}])
    await ctx.audit([AuditEntry(action="case.adult.create", object_type="adult", object_id=str(adult.id),
                                case_id=case_id, fields=["adult"])])
    row = next(r for r in await repo.case_adults_rows(ctx.session, case_id) if r["id"] == adult.id)
    return _adult_read(ctx, row,
                       offences=may_see_offences(ctx.principal), measures=[])




# ---- children ------------------------------------------------------------------------------------------

async def get_child(ctx: Context, *, child_id: uuid.UUID) -> ChildWithCases:
    """A child across the cases the caller may see (404 if none)."""
    v = ctx.visibility
    child_id = await dup.survivor_of(ctx.session, child_id)
    filters = repo.case_filters(status=None, territory=None, sex=None, born_after=None, born_before=None,
                                opened_from=None, opened_to=None, case_number=None, tokens=None)
    rows = await repo.list_cases(ctx.session, v=v, filters=[*filters, cases_table.c.child_id == child_id],
                                 after=None, limit=200)
    if not rows:
        raise not_found("child")
    today = clock.now().date()
    summaries = [CaseSummary(**_summary_fields(ctx, r, today)) for r in rows]
    await ctx.audit([AuditEntry(action="child.read", object_type="child", object_id=str(child_id),
                                case_id=r["id"], fields=_child_read_fields(ctx)) for r in rows])
    return ChildWithCases(**summaries[0].child.model_dump(exclude={"age_at_intake_years"}), cases=summaries)




