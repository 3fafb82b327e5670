"""Intakes, cases, their child and adults, transitions and the timeline."""

from __future__ import annotations

import uuid
from collections.abc import Mapping
from datetime import date, datetime, timedelta
from typing import Any

from sqlalchemy.engine import RowMapping
from sqlalchemy.exc import IntegrityError

from cases_service.core.access import may_see_adult_identity, may_see_names, may_see_offences, require
from cases_service.core.context import DAYS_PER_YEAR, Context, age_years, new_id, now
from cases_service.core.directory import check_case_assignment
from cases_service.core.enums import Relation, Status
from cases_service.core.protection import NAME_FIELDS
from cases_service.core.repository import territory_clause
from cases_service.core.schemas import PersonNames
from cases_service.core.states import CaseFacts, allowed_targets, check_transition
from cases_service.core.tables import cases as cases_table
from cases_service.core.tables import outings
from cases_service.db import duplicates_repository as dup
from cases_service.db import repository as repo
from cases_service.domain import duplicates, grants
from cases_service.schemas.cases import (
    AdultCreate,
    AdultIdentityRead,
    AdultOffenceRead,
    AdultRead,
    CaseRead,
    CaseSummary,
    CaseUpdate,
    ChildCreate,
    ChildRead,
    ChildWithCases,
    IntakeCaseRead,
    IntakeCreate,
    IntakeRead,
    IntakeSummary,
    OutingCreate,
    OutingRead,
    TimelineEvent,
    TransitionCreate,
    TransitionRead,
)
from himaya.audit import AuditEntry
from himaya.errors import Conflict, InvalidInput, NotFound, PreconditionFailed
from himaya.pagination import Page, build_page, decode_cursor
from himaya.scopes import Scope

CHILD_SECRET_FIELDS = (*NAME_FIELDS, "description", "birth_act_reference")
ADULT_SECRET_FIELDS = (*NAME_FIELDS, "cnie")


def _not_found(what: str = "case") -> NotFound:
    return NotFound(f"No {what} with this id.")


# ---- outings -------------------------------------------------------------------------------------------

async def create_outing(*, ctx: Context, data: OutingCreate) -> OutingRead:
    """Record a field team's outing in a commune of the caller's territories."""
    require(ctx.principal, Scope.CASES_WRITE)
    place = ctx.reference.place(data.commune_code)
    if not ctx.principal.covers(place.commune_code):
        raise InvalidInput("The commune is outside your territories.")
    row = await repo.insert_outing(ctx.session, {
        "id": new_id(), "field_team_id": data.field_team_id, "started_at": data.started_at,
        "ended_at": data.ended_at, "region_code": place.region_code, "prefecture_code": place.prefecture_code,
        "commune_code": place.commune_code, "members_present": data.members_present,
        "organization_id": ctx.principal.organization_id, "created_by": ctx.principal.actor})
    return OutingRead.model_validate({**row, "intake_count": 0})


async def get_outing(*, ctx: Context, outing_id: uuid.UUID) -> OutingRead:
    """An outing of the caller's territories."""
    require(ctx.principal, Scope.CASES_READ)
    row = await repo.get_outing(ctx.session, outing_id)
    if row is None or not ctx.principal.covers(row["commune_code"]):
        raise _not_found("outing")
    return OutingRead.model_validate(row)


async def list_outings(*, ctx: Context, limit: int, cursor: str | None) -> Page[OutingRead]:
    """Outings of the caller's territories, newest first."""
    require(ctx.principal, Scope.CASES_READ)
    after = None
    if cursor:
        started, oid = decode_cursor(cursor, 2)
        after = (_parse_dt(started), _parse_uuid(oid))
    rows = await repo.list_outings(ctx.session, territory=territory_clause(ctx.principal.territories, outings),
                                   after=after, limit=limit)
    items, next_cursor = build_page(rows, limit, lambda r: [r["started_at"].isoformat(), str(r["id"])])
    return Page[OutingRead](items=[OutingRead.model_validate(r) for r in items], next_cursor=next_cursor)


# ---- intakes -------------------------------------------------------------------------------------------

