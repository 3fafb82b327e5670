"""Statements reading cases (one, a page, a child's), their path's facts, timeline and adults."""

from __future__ import annotations

import functools
import uuid
from collections.abc import Iterable, Sequence
from datetime import date, datetime
from typing import Any

import sqlalchemy as sa
from sqlalchemy.engine import RowMapping
from sqlalchemy.ext.asyncio import AsyncSession

from cases_service.core.access import Visibility
from cases_service.core.repository import visible
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


async def get_case(session: AsyncSession, case_id: uuid.UUID, v: Visibility, *, for_update: bool = False
                   ) -> RowMapping | None:
    """A case with its child and intake, if the caller may see it."""
    stmt = _case_select(v).where(cases.c.id == case_id)
    if for_update:
        stmt = stmt.with_for_update(of=cases)
    return (await session.execute(stmt)).mappings().one_or_none()


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


async def get_case_with_siblings(session: AsyncSession, case_id: uuid.UUID, v: Visibility) -> RowMapping | None:
    """A case with its child and intake, if the caller may see it, and (`sibling_ids`) the other visible cases
    its intake opened, by case number: one statement for a read."""
    rows = await fetch_prepared(session, _case_with_siblings_select(v), {"case_id": case_id})
    return rows[0] if rows else None


async def sibling_case_ids(session: AsyncSession, *, intake_id: uuid.UUID, case_id: uuid.UUID,
                           v: Visibility) -> list[uuid.UUID]:
    """Other visible cases opened by the same intake."""
    stmt = (sa.select(cases.c.id).where(cases.c.intake_id == intake_id, cases.c.id != case_id, visible(v))
            .order_by(cases.c.case_number))
    return list((await session.execute(stmt)).scalars().all())


async def list_cases(session: AsyncSession, *, v: Visibility, filters: Sequence[sa.ColumnElement[bool]],
                     after: tuple[datetime, uuid.UUID] | None, limit: int) -> Sequence[RowMapping]:
    """A page of visible cases, newest first (keyset on opened_at, id; never OFFSET)."""
    stmt = _case_select(v).where(*filters)
    if after is not None:
        stmt = stmt.where(sa.tuple_(cases.c.opened_at, cases.c.id) < sa.tuple_(*after))
    stmt = stmt.order_by(cases.c.opened_at.desc(), cases.c.id.desc()).limit(limit + 1)
    return (await session.execute(stmt)).mappings().all()


def case_filters(*, status: str | None, territory: sa.ColumnElement[bool] | None, sex: str | None,
                 born_after: date | None, born_before: date | None, opened_from: datetime | None,
                 opened_to: datetime | None, case_number: str | None, tokens: list[str] | None
                 ) -> list[sa.ColumnElement[bool]]:
    """The WHERE clauses of a case list's filters."""
    out: list[sa.ColumnElement[bool]] = []
    if status:
        out.append(cases.c.status == status)
    if territory is not None:
        out.append(territory)
    if sex:
        out.append(children.c.sex == sex)
    if born_after:
        out.append(children.c.reference_birth_date > born_after)
    if born_before:
        out.append(children.c.reference_birth_date <= born_before)
    if opened_from:
        out.append(cases.c.opened_at >= opened_from)
    if opened_to:
        out.append(cases.c.opened_at < opened_to)
    if case_number is not None or tokens is not None:
        either: list[sa.ColumnElement[bool]] = []
        if case_number is not None:
            either.append(cases.c.case_number == case_number)
        if tokens:
            either.append(children.c.name_tokens.overlap(sa.cast(tokens, children.c.name_tokens.type)))
        out.append(sa.or_(*either) if either else sa.false())
    return out


async def case_facts(session: AsyncSession, case_id: uuid.UUID, today: date) -> RowMapping:
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
    return (await session.execute(stmt)).mappings().one()


async def latest_case_of_child(session: AsyncSession, child_id: uuid.UUID) -> RowMapping | None:
    """The child's most recent case."""
    stmt = (sa.select(cases.c.id, cases.c.status).where(cases.c.child_id == child_id)
            .order_by(cases.c.opened_at.desc()).limit(1))
    return (await session.execute(stmt)).mappings().one_or_none()


async def copy_adult_links(session: AsyncSession, *, from_case: uuid.UUID, to_case: uuid.UUID) -> None:
    """Link a new (transferred) case to the adults of the case it continues."""
    sel = sa.select(sa.literal(to_case, type_=cases.c.id.type), case_adults.c.adult_id,
                    case_adults.c.claimed_relationship).where(case_adults.c.case_id == from_case)
    await session.execute(sa.insert(case_adults).from_select(["case_id", "adult_id", "claimed_relationship"], sel))


async def list_events(session: AsyncSession, case_id: uuid.UUID, *, after: int | None, limit: int,
                      with_adult_decisions: bool = True) -> Sequence[RowMapping]:
    """A case's timeline in order (keyset on id); prosecutor decisions about adults only when asked."""
    stmt = sa.select(case_events).where(case_events.c.case_id == case_id)
    if not with_adult_decisions:
        stmt = stmt.where(~sa.and_(case_events.c.event_type == "referral.decision_recorded",
                                   case_events.c.data["concerns"].astext == "adult"))
    if after is not None:
        stmt = stmt.where(case_events.c.id > after)
    return (await session.execute(stmt.order_by(case_events.c.id).limit(limit + 1))).mappings().all()


async def case_adults_rows(session: AsyncSession, case_id: uuid.UUID) -> Sequence[RowMapping]:
    """The adults of a case with the relationship they claim."""
    stmt = (sa.select(*adults.c, case_adults.c.claimed_relationship)
            .join(case_adults, case_adults.c.adult_id == adults.c.id)
            .where(case_adults.c.case_id == case_id).order_by(adults.c.created_at, adults.c.id))
    return (await session.execute(stmt)).mappings().all()


async def measures_for_adults(session: AsyncSession, adult_ids: Iterable[uuid.UUID], case_id: uuid.UUID
                              ) -> Sequence[RowMapping]:
    """Judicial measures of a case concerning the given adults."""
    ids = list(adult_ids)
    if not ids:
        return []
    stmt = (sa.select(judicial_measures).where(judicial_measures.c.case_id == case_id,
                                               judicial_measures.c.adult_id.in_(ids))
            .order_by(judicial_measures.c.decided_at))
    return (await session.execute(stmt)).mappings().all()

