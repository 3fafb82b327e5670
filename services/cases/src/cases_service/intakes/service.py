"""Outings and intakes: an intake records an encounter and opens one case per child, siblings linked through it,
all in one transaction."""

from __future__ import annotations

import uuid
from dataclasses import dataclass
from datetime import date, datetime, timedelta
from typing import Any

from sqlalchemy.exc import IntegrityError

from cases_service.core import repository as core_repo
from cases_service.core.access import may_see_names, not_found, require
from cases_service.core.context import DAYS_PER_YEAR, Context, age_years, new_id, time_cursor
from cases_service.core.enums import Relation, Status
from cases_service.core.reference import Place
from cases_service.decisions import service as decisions
from cases_service.duplicates import service as duplicates
from cases_service.duplicates.records import Candidate
from cases_service.intakes import repository as intakes_repo
from cases_service.intakes.records import KnownChild, NewChild, OpenCase, OpenedCase, Outing, RecordedIntake
from cases_service.intakes.schemas import (
    ChildCreate,
    IntakeCreate,
    OutingCreate,
)
from himaya import clock
from himaya.audit import AuditEntry
from himaya.errors import Conflict, InvalidInput
from himaya.pagination import build_page
from himaya.scopes import Scope


async def create_outing(ctx: Context, *, data: OutingCreate) -> Outing:
    """Record a field team's outing in a commune of the caller's territories."""
    require(ctx.principal, Scope.CASES_WRITE)
    place = ctx.reference.place(data.commune_code)
    if not ctx.principal.covers(place.commune_code):
        raise InvalidInput("The commune is outside your territories.")
    return await intakes_repo.insert_outing(ctx.session, {
        "id": new_id(), "field_team_id": data.field_team_id, "started_at": data.started_at,
        "ended_at": data.ended_at, "region_code": place.region_code, "prefecture_code": place.prefecture_code,
        "commune_code": place.commune_code, "members_present": data.members_present,
        "organization_id": ctx.principal.organization_id, "created_by": ctx.principal.actor})


async def get_outing(ctx: Context, *, outing_id: uuid.UUID) -> Outing:
    """An outing of the caller's territories."""
    require(ctx.principal, Scope.CASES_READ)
    outing = await intakes_repo.get_outing(ctx.session, outing_id)
    if outing is None or not ctx.principal.covers(outing.commune_code):
        raise not_found("outing")
    return outing


async def list_outings(ctx: Context, *, limit: int, cursor: str | None) -> tuple[list[Outing], str | None]:
    """Outings of the caller's territories, newest first."""
    require(ctx.principal, Scope.CASES_READ)
    rows = await intakes_repo.list_outings(ctx.session, territories=ctx.principal.territories,
                                           after=time_cursor(cursor), limit=limit)
    return build_page(rows, limit, lambda r: [r.started_at.isoformat(), str(r.id)])


def _reference_birth_date(child: ChildCreate, on: date) -> date:
    if child.birth_date is not None:
        return child.birth_date
    assert child.estimated_age_years is not None
    return on - timedelta(days=round(child.estimated_age_years * DAYS_PER_YEAR))


async def create_intake(ctx: Context, *, data: IntakeCreate) -> RecordedIntake:
    """Record an encounter: one case per child, siblings linked through the intake, all in one transaction."""
    require(ctx.principal, Scope.INTAKES_WRITE)
    place, court_code = await _check_place(ctx, data)
    known = await _children_named_again(ctx, data)
    opened_at = clock.now()
    intake_id = uuid.uuid4()
    await intakes_repo.insert_intake(ctx.session, ctx.protector, intake_id=intake_id, narrative=data.narrative,
                                     values={
        "outing_id": data.outing_id, "reported_at": data.reported_at, "source": data.source,
        "region_code": place.region_code, "prefecture_code": place.prefecture_code,
        "commune_code": place.commune_code, "court_code": court_code, "place_type": data.place_type,
        "night": data.night, "exploitation_pattern": data.exploitation_pattern,
        "organization_id": ctx.principal.organization_id, "created_by": ctx.principal.actor})
    children = await _record_children(ctx, data, known)
    adults = await core_repo.insert_adults(ctx.session, ctx.protector, data.adults, intake_id=intake_id)
    candidates, proposed = await duplicates.propose_at_intake(ctx, children=[
        (c.id, c.name_tokens, c.key_tokens, c.sex, c.reference_birth_date) for c in children.new if c.name_tokens],
        adults=[(a.cnie_index, a.name_tokens) for a in adults], exclude=children.ids)
    case_rows = await _open_cases(ctx, data, children, known, place=place, court_code=court_code,
                                  intake_id=intake_id, opened_at=opened_at)
    await core_repo.link_adults(ctx.session, [
        {"case_id": case["id"], "adult_id": adult.id, "claimed_relationship": spec.claimed_relationship}
        for case in case_rows for adult, spec in zip(adults, data.adults, strict=True)])
    if ctx.visibility.relation == Relation.GRANT and ctx.principal.organization_id is not None:
        # An NGO that reports a child keeps seeing the case it opened, until it closes or the grant expires.
        await decisions.grant_reporter(ctx, case_ids=[c["id"] for c in case_rows],
                                       organization_id=ctx.principal.organization_id, intake_id=intake_id,
                                       at=opened_at)
    await _record_opening(ctx, data, case_rows, known, candidates, proposed, intake_id=intake_id)
    return RecordedIntake(
        id=intake_id, reported_at=data.reported_at, source=data.source, commune_code=place.commune_code,
        prefecture_code=place.prefecture_code, court_code=court_code, outing_id=data.outing_id,
        place_type=data.place_type, night=data.night, exploitation_pattern=data.exploitation_pattern,
        narrative=data.narrative if may_see_names(ctx.principal) else None,
        cases=[OpenedCase(id=c["id"], case_number=c["case_number"], child_id=c["child_id"], status=c["status"],
                          repeat_of_case_id=c["repeat_of_case_id"] if _repeat_visible(known, c["child_id"]) else None,
                          duplicate_candidates=candidates.get(c["child_id"], []))
               for c in case_rows],
        adult_ids=[a.id for a in adults])