def _reference_birth_date(child: ChildCreate, on: date) -> date:
    if child.birth_date is not None:
        return child.birth_date
    assert child.estimated_age_years is not None
    return on - timedelta(days=round(child.estimated_age_years * DAYS_PER_YEAR))


async def create_intake(*, ctx: Context, data: IntakeCreate) -> IntakeRead:
    """Record an encounter: one case per child, siblings linked through the intake, all in one transaction."""
    require(ctx.principal, Scope.INTAKES_WRITE)
    session, principal, protector = ctx.session, ctx.principal, ctx.protector
    v = ctx.visibility
    place = ctx.reference.place(data.commune_code)
    if not principal.covers(place.commune_code):
        raise InvalidInput("The commune is outside your territories.")
    court_code = ctx.reference.court_for(place, data.court_code)
    if data.outing_id is not None:
        outing = await repo.get_outing(session, data.outing_id)
        if outing is None or not principal.covers(outing["commune_code"]):
            raise InvalidInput("outing_id does not name an outing of your territories.")

    existing_ids = [c.child_id for c in data.children if c.child_id is not None]
    known: Mapping[uuid.UUID, RowMapping] = {}
    if existing_ids:
        known = await repo.visible_children_latest_cases(session, existing_ids, v)
        for child_id in existing_ids:
            if known.get(child_id) is None:
                raise InvalidInput(f"child_id {child_id} does not name a child you may see.")
        for open_case in await repo.open_cases_of_children(session, existing_ids, v):
            raise open_case_conflict(ctx, open_case)

    opened_at = now()
    intake_id = new_id()
    await repo.insert_intake(session, {
        "id": intake_id, "outing_id": data.outing_id, "reported_at": data.reported_at, "source": data.source,
        "region_code": place.region_code, "prefecture_code": place.prefecture_code,
        "commune_code": place.commune_code, "court_code": court_code, "place_type": data.place_type,
        "night": data.night, "exploitation_pattern": data.exploitation_pattern,
        **protector.seal("intakes", intake_id, {"narrative": data.narrative}),
        "organization_id": principal.organization_id, "created_by": principal.actor})

    child_rows: list[dict[str, Any]] = []
    child_ids: list[uuid.UUID] = []
    child_refs: list[date] = []
    new_tokens: dict[uuid.UUID, list[str]] = {}
    new_keys: dict[uuid.UUID, list[str]] = {}
    # The record each case is opened with: a new child's own; for a child seen before, the record of the latest
    # case the caller sees, so a repeat case shows the identity this caller knows (decision 0100).
    recorded: dict[uuid.UUID, uuid.UUID] = {}
    for child in data.children:
        if child.child_id is not None:
            child_ids.append(child.child_id)
            child_refs.append(known[child.child_id]["reference_birth_date"])
            recorded[child.child_id] = known[child.child_id]["id"]
            continue
        cid = new_id()
        names = {f: getattr(child, f) for f in NAME_FIELDS}
        tokens = protector.name_tokens(names)
        ref = _reference_birth_date(child, data.reported_at.date())
        child_rows.append({
            "id": cid, **protector.seal("children", cid, {**names, "description": child.description,
                                                           "birth_act_reference": child.birth_act_reference}),
            "name_tokens": tokens, "sex": child.sex, "birth_date": child.birth_date,
            "estimated_age_years": child.estimated_age_years,
            "age_estimated_on": data.reported_at.date() if child.birth_date is None else None,
            "reference_birth_date": ref, "nationality": child.nationality,
            "civil_status_registered": child.civil_status_registered, "schooling": child.schooling or "unknown",
            "disability": child.disability})
        child_ids.append(cid)
        child_refs.append(ref)
        recorded[cid] = cid
        new_tokens[cid] = tokens
        new_keys[cid] = protector.key_tokens(names)
    await repo.insert_children(session, child_rows)

    adult_rows: list[dict[str, Any]] = []
    for adult in data.adults:
        adult_rows.append(_adult_row(ctx, adult, intake_id=intake_id))
    await repo.insert_adults(session, adult_rows)

    sexes = {cid: child.sex for cid, child in zip(child_ids, data.children, strict=True)}
    candidates, proposed = await duplicates.propose_at_intake(ctx, children=[
        (cid, new_tokens[cid], new_keys[cid], str(sexes[cid]), ref)
        for cid, ref in zip(child_ids, child_refs, strict=True) if new_tokens.get(cid)],
        adults=[(a["cnie_index"], a["name_tokens"]) for a in adult_rows], exclude=child_ids)

    # The prefecture's counter row stays locked until COMMIT: take it after the reads and the search for
    # duplicates, so concurrent intakes of one prefecture queue only behind the last few statements.
    first = await repo.allocate_case_numbers(session, prefecture_code=place.prefecture_code, year=opened_at.year,
                                             count=len(child_ids))
    case_rows: list[dict[str, Any]] = []
    for i, (child, cid, ref) in enumerate(zip(data.children, child_ids, child_refs, strict=True)):
        repeat_of = known[cid]["case_id"] if cid in known else None
        case_rows.append({
            "id": new_id(), "case_number": f"{place.case_prefix}-{opened_at.year}-{first + i:06d}",
            "child_id": cid, "recorded_child_id": recorded[cid], "intake_id": intake_id,
            "region_code": place.region_code,
            "prefecture_code": place.prefecture_code, "commune_code": place.commune_code, "court_code": court_code,
            "status": Status.REPORTED.value, "risk_level": child.risk_level,
            "trafficking_suspected": child.trafficking_suspected or data.exploitation_pattern == "network_suspected",
            "lead_organization_id": principal.organization_id, "repeat_of_case_id": repeat_of,
            "age_at_intake_years": age_years(ref, data.reported_at.date()),
            "duplicate_checked_at": opened_at, "opened_at": opened_at})
    try:
        await repo.insert_cases(session, case_rows)
    except IntegrityError as exc:  # a concurrent intake opened a case for the same child first
        raise handle_integrity(exc) from exc  # the request's transaction is rolled back
    await repo.link_adults(session, [
        {"case_id": case["id"], "adult_id": adult["id"], "claimed_relationship": spec.claimed_relationship}
        for case in case_rows for adult, spec in zip(adult_rows, data.adults, strict=True)])
    if ctx.visibility.relation == Relation.GRANT and principal.organization_id is not None:
        # An NGO that reports a child keeps seeing the case it opened, until it closes or the grant expires.
        await grants.grant_reporter(session, case_ids=[c["id"] for c in case_rows],
                                    organization_id=principal.organization_id, intake_id=intake_id,
                                    at=opened_at, lifetimes=ctx.lifetimes)

    await repo.add_events(session, [
        {"case_id": case["id"], "actor": principal.actor, "actor_organization_id": principal.organization_id,
         "event_type": "case.opened", "from_status": None, "to_status": Status.REPORTED.value,
         "data": {"intake_id": str(intake_id), "case_number": case["case_number"],
                  # A previous case in a territory the author may not see is not named (decision 0100).
                  "repeat_of_case_id": str(case["repeat_of_case_id"]) if case["repeat_of_case_id"]
                  and known[case["child_id"]]["case_visible"] else None,
                  "sibling_case_ids": [str(o["id"]) for o in case_rows if o["id"] != case["id"]],
                  "duplicate_candidates": len(candidates.get(case["child_id"], []))}}
        for case in case_rows])
    # One audit write, the last but the stored idempotent answer: the chain lock is held from here to COMMIT.
    await ctx.audit(proposed + [
        AuditEntry(action="intake.create", object_type="case", object_id=str(case["id"]), case_id=case["id"],
                   fields=_written_fields(data, case["child_id"] in new_tokens or case["child_id"] not in known))
        for case in case_rows])
    return IntakeRead(
        id=intake_id, reported_at=data.reported_at, source=data.source, commune_code=place.commune_code,
        prefecture_code=place.prefecture_code, court_code=court_code, outing_id=data.outing_id,
        place_type=data.place_type, night=data.night, exploitation_pattern=data.exploitation_pattern,
        narrative=data.narrative if may_see_names(principal) else None,
        cases=[IntakeCaseRead(id=c["id"], case_number=c["case_number"], child_id=c["child_id"],
                              status=c["status"],
                              repeat_of_case_id=c["repeat_of_case_id"] if c["child_id"] not in known
                              or known[c["child_id"]]["case_visible"] else None,
                              duplicate_candidates=candidates.get(c["child_id"], []))
               for c in case_rows],
        adult_ids=[a["id"] for a in adult_rows])


