"""Statements of outings and intakes: the outing, the intake, its new children, and the children an intake names
again with their latest cases."""

from __future__ import annotations

import uuid
from collections.abc import Mapping, Sequence
from datetime import date, datetime
from typing import Any

import sqlalchemy as sa
from sqlalchemy.dialects.postgresql import distinct_on
from sqlalchemy.ext.asyncio import AsyncSession

from cases_service.core.access import Visibility
from cases_service.core.enums import TERMINAL_STATUSES
from cases_service.core.protection import NAME_FIELDS, Protector
from cases_service.core.repository import territory_clause, visible
from cases_service.core.tables import (
    cases,
    children,
    intakes,
    outings,
)
from cases_service.intakes.records import ChildData, KnownChild, NewChild, OpenCase, Outing
from himaya.records import from_row


def _outing(row: Mapping[Any, Any]) -> Outing:
    return from_row(Outing, row)


async def insert_outing(session: AsyncSession, values: Mapping[str, Any]) -> Outing:
    """Insert an outing and return it."""
    row = (await session.execute(sa.insert(outings).values(**values).returning(*outings.c))).mappings().one()
    return _outing({**row, "intake_count": 0})


def _outing_select() -> sa.Select[Any]:
    count = (sa.select(sa.func.count()).where(intakes.c.outing_id == outings.c.id)
             .correlate(outings).scalar_subquery().label("intake_count"))
    return sa.select(*outings.c, count)


async def get_outing(session: AsyncSession, outing_id: uuid.UUID) -> Outing | None:
    """An outing with its intake count."""
    row = (await session.execute(_outing_select().where(outings.c.id == outing_id))).mappings().one_or_none()
    return _outing(row) if row is not None else None


async def list_outings(session: AsyncSession, *, territories: tuple[str, ...],
                       after: tuple[datetime, uuid.UUID] | None, limit: int) -> list[Outing]:
    """Outings of some territories, newest first (keyset on started_at, id)."""
    stmt = _outing_select().where(territory_clause(territories, outings))
    if after is not None:
        stmt = stmt.where(sa.tuple_(outings.c.started_at, outings.c.id) < sa.tuple_(*after))
    stmt = stmt.order_by(outings.c.started_at.desc(), outings.c.id.desc()).limit(limit + 1)
    return [_outing(row) for row in (await session.execute(stmt)).mappings().all()]


async def insert_intake(session: AsyncSession, protector: Protector, *, intake_id: uuid.UUID,
                        values: Mapping[str, Any], narrative: str | None) -> None:
    """Insert an intake, its narrative sealed."""
    await session.execute(sa.insert(intakes).values(
        id=intake_id, **values, **protector.seal("intakes", intake_id, {"narrative": narrative})))


async def insert_children(session: AsyncSession, protector: Protector, new: Sequence[tuple[ChildData, date]], *,
                          reported_on: date) -> list[NewChild]:
    """Insert an intake's new children (each with its reference birth date), names and notes sealed, names
    tokenised for search; returns what the search for duplicates needs of each."""
    rows: list[dict[str, Any]] = []
    out: list[NewChild] = []
    for child, reference_birth_date in new:
        child_id = uuid.uuid4()
        names = {f: getattr(child, f) for f in NAME_FIELDS}
        tokens = protector.name_tokens(names)
        rows.append({
            "id": child_id, **protector.seal("children", child_id, {
                **names, "description": child.description, "birth_act_reference": child.birth_act_reference}),
            "name_tokens": tokens, "sex": child.sex, "birth_date": child.birth_date,
            "estimated_age_years": child.estimated_age_years,
            "age_estimated_on": reported_on if child.birth_date is None else None,
            "reference_birth_date": reference_birth_date, "nationality": child.nationality,
            "civil_status_registered": child.civil_status_registered, "schooling": child.schooling or "unknown",
            "disability": child.disability})
        out.append(NewChild(id=child_id, name_tokens=tokens, key_tokens=protector.key_tokens(names),
                            sex=str(child.sex), reference_birth_date=reference_birth_date))
    if rows:
        await session.execute(sa.insert(children), rows)
    return out


async def visible_children_latest_cases(session: AsyncSession, child_ids: Sequence[uuid.UUID],
                                        v: Visibility) -> dict[uuid.UUID, KnownChild]:
    """For each child the caller may see (through one of its cases), keyed by child id: the child record of the
    latest case the caller sees (the identity it knows, decision 0100; `id` is that record's id), `case_id`
    the child's latest case (any territory: a repeat continues the child's last case) and `case_visible`."""
    seen = (sa.select(cases.c.child_id, cases.c.recorded_child_id)
            .where(cases.c.child_id.in_(child_ids), visible(v))
            .ext(distinct_on(cases.c.child_id))
            .order_by(cases.c.child_id, cases.c.opened_at.desc(), cases.c.id.desc())).subquery()
    latest = (sa.select(cases.c.child_id, cases.c.id.label("case_id"), visible(v).label("case_visible"))
              .where(cases.c.child_id.in_(child_ids))
              .ext(distinct_on(cases.c.child_id))
              .order_by(cases.c.child_id, cases.c.opened_at.desc(), cases.c.id.desc())).subquery()
    stmt = (sa.select(*children.c, seen.c.child_id.label("current_child_id"), latest.c.case_id,
                      latest.c.case_visible)
            .join(seen, seen.c.recorded_child_id == children.c.id)
            .join(latest, latest.c.child_id == seen.c.child_id))
    return {row["current_child_id"]: KnownChild(
        child_id=row["current_child_id"], record_id=row["id"], latest_case_id=row["case_id"],
        latest_case_visible=row["case_visible"], reference_birth_date=row["reference_birth_date"])
        for row in (await session.execute(stmt)).mappings().all()}


async def open_cases_of_children(session: AsyncSession, child_ids: Sequence[uuid.UUID],
                                 v: Visibility) -> list[OpenCase]:
    """The open cases of some children (any territory), each flagged with whether the caller may see it."""
    stmt = (sa.select(cases.c.id, cases.c.child_id, cases.c.case_number, cases.c.prefecture_code,
                      visible(v).label("visible"))
            .where(cases.c.child_id.in_(list(child_ids)), cases.c.status.not_in(TERMINAL_STATUSES))
            .order_by(cases.c.opened_at, cases.c.id))
    return [OpenCase(**row) for row in (await session.execute(stmt)).mappings().all()]