async def _check_place(ctx: Context, data: IntakeCreate) -> tuple[Place, str]:
    """The intake's commune (in the caller's territories), its court, and its outing (of those territories)."""
    place = ctx.reference.place(data.commune_code)
    if not ctx.principal.covers(place.commune_code):
        raise InvalidInput("The commune is outside your territories.")
    court_code = ctx.reference.court_for(place, data.court_code)
    if data.outing_id is not None:
        outing = await intakes_repo.get_outing(ctx.session, data.outing_id)
        if outing is None or not ctx.principal.covers(outing.commune_code):
            raise InvalidInput("outing_id does not name an outing of your territories.")
    return place, court_code


async def _children_named_again(ctx: Context, data: IntakeCreate) -> dict[uuid.UUID, KnownChild]:
    """The children the intake names by id: each must be one the caller sees, and none may have an open case."""
    existing_ids = [c.child_id for c in data.children if c.child_id is not None]
    if not existing_ids:
        return {}
    known = await intakes_repo.visible_children_latest_cases(ctx.session, existing_ids, ctx.visibility)
    for child_id in existing_ids:
        if known.get(child_id) is None:
            raise InvalidInput(f"child_id {child_id} does not name a child you may see.")
    for open_case in await intakes_repo.open_cases_of_children(ctx.session, existing_ids, ctx.visibility):
        raise open_case_conflict(ctx, open_case)
    return known


@dataclass(frozen=True)
class _IntakeChildren:
    """The intake's children in its order: their ids, reference birth dates, the record each case is opened with
    (a new child's own; for a child seen before, the record of the latest case the caller sees, so a repeat case
    shows the identity this caller knows, decision 0100), and the new ones."""

    ids: list[uuid.UUID]
    reference_birth_dates: list[date]
    recorded: dict[uuid.UUID, uuid.UUID]
    new: list[NewChild]


async def _record_children(ctx: Context, data: IntakeCreate, known: dict[uuid.UUID, KnownChild]) -> _IntakeChildren:
    """Record the intake's new children; line every child up with what its case is opened with."""
    reported_on = data.reported_at.date()
    fresh = [(child, _reference_birth_date(child, reported_on)) for child in data.children if child.child_id is None]
    new = iter(await intakes_repo.insert_children(ctx.session, ctx.protector, fresh, reported_on=reported_on))
    out = _IntakeChildren(ids=[], reference_birth_dates=[], recorded={}, new=[])
    for child in data.children:
        if child.child_id is not None:
            seen = known[child.child_id]
            out.ids.append(child.child_id)
            out.reference_birth_dates.append(seen.reference_birth_date)
            out.recorded[child.child_id] = seen.record_id
            continue
        recorded = next(new)
        out.ids.append(recorded.id)
        out.reference_birth_dates.append(recorded.reference_birth_date)
        out.recorded[recorded.id] = recorded.id
        out.new.append(recorded)
    return out