def _written_fields(data: IntakeCreate, new_child: bool) -> list[str]:
    fields = ["intake", "case"]
    if data.narrative:
        fields.append("intake.narrative")
    if new_child:
        fields.append("child")
    if data.adults:
        fields.append("adults")
    return fields


def _adult_row(ctx: Context, adult: AdultCreate, *, intake_id: uuid.UUID | None) -> dict[str, Any]:
    aid = new_id()
    names = {f: getattr(adult, f) for f in NAME_FIELDS}
    return {
        "id": aid, "intake_id": intake_id,
        **ctx.protector.seal("adults", aid, {**names, "cnie": adult.cnie, "offence_notes": adult.offence_notes}),
        "name_tokens": ctx.protector.name_tokens(names), "sex": adult.sex, "age_years": adult.age,
        "cnie_index": ctx.protector.cnie_index(adult.cnie), "nationality": adult.nationality,
        "suspected_offender": adult.suspected_offender}


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


async def get_case(*, ctx: Context, case_id: uuid.UUID) -> CaseRead:
    """A case the caller may see (404 otherwise), with its child and intake; the read is audited."""
    v = ctx.visibility
    row = await repo.get_case_with_siblings(ctx.session, case_id, v)
    if row is None:
        raise _not_found()
    siblings = list(row["sibling_ids"])
    await ctx.audit([AuditEntry(action="case.read", object_type="case", object_id=str(case_id), case_id=case_id,
                                fields=["case", *_child_read_fields(ctx)])])
    return _case_read(ctx, row, siblings)


