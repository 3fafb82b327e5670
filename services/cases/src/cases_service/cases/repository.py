"""Statements reading cases (one, a page, a child's), their path's facts, timeline and adults."""

from __future__ import annotations

import functools
import uuid
from collections.abc import Iterable, Mapping
from datetime import date, datetime
from typing import Any

import sqlalchemy as sa
from sqlalchemy.ext.asyncio import AsyncSession

from cases_service.cases.records import (
    AdultMeasure,
    AdultRecord,
    CaseFilters,
    CaseRecord,
    ChildRecord,
    IntakeSummaryRecord,
    TimelineRecord,
)
from cases_service.core.access import Visibility
from cases_service.core.enums import Status
from cases_service.core.protection import NAME_FIELDS, Protector
from cases_service.core.repository import territory_clause, visible
from cases_service.core.states import CaseFacts
from cases_service.core.tables import (
    adults,
    assessments,
    care_plans,
    case_access_grants,
    case_adults,
    case_events,
    cases,
    children,
    follow_ups,
    intakes,
    judicial_measures,
)
from himaya.db import fetch_prepared

CASE_COLUMNS = [c for c in cases.c]

CHILD_COLUMNS = [c.label(f"child__{c.name}") for c in children.c if c.name not in ("name_tokens",)]

INTAKE_COLUMNS = [intakes.c.reported_at.label("intake__reported_at"), intakes.c.source.label("intake__source"),
                  intakes.c.place_type.label("intake__place_type"), intakes.c.night.label("intake__night"),
                  intakes.c.exploitation_pattern.label("intake__exploitation_pattern"),
                  intakes.c.outing_id.label("intake__outing_id")]


CHILD_SECRET_FIELDS = (*NAME_FIELDS, "description", "birth_act_reference")
ADULT_SECRET_FIELDS = (*NAME_FIELDS, "cnie")


def _case_record(row: Mapping[str, Any], protector: Protector, *, reveal_names: bool,
                 sibling_ids: list[uuid.UUID] | None = None) -> CaseRecord:
    """A case row of `_case_select` as a record, the child's identifying values opened when the caller may see
    names (else None)."""
    child = {k[7:]: v for k, v in row.items() if k.startswith("child__")}
    plain = protector.open("children", child, *CHILD_SECRET_FIELDS) if reveal_names else {}
    return CaseRecord(
        id=row["id"], case_number=row["case_number"], status=row["status"], region_code=row["region_code"],
        prefecture_code=row["prefecture_code"], commune_code=row["commune_code"], court_code=row["court_code"],
        risk_level=row["risk_level"], trafficking_suspected=row["trafficking_suspected"],
        opened_at=row["opened_at"], closed_at=row["closed_at"],
        repeat_of_case_id=row["repeat_of_case_id"] if row["repeat_visible"] else None,
        suspended_from_status=row["suspended_from_status"], lead_organization_id=row["lead_organization_id"],
        case_manager_id=row["case_manager_id"], transferred_from_case_id=row["transferred_from_case_id"],
        transferred_to_case_id=row["transferred_to_case_id"], child_id=row["child_id"],
        recorded_child_id=row["recorded_child_id"],
        age_at_intake_years=float(row["age_at_intake_years"]) if row["age_at_intake_years"] is not None else None,
        version=row["version"], sibling_ids=sibling_ids,
        # The identity is the record the case was opened with; the id is the child the case now counts for (the
        # survivor after a merge): decision 0100.
        child=ChildRecord(
            id=row["child_id"], sex=child["sex"], birth_date=child["birth_date"],
            estimated_age_years=float(child["estimated_age_years"]) if child["estimated_age_years"] is not None
            else None,
            reference_birth_date=child["reference_birth_date"], nationality=child["nationality"],
            civil_status_registered=child["civil_status_registered"], schooling=child["schooling"],
            disability=child["disability"],
            names={f: plain[f] for f in NAME_FIELDS} if reveal_names else None,
            description=plain.get("description"), birth_act_reference=plain.get("birth_act_reference")),
        intake=IntakeSummaryRecord(
            id=row["intake_id"], reported_at=row["intake__reported_at"], source=row["intake__source"],
            place_type=row["intake__place_type"], night=row["intake__night"],
            exploitation_pattern=row["intake__exploitation_pattern"], outing_id=row["intake__outing_id"]))