async def _open_cases(ctx: Context, data: IntakeCreate, children: _IntakeChildren,
                      known: dict[uuid.UUID, KnownChild], *, place: Place,
                      court_code: str, intake_id: uuid.UUID, opened_at: datetime) -> list[dict[str, Any]]:
    """One case per child, numbered in the prefecture's sequence, `reported`."""
    # The prefecture's counter row stays locked until COMMIT: take it after the reads and the search for
    # duplicates, so concurrent intakes of one prefecture queue only behind the last few statements.
    first = await core_repo.allocate_case_numbers(ctx.session, prefecture_code=place.prefecture_code,
                                                  year=opened_at.year, count=len(children.ids))
    case_rows: list[dict[str, Any]] = []
    for i, (child, cid, ref) in enumerate(zip(data.children, children.ids, children.reference_birth_dates,
                                              strict=True)):
        case_rows.append({
            "id": uuid.uuid4(), "case_number": f"{place.case_prefix}-{opened_at.year}-{first + i:06d}",
            "child_id": cid, "recorded_child_id": children.recorded[cid], "intake_id": intake_id,
            "region_code": place.region_code,
            "prefecture_code": place.prefecture_code, "commune_code": place.commune_code, "court_code": court_code,
            "status": Status.REPORTED.value, "risk_level": child.risk_level,
            "trafficking_suspected": child.trafficking_suspected or data.exploitation_pattern == "network_suspected",
            "lead_organization_id": ctx.principal.organization_id,
            "repeat_of_case_id": known[cid].latest_case_id if cid in known else None,
            "age_at_intake_years": age_years(ref, data.reported_at.date()),
            "duplicate_checked_at": opened_at, "opened_at": opened_at})
    try:
        await core_repo.insert_cases(ctx.session, case_rows)
    except IntegrityError as exc:  # a concurrent intake opened a case for the same child first
        raise handle_integrity(exc) from exc  # the request's transaction is rolled back
    return case_rows


def _repeat_visible(known: dict[uuid.UUID, KnownChild], child_id: uuid.UUID) -> bool:
    """Whether the previous case of a child may be named to the caller: a previous case in a territory the caller
    may not see is not named (decision 0100)."""
    return child_id not in known or known[child_id].latest_case_visible


async def _record_opening(ctx: Context, data: IntakeCreate, case_rows: list[dict[str, Any]],
                          known: dict[uuid.UUID, KnownChild], candidates: dict[uuid.UUID, list[Candidate]],
                          proposed: list[AuditEntry], *, intake_id: uuid.UUID) -> None:
    """Each case's `case.opened` on its timeline, and one audit write for the intake."""
    await core_repo.add_events(ctx.session, [
        {"case_id": case["id"], "actor": ctx.principal.actor, "actor_organization_id": ctx.principal.organization_id,
         "event_type": "case.opened", "from_status": None, "to_status": Status.REPORTED.value,
         "data": {"intake_id": str(intake_id), "case_number": case["case_number"],
                  "repeat_of_case_id": str(case["repeat_of_case_id"]) if case["repeat_of_case_id"]
                  and known[case["child_id"]].latest_case_visible else None,
                  "sibling_case_ids": [str(o["id"]) for o in case_rows if o["id"] != case["id"]],
                  "duplicate_candidates": len(candidates.get(case["child_id"], []))}}
        for case in case_rows])
    # One audit write, the last but the stored idempotent answer: the chain lock is held from here to COMMIT.
    await ctx.audit(proposed + [
        AuditEntry(action="intake.create", object_type="case", object_id=str(case["id"]), case_id=case["id"],
                   fields=_written_fields(data, case["child_id"] not in known))
        for case in case_rows])


def _written_fields(data: IntakeCreate, new_child: bool) -> list[str]:
    fields = ["intake", "case"]
    if data.narrative:
        fields.append("intake.narrative")
    if new_child:
        fields.append("child")
    if data.adults:
        fields.append("adults")
    return fields


def open_case_conflict(ctx: Context, case: OpenCase) -> Conflict:
    """409 for a child that already has an open case, naming only what the caller may know of it: the case id
    when it may see the case; else, for holders of children:dedup, the minimal view (case number, prefecture)
    that a duplicate search would show them; else nothing (decision 0100)."""
    if case.visible:
        return Conflict(f"The child already has an open case ({case.id}); add to that case.",
                        extra={"case_id": str(case.id)})
    if ctx.principal.has_scope(Scope.CHILDREN_DEDUP):
        return Conflict(f"The child already has an open case in another territory ({case.case_number}).",
                        extra={"open_case": {"case_number": case.case_number,
                                             "prefecture_code": case.prefecture_code}})
    return Conflict("The child already has an open case.")


def handle_integrity(exc: IntegrityError) -> Conflict:
    """Turn a uniqueness violation of a concurrent writer into a 409."""
    if "uq_cases_one_open_per_child" in str(exc.orig):
        return Conflict("The child already has an open case.")
    return Conflict("The request conflicts with the current data.")