def _case_read(ctx: Context, row: Mapping[Any, Any], siblings: list[uuid.UUID]) -> CaseRead:
    today = now().date()
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


def _parse_dt(value: Any) -> datetime:
    try:
        return datetime.fromisoformat(str(value))
    except ValueError as exc:
        raise InvalidInput("The cursor is not valid.") from exc


def _parse_uuid(value: Any) -> uuid.UUID:
    try:
        return uuid.UUID(str(value))
    except ValueError as exc:
        raise InvalidInput("The cursor is not valid.") from exc


async def list_cases(*, ctx: Context, status: str | None, territory_code: str | None, sex: str | None,
                     age_min: float | None, age_max: float | None, opened_from: datetime | None,
                     opened_to: datetime | None, q: str | None, limit: int, cursor: str | None
                     ) -> Page[CaseSummary]:
    """A page of the cases the caller may see, newest first, with API.md's filters; each listed case is audited."""
    v = ctx.visibility
    today = now().date()
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
    after = None
    if cursor:
        opened, cid = decode_cursor(cursor, 2)
        after = (_parse_dt(opened), _parse_uuid(cid))
    rows = await repo.list_cases(ctx.session, v=v, filters=filters, after=after, limit=limit)
    items, next_cursor = build_page(rows, limit, lambda r: [r["opened_at"].isoformat(), str(r["id"])])
    fields = ["case", *_child_read_fields(ctx)]
    await ctx.audit([AuditEntry(action="case.list", object_type="case", object_id=str(r["id"]), case_id=r["id"],
                                fields=fields) for r in items])
    return Page[CaseSummary](items=[CaseSummary(**_summary_fields(ctx, r, today)) for r in items],
                             next_cursor=next_cursor)


# ---- changing cases ------------------------------------------------------------------------------------