def _case_select(v: Visibility) -> sa.Select[Any]:
    # The child as recorded through this case (`recorded_child_id`), not the record a merge moved the case to:
    # a merge never shows one territory's identity through another's case (decision 0100). `repeat_visible`:
    # whether the caller may see the case this one repeats (its id is shown only then).
    previous = cases.alias("previous")
    repeat_visible = sa.exists().where(previous.c.id == cases.c.repeat_of_case_id, visible(v, previous))
    return (sa.select(*CASE_COLUMNS, *CHILD_COLUMNS, *INTAKE_COLUMNS, repeat_visible.label("repeat_visible"))
            .join(children, children.c.id == cases.c.recorded_child_id)
            .join(intakes, intakes.c.id == cases.c.intake_id)
            .where(visible(v)))


async def get_case(session: AsyncSession, protector: Protector, case_id: uuid.UUID, v: Visibility, *,
                   reveal_names: bool) -> CaseRecord | None:
    """A case with its child and intake, if the caller may see it."""
    row = (await session.execute(_case_select(v).where(cases.c.id == case_id))).mappings().one_or_none()
    return _case_record(row, protector, reveal_names=reveal_names) if row is not None else None


@functools.lru_cache(maxsize=1024)
def _case_with_siblings_select(v: Visibility) -> sa.Select[Any]:
    # Built once per visibility (a frozen value; callers share a handful of them): building the aliased
    # sibling subquery was a third of a GET's CPU (py-spy, 2,000 cases).
    other = cases.alias("sibling")
    siblings = sa.func.array(
        sa.select(other.c.id).where(other.c.intake_id == cases.c.intake_id, other.c.id != cases.c.id,
                                    visible(v, other))
        .order_by(other.c.case_number).scalar_subquery())
    return (_case_select(v).add_columns(siblings.label("sibling_ids"))
            .where(cases.c.id == sa.bindparam("case_id", type_=cases.c.id.type)))


async def get_case_with_siblings(session: AsyncSession, protector: Protector, case_id: uuid.UUID, v: Visibility, *,
                                 reveal_names: bool) -> CaseRecord | None:
    """A case with its child and intake, if the caller may see it, and (`sibling_ids`) the other visible cases
    its intake opened, by case number: one prepared statement for a read (decision 0091)."""
    rows = await fetch_prepared(session, _case_with_siblings_select(v), {"case_id": case_id})
    if not rows:
        return None
    return _case_record(rows[0], protector, reveal_names=reveal_names, sibling_ids=list(rows[0]["sibling_ids"]))


async def sibling_case_ids(session: AsyncSession, *, intake_id: uuid.UUID, case_id: uuid.UUID,
                           v: Visibility) -> list[uuid.UUID]:
    """Other visible cases opened by the same intake."""
    stmt = (sa.select(cases.c.id).where(cases.c.intake_id == intake_id, cases.c.id != case_id, visible(v))
            .order_by(cases.c.case_number))
    return list((await session.execute(stmt)).scalars().all())


async def list_cases(session: AsyncSession, protector: Protector, *, v: Visibility, filters: CaseFilters,
                     after: tuple[datetime, uuid.UUID] | None, limit: int, reveal_names: bool) -> list[CaseRecord]:
    """A page of visible cases, newest first (keyset on opened_at, id; never OFFSET)."""
    stmt = _case_select(v).where(*_filters(filters, protector))
    if after is not None:
        stmt = stmt.where(sa.tuple_(cases.c.opened_at, cases.c.id) < sa.tuple_(*after))
    stmt = stmt.order_by(cases.c.opened_at.desc(), cases.c.id.desc()).limit(limit + 1)
    return [_case_record(row, protector, reveal_names=reveal_names)
            for row in (await session.execute(stmt)).mappings().all()]


