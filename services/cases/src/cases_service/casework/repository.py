"""SQL of casework records: filiation checks, assessments, care plans, services, follow-ups, institutions and
placements (no rules here)."""

from __future__ import annotations

import uuid
from collections.abc import Mapping, Sequence
from typing import Any

import sqlalchemy as sa
from sqlalchemy.engine import RowMapping
from sqlalchemy.ext.asyncio import AsyncSession

from cases_service.core.tables import (
    assessments,
    care_plans,
    case_adults,
    filiation_checks,
    follow_ups,
    institutions,
    judicial_measures,
    placements,
    service_deliveries,
)

RECORD_TABLES: dict[str, sa.Table] = {
    "filiation_checks": filiation_checks, "assessments": assessments, "care_plans": care_plans,
    "service_deliveries": service_deliveries, "follow_ups": follow_ups, "placements": placements,
}
ORDER_COLUMN = {"follow_ups": "visited_at", "placements": "started_at"}


async def insert_record(session: AsyncSession, table: str, values: Mapping[str, Any]) -> RowMapping:
    """Insert a casework record and return it."""
    t = RECORD_TABLES[table]
    return (await session.execute(sa.insert(t).values(**values).returning(*t.c))).mappings().one()


async def list_records(session: AsyncSession, table: str, case_id: uuid.UUID) -> Sequence[RowMapping]:
    """A case's records of one kind, oldest first (a case has tens of them, not thousands)."""
    t = RECORD_TABLES[table]
    order = t.c[ORDER_COLUMN.get(table, "created_at")]
    stmt = sa.select(t).where(t.c.case_id == case_id).order_by(order, t.c.id)
    return (await session.execute(stmt)).mappings().all()


async def get_record(session: AsyncSession, table: str, *, case_id: uuid.UUID, record_id: uuid.UUID,
                     lock: bool = False) -> RowMapping | None:
    """One record of a case."""
    t = RECORD_TABLES[table]
    stmt = sa.select(t).where(t.c.id == record_id, t.c.case_id == case_id)
    if lock:
        stmt = stmt.with_for_update()
    return (await session.execute(stmt)).mappings().one_or_none()


async def update_record(session: AsyncSession, table: str, record_id: uuid.UUID, *,
                        expected_version: int | None, values: Mapping[str, Any]) -> RowMapping | None:
    """Update a record; with `expected_version`, compare-and-set (None when stale)."""
    t = RECORD_TABLES[table]
    stmt = sa.update(t).where(t.c.id == record_id)
    extra: dict[str, Any] = {}
    if "version" in t.c:
        extra["version"] = t.c.version + 1
        if expected_version is not None:
            stmt = stmt.where(t.c.version == expected_version)
    if "updated_at" in t.c:
        extra["updated_at"] = sa.func.now()
    return (await session.execute(stmt.values(**values, **extra).returning(*t.c))).mappings().one_or_none()


async def find_measure(session: AsyncSession, *, case_id: uuid.UUID, types: Sequence[str],
                       measure_id: uuid.UUID | None = None, reference: str | None = None) -> RowMapping | None:
    """A judicial measure of the case of one of `types`, by id or by order reference."""
    m = judicial_measures
    stmt = sa.select(m).where(m.c.case_id == case_id, m.c.decision_type.in_(types))
    if measure_id is not None:
        stmt = stmt.where(m.c.id == measure_id)
    if reference is not None:
        stmt = stmt.where(m.c.reference == reference)
    return (await session.execute(stmt.order_by(m.c.decided_at.desc()).limit(1))).mappings().one_or_none()


# ---- institutions and placements -----------------------------------------------------------------------

def _institution_select() -> sa.Select[Any]:
    occupied = (sa.select(sa.func.count()).where(placements.c.institution_id == institutions.c.id,
                                                 placements.c.ended_at.is_(None))
                .correlate(institutions).scalar_subquery().label("occupied"))
    return sa.select(*institutions.c, occupied)


async def insert_institution(session: AsyncSession, values: Mapping[str, Any]) -> RowMapping:
    """Insert an institution and return it with its occupancy."""
    await session.execute(sa.insert(institutions).values(**values))
    return (await session.execute(_institution_select().where(institutions.c.id == values["id"]))).mappings().one()


async def get_institution(session: AsyncSession, institution_id: uuid.UUID, *, lock: bool = False
                          ) -> RowMapping | None:
    """An institution with its occupancy (optionally locked, to serialise placements into it)."""
    if lock:
        await session.execute(sa.select(institutions.c.id).where(institutions.c.id == institution_id)
                              .with_for_update())
    return (await session.execute(_institution_select().where(institutions.c.id == institution_id))
            ).mappings().one_or_none()


async def list_institutions(session: AsyncSession, *, prefecture_codes: Sequence[str] | None
                            ) -> Sequence[RowMapping]:
    """Institutions, of some prefectures or all (a few hundred rows at most)."""
    stmt = _institution_select()
    if prefecture_codes is not None:
        stmt = stmt.where(institutions.c.prefecture_code.in_(prefecture_codes))
    return (await session.execute(stmt.order_by(institutions.c.prefecture_code, institutions.c.name))
            ).mappings().all()


async def update_institution(session: AsyncSession, institution_id: uuid.UUID, *, expected_version: int | None,
                             values: Mapping[str, Any]) -> bool:
    """Compare-and-set update of capacity figures; False when stale."""
    t = institutions
    stmt = sa.update(t).where(t.c.id == institution_id)
    if expected_version is not None:
        stmt = stmt.where(t.c.version == expected_version)
    result = await session.execute(stmt.values(**values, version=t.c.version + 1, updated_at=sa.func.now()))
    return bool(getattr(result, "rowcount", 0))


async def active_placement(session: AsyncSession, case_id: uuid.UUID) -> RowMapping | None:
    """The child's current placement, if any."""
    stmt = sa.select(placements).where(placements.c.case_id == case_id, placements.c.ended_at.is_(None))
    return (await session.execute(stmt)).mappings().one_or_none()


async def adult_in_case(session: AsyncSession, *, case_id: uuid.UUID, adult_id: uuid.UUID) -> bool:
    """Whether the adult is linked to the case."""
    stmt = sa.select(sa.exists().where(case_adults.c.case_id == case_id, case_adults.c.adult_id == adult_id))
    return bool((await session.execute(stmt)).scalar())


async def list_measures(session: AsyncSession, case_id: uuid.UUID, *, concerns: str | None = None
                        ) -> Sequence[RowMapping]:
    """A case's judicial measures, in decision order."""
    stmt = sa.select(judicial_measures).where(judicial_measures.c.case_id == case_id)
    if concerns:
        stmt = stmt.where(judicial_measures.c.concerns == concerns)
    return (await session.execute(stmt.order_by(judicial_measures.c.decided_at))).mappings().all()