async def update_case(*, ctx: Context, case_id: uuid.UUID, data: CaseUpdate, expected_version: int) -> CaseRead:
    """Change a case's risk, assignment or court, only if it is still at the version the caller read."""
    require(ctx.principal, Scope.CASES_WRITE)
    v = ctx.visibility
    current = await repo.case_exists_visible(ctx.session, case_id, v)
    if current is None:
        raise _not_found()
    if current["status"] in {s.value for s in (Status.CLOSED, Status.CLOSED_NOT_IN_SCOPE, Status.TRANSFERRED_OUT)}:
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
    updated = await repo.update_case(ctx.session, case_id, expected_version=expected_version, values=values)
    if updated is None:
        raise PreconditionFailed("The case changed since you read it; read it again.")
    await repo.add_events(ctx.session, [{
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


async def transition_case(*, ctx: Context, case_id: uuid.UUID, data: TransitionCreate) -> TransitionRead:
    """Move a case along its path if the state machine, the caller's role and the step's guard allow it."""
    v = ctx.visibility
    current = await repo.case_exists_visible(ctx.session, case_id, v, lock=True)
    if current is None:
        raise _not_found()
    today = now().date()
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
        values["closed_at"] = now()
        values.update(ctx.protector.seal("cases", case_id, {"closure_reason": data.reason}))
        # The reporter's reason to see the case ends with it (decision 0107).
        await grants.end_reporter_grants(ctx.session, case_id=case_id)
    transfer_place = None
    if target == Status.TRANSFERRED_OUT:
        if data.commune_code is None:
            raise InvalidInput("A transfer needs the commune_code the child moves to.")
        transfer_place = ctx.reference.place(data.commune_code)
        if transfer_place.prefecture_code == current["prefecture_code"]:
            raise InvalidInput("A transfer goes to another prefecture; change the case's commune instead.")
    elif data.commune_code is not None:
        raise InvalidInput("commune_code is only for transferred_out.")
    updated = await repo.update_case(ctx.session, case_id, expected_version=None, values=values)
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
    await repo.add_events(ctx.session, events)
    await ctx.audit([AuditEntry(action="case.transition", object_type="case", object_id=str(case_id),
                                case_id=case_id, fields=["case.status"] + (["case.reason"] if data.reason else []))])
    return TransitionRead(case_id=case_id, from_status=facts.status.value, status=target.value,
                          version=updated["version"], opened_case_id=opened_case_id)


async def _open_transferred_case(ctx: Context, *, case_id: uuid.UUID, place: Any) -> uuid.UUID:
    row = await repo.get_case(ctx.session, case_id, ctx.visibility)
    assert row is not None
    opened_at = now()
    number = await repo.allocate_case_numbers(ctx.session, prefecture_code=place.prefecture_code,
                                              year=opened_at.year, count=1)
    new_case = new_id()
    court = ctx.reference.court_for(place, None)
    await repo.insert_cases(ctx.session, [{
        "id": new_case, "case_number": f"{place.case_prefix}-{opened_at.year}-{number:06d}",
        "child_id": row["child_id"], "recorded_child_id": row["recorded_child_id"], "intake_id": row["intake_id"],
        "region_code": place.region_code, "prefecture_code": place.prefecture_code,
        "commune_code": place.commune_code, "court_code": court,
        "status": Status.REPORTED.value, "risk_level": row["risk_level"],
        "trafficking_suspected": row["trafficking_suspected"], "transferred_from_case_id": case_id,
        "age_at_intake_years": row["age_at_intake_years"], "duplicate_checked_at": opened_at,
        "opened_at": opened_at}])
    await repo.update_case(ctx.session, case_id, expected_version=None,
                           values={"transferred_to_case_id": new_case})
    await repo.copy_adult_links(ctx.session, from_case=case_id, to_case=new_case)
    await repo.add_events(ctx.session, [{
        "case_id": new_case, "actor": ctx.principal.actor, "actor_organization_id": ctx.principal.organization_id,
        "event_type": "case.opened", "to_status": Status.REPORTED.value,
        "data": {"transferred_from_case_id": str(case_id), "intake_id": str(row["intake_id"])}}])
    return new_case


# ---- timeline ------------------------------------------------------------------------------------------

async def get_timeline(*, ctx: Context, case_id: uuid.UUID, limit: int, cursor: str | None) -> Page[TimelineEvent]:
    """Every event of a visible case in order, including those received from referrals."""
    v = ctx.visibility
    if await repo.case_exists_visible(ctx.session, case_id, v) is None:
        raise _not_found()
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

async def list_adults(*, ctx: Context, case_id: uuid.UUID) -> list[AdultRead]:
    """The accompanying adults of a visible case; offence data only for police and prosecution."""
    v = ctx.visibility
    if await repo.case_exists_visible(ctx.session, case_id, v) is None:
        raise _not_found()
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


async def add_adult(*, ctx: Context, case_id: uuid.UUID, data: AdultCreate) -> AdultRead:
    """Add an accompanying adult to a visible, open case."""
    require(ctx.principal, Scope.CASES_WRITE)
    current = await repo.case_exists_visible(ctx.session, case_id, ctx.visibility)
    if current is None:
        raise _not_found()
    _ensure_open(current["status"])
    row = _adult_row(ctx, data, intake_id=None)
    await repo.insert_adults(ctx.session, [row])
    await repo.link_adults(ctx.session, [{"case_id": case_id, "adult_id": row["id"],
                                          "claimed_relationship": data.claimed_relationship}])
    await repo.add_events(ctx.session, [{
        "case_id": case_id, "actor": ctx.principal.actor, "actor_organization_id": ctx.principal.organization_id,
        "event_type": "adult.added", "data": {"adult_id": str(row["id"]),
                                              "claimed_relationship": data.claimed_relationship}}])
    await ctx.audit([AuditEntry(action="case.adult.create", object_type="adult", object_id=str(row["id"]),
                                case_id=case_id, fields=["adult"])])
    return _adult_read(ctx, {**row, "claimed_relationship": data.claimed_relationship},
                       offences=may_see_offences(ctx.principal), measures=[])


def _ensure_open(status: str) -> None:
    if status in {s.value for s in (Status.CLOSED, Status.CLOSED_NOT_IN_SCOPE, Status.TRANSFERRED_OUT)}:
        raise Conflict("The case is closed; a new encounter opens a new linked case.")


# ---- children ------------------------------------------------------------------------------------------

async def get_child(*, ctx: Context, child_id: uuid.UUID) -> ChildWithCases:
    """A child across the cases the caller may see (404 if none)."""
    v = ctx.visibility
    child_id = await dup.survivor_of(ctx.session, child_id)
    filters = repo.case_filters(status=None, territory=None, sex=None, born_after=None, born_before=None,
                                opened_from=None, opened_to=None, case_number=None, tokens=None)
    rows = await repo.list_cases(ctx.session, v=v, filters=[*filters, cases_table.c.child_id == child_id],
                                 after=None, limit=200)
    if not rows:
        raise _not_found("child")
    today = now().date()
    summaries = [CaseSummary(**_summary_fields(ctx, r, today)) for r in rows]
    await ctx.audit([AuditEntry(action="child.read", object_type="child", object_id=str(child_id),
                                case_id=r["id"], fields=_child_read_fields(ctx)) for r in rows])
    return ChildWithCases(**summaries[0].child.model_dump(exclude={"age_at_intake_years"}), cases=summaries)


def open_case_conflict(ctx: Context, case: Mapping[Any, Any]) -> Conflict:
    """409 for a child that already has an open case, naming only what the caller may know of it: the case id
    when it may see the case; else, for holders of children:dedup, the minimal view (case number, prefecture)
    that a duplicate search would show them; else nothing (decision 0100)."""
    if case["visible"]:
        return Conflict(f"The child already has an open case ({case['id']}); add to that case.",
                        extra={"case_id": str(case["id"])})
    if ctx.principal.has_scope(Scope.CHILDREN_DEDUP):
        return Conflict(f"The child already has an open case in another territory ({case['case_number']}).",
                        extra={"open_case": {"case_number": case["case_number"],
                                             "prefecture_code": case["prefecture_code"]}})
    return Conflict("The child already has an open case.")


def handle_integrity(exc: IntegrityError) -> Conflict:
    """Turn a uniqueness violation of a concurrent writer into a 409."""
    if "uq_cases_one_open_per_child" in str(exc.orig):
        return Conflict("The child already has an open case.")
    return Conflict("The request conflicts with the current data.")