def _filters(f: CaseFilters, protector: Protector) -> list[sa.ColumnElement[bool]]:
    """The WHERE clauses of a case list's filters."""
    out: list[sa.ColumnElement[bool]] = []
    if f.status:
        out.append(cases.c.status == f.status)
    if f.territory_code is not None:
        out.append(territory_clause((f.territory_code,)))
    if f.sex:
        out.append(children.c.sex == f.sex)
    if f.born_after:
        out.append(children.c.reference_birth_date > f.born_after)
    if f.born_before:
        out.append(children.c.reference_birth_date <= f.born_before)
    if f.opened_from:
        out.append(cases.c.opened_at >= f.opened_from)
    if f.opened_to:
        out.append(cases.c.opened_at < f.opened_to)
    if f.child_id is not None:
        out.append(cases.c.child_id == f.child_id)
    if f.case_number is not None or f.name_query is not None:
        either: list[sa.ColumnElement[bool]] = []
        if f.case_number is not None:
            either.append(cases.c.case_number == f.case_number)
        tokens = protector.query_tokens(f.name_query) if f.name_query else []
        if tokens:
            either.append(children.c.name_tokens.overlap(sa.cast(tokens, children.c.name_tokens.type)))
        out.append(sa.or_(*either) if either else sa.false())
    return out


async def case_facts(session: AsyncSession, case_id: uuid.UUID, today: date) -> CaseFacts:
    """Everything the transition guards need, in one statement."""
    c = cases
    def exists(*where: sa.ColumnElement[bool]) -> sa.ColumnElement[bool]:
        return sa.exists().where(*where)
    stmt = sa.select(
        c.c.status, c.c.suspended_from_status, c.c.duplicate_checked_at.is_not(None).label("duplicate_checked"),
        c.c.case_manager_id.is_not(None).label("case_manager_assigned"),
        sa.or_(*(children.c[f"{n}_enc"].is_not(None) for n in
                 ("first_name", "last_name", "first_name_ar", "last_name_ar", "description"))
               ).label("child_identified"),
        exists(case_access_grants.c.case_id == c.c.id, case_access_grants.c.kind == "prosecution"
               ).label("prosecution_referral"),
        exists(judicial_measures.c.case_id == c.c.id, judicial_measures.c.concerns == "child"
               ).label("child_decision"),
        exists(assessments.c.case_id == c.c.id, assessments.c.type == "social_enquiry",
               assessments.c.status == "completed").label("social_enquiry_completed"),
        exists(care_plans.c.case_id == c.c.id, care_plans.c.status == "validated").label("care_plan_validated"),
        sa.select(sa.func.max(follow_ups.c.next_visit_due)).where(follow_ups.c.case_id == c.c.id)
        .correlate(c).scalar_subquery().label("next_visit_due"),
        sa.select(sa.func.count()).where(judicial_measures.c.case_id == c.c.id,
                                         judicial_measures.c.concerns == "child", judicial_measures.c.active)
        .correlate(c).scalar_subquery().label("active_child_measures"),
    ).join(children, children.c.id == c.c.recorded_child_id).where(c.c.id == case_id)
    f = (await session.execute(stmt)).mappings().one()
    return CaseFacts(
        status=Status(f["status"]),
        suspended_from=Status(f["suspended_from_status"]) if f["suspended_from_status"] else None,
        child_identified=f["child_identified"], duplicate_checked=f["duplicate_checked"],
        prosecution_referral=f["prosecution_referral"], child_decision=f["child_decision"],
        case_manager_assigned=f["case_manager_assigned"], social_enquiry_completed=f["social_enquiry_completed"],
        care_plan_validated=f["care_plan_validated"], next_visit_due=f["next_visit_due"],
        active_child_measures=f["active_child_measures"])


async def copy_adult_links(session: AsyncSession, *, from_case: uuid.UUID, to_case: uuid.UUID) -> None:
    """Link a new (transferred) case to the adults of the case it continues."""
    sel = sa.select(sa.literal(to_case, type_=cases.c.id.type), case_adults.c.adult_id,
                    case_adults.c.claimed_relationship).where(case_adults.c.case_id == from_case)
    await session.execute(sa.insert(case_adults).from_select(["case_id", "adult_id", "claimed_relationship"], sel))


async def list_events(session: AsyncSession, protector: Protector, case_id: uuid.UUID, *, after: int | None,
                      limit: int, with_adult_decisions: bool, reveal_reasons: bool) -> list[TimelineRecord]:
    """A case's timeline in order (keyset on id); prosecutor decisions about adults only when asked, reasons
    opened only when asked."""
    stmt = sa.select(case_events).where(case_events.c.case_id == case_id)
    if not with_adult_decisions:
        stmt = stmt.where(~sa.and_(case_events.c.event_type == "referral.decision_recorded",
                                   case_events.c.data["concerns"].astext == "adult"))
    if after is not None:
        stmt = stmt.where(case_events.c.id > after)
    rows = (await session.execute(stmt.order_by(case_events.c.id).limit(limit + 1))).mappings().all()
    # Timeline rows get their id from the database, so their reasons are bound to the case's id.
    return [TimelineRecord(
        id=r["id"], occurred_at=r["occurred_at"], actor=r["actor"], event_type=r["event_type"],
        from_status=r["from_status"], to_status=r["to_status"], data=r["data"],
        reason=protector.cipher.decrypt(bytes(r["reason_enc"]), table="case_events", column="reason",
                                        row_id=r["case_id"]) if reveal_reasons and r["reason_enc"] is not None
        else None) for r in rows]


async def adults_of_case(session: AsyncSession, protector: Protector, case_id: uuid.UUID, *, reveal_names: bool,
                      reveal_offences: bool) -> list[AdultRecord]:
    """The adults of a case with the relationship they claim: names and CNIE opened for callers who see names,
    offence notes for those who see offences."""
    stmt = (sa.select(*adults.c, case_adults.c.claimed_relationship)
            .join(case_adults, case_adults.c.adult_id == adults.c.id)
            .where(case_adults.c.case_id == case_id).order_by(adults.c.created_at, adults.c.id))
    out = []
    for row in (await session.execute(stmt)).mappings().all():
        plain = protector.open("adults", row, *ADULT_SECRET_FIELDS) if reveal_names else {}
        out.append(AdultRecord(
            id=row["id"], sex=row["sex"], age_years=row["age_years"], nationality=row["nationality"],
            claimed_relationship=row["claimed_relationship"], suspected_offender=row["suspected_offender"],
            names={f: plain.get(f) for f in NAME_FIELDS} if reveal_names else None, cnie=plain.get("cnie"),
            offence_notes=protector.open("adults", row, "offence_notes")["offence_notes"] if reveal_offences
            else None))
    return out


async def measures_for_adults(session: AsyncSession, adult_ids: Iterable[uuid.UUID], case_id: uuid.UUID
                              ) -> list[AdultMeasure]:
    """Judicial measures of a case concerning the given adults."""
    ids = list(adult_ids)
    if not ids:
        return []
    stmt = (sa.select(judicial_measures).where(judicial_measures.c.case_id == case_id,
                                               judicial_measures.c.adult_id.in_(ids))
            .order_by(judicial_measures.c.decided_at))
    return [AdultMeasure(id=m["id"], adult_id=m["adult_id"], decision_type=m["decision_type"],
                         decided_at=m["decided_at"], reference=m["reference"], active=m["active"])
            for m in (await session.execute(stmt)).mappings().all()]
