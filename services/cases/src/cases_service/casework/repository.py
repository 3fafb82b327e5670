"""SQL of casework records: filiation checks, assessments, care plans, services, follow-ups, institutions and
placements (no rules here)."""

from __future__ import annotations

import uuid
from collections.abc import Callable, Collection, Mapping, Sequence
from typing import Any, TypeVar

import sqlalchemy as sa
from sqlalchemy.ext.asyncio import AsyncSession

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
from cases_service.core.protection import Protector
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
from himaya.records import from_row

RECORD_TABLES: dict[str, sa.Table] = {
    "filiation_checks": filiation_checks, "assessments": assessments, "care_plans": care_plans,
    "service_deliveries": service_deliveries, "follow_ups": follow_ups, "placements": placements,
}
RECORD_TYPES: dict[str, type[Any]] = {
    "filiation_checks": FiliationCheck, "assessments": Assessment, "care_plans": CarePlan,
    "service_deliveries": ServiceDelivery, "follow_ups": FollowUp, "placements": Placement,
}
TABLE_OF: dict[type[Any], str] = {kind: table for table, kind in RECORD_TYPES.items()}
R = TypeVar("R", FiliationCheck, Assessment, CarePlan, ServiceDelivery, FollowUp, Placement)
# The free texts of each kind of record, stored sealed.
SEALED: dict[str, tuple[str, ...]] = {
    "filiation_checks": ("dna_order_reference", "notes"), "assessments": ("summary",), "care_plans": ("objectives",),
    "service_deliveries": ("notes",), "follow_ups": ("notes",), "placements": (),
}
ORDER_COLUMN = {"follow_ups": "visited_at", "placements": "started_at"}
# Which sealed texts to open for a caller: a fixed set, or one decided per record (an assessment's health content).
Reveal = Collection[str] | Callable[[Mapping[Any, Any]], Collection[str]]


def _record(kind: type[R], row: Mapping[Any, Any], protector: Protector, reveal: Reveal) -> R:
    """A row as its record, the sealed texts in `reveal` opened and the others None."""
    table = TABLE_OF[kind]
    wanted = reveal(row) if callable(reveal) else reveal
    opened = protector.open(table, row, *(c for c in SEALED[table] if c in wanted))
    return from_row(kind, {**row, **{c: opened.get(c) for c in SEALED[table]}})


async def insert_record(session: AsyncSession, protector: Protector, kind: type[R], values: Mapping[str, Any], *,
                        sealed: Mapping[str, str | None] | None = None, reveal: Reveal = ()) -> R:
    """Insert a casework record (`values` with its id; `sealed`: its free texts, stored sealed) and return it."""
    table = TABLE_OF[kind]
    t = RECORD_TABLES[table]
    row = {**values, **protector.seal(table, values["id"], sealed or {})}
    inserted = (await session.execute(sa.insert(t).values(**row).returning(*t.c))).mappings().one()
    return _record(kind, inserted, protector, reveal)


async def list_records(session: AsyncSession, protector: Protector, kind: type[R], case_id: uuid.UUID, *,
                       reveal: Reveal = ()) -> list[R]:
    """A case's records of one kind, oldest first (a case has tens of them, not thousands)."""
    table = TABLE_OF[kind]
    t = RECORD_TABLES[table]
    order = t.c[ORDER_COLUMN.get(table, "created_at")]
    stmt = sa.select(t).where(t.c.case_id == case_id).order_by(order, t.c.id)
    return [_record(kind, row, protector, reveal) for row in (await session.execute(stmt)).mappings().all()]


async def get_record(session: AsyncSession, protector: Protector, kind: type[R], *, case_id: uuid.UUID,
                     record_id: uuid.UUID, lock: bool = False) -> R | None:
    """One record of a case (its free texts not opened)."""
    t = RECORD_TABLES[TABLE_OF[kind]]
    stmt = sa.select(t).where(t.c.id == record_id, t.c.case_id == case_id)
    if lock:
        stmt = stmt.with_for_update()
    row = (await session.execute(stmt)).mappings().one_or_none()
    return _record(kind, row, protector, ()) if row is not None else None


async def update_record(session: AsyncSession, protector: Protector, kind: type[R], record_id: uuid.UUID, *,
                        expected_version: int | None, values: Mapping[str, Any],
                        sealed: Mapping[str, str | None] | None = None, reveal: Reveal = ()) -> R | None:
    """Update a record (`sealed`: free texts to store sealed); with `expected_version`, compare-and-set (None
    when stale)."""
    table = TABLE_OF[kind]
    t = RECORD_TABLES[table]
    stmt = sa.update(t).where(t.c.id == record_id)
    extra: dict[str, Any] = {}
    if "version" in t.c:
        extra["version"] = t.c.version + 1
        if expected_version is not None:
            stmt = stmt.where(t.c.version == expected_version)
    if "updated_at" in t.c:
        extra["updated_at"] = sa.func.now()
    if sealed:
        extra.update(protector.seal(table, record_id, sealed))
    row = (await session.execute(stmt.values(**values, **extra).returning(*t.c))).mappings().one_or_none()
    return _record(kind, row, protector, reveal) if row is not None else None


def _measure(row: Mapping[Any, Any]) -> JudicialMeasure:
    return from_row(JudicialMeasure, row)


async def find_measure(session: AsyncSession, *, case_id: uuid.UUID, types: Sequence[str],
                       measure_id: uuid.UUID | None = None, reference: str | None = None
                       ) -> JudicialMeasure | None:
    """A judicial measure of the case of one of `types`, by id or by order reference."""
    m = judicial_measures
    stmt = sa.select(m).where(m.c.case_id == case_id, m.c.decision_type.in_(types))
    if measure_id is not None:
        stmt = stmt.where(m.c.id == measure_id)
    if reference is not None:
        stmt = stmt.where(m.c.reference == reference)
    row = (await session.execute(stmt.order_by(m.c.decided_at.desc()).limit(1))).mappings().one_or_none()
    return _measure(row) if row is not None else None


# ---- institutions and placements -----------------------------------------------------------------------

def _institution_select() -> sa.Select[Any]:
    occupied = (sa.select(sa.func.count()).where(placements.c.institution_id == institutions.c.id,
                                                 placements.c.ended_at.is_(None))
                .correlate(institutions).scalar_subquery().label("occupied"))
    return sa.select(*institutions.c, occupied)


def _institution(row: Mapping[Any, Any]) -> Institution:
    return from_row(Institution, row)


async def insert_institution(session: AsyncSession, values: Mapping[str, Any]) -> Institution:
    """Insert an institution and return it with its occupancy."""
    await session.execute(sa.insert(institutions).values(**values))
    return _institution((await session.execute(_institution_select().where(institutions.c.id == values["id"])))
                        .mappings().one())


async def get_institution(session: AsyncSession, institution_id: uuid.UUID, *, lock: bool = False
                          ) -> Institution | None:
    """An institution with its occupancy (optionally locked, to serialise placements into it)."""
    if lock:
        await session.execute(sa.select(institutions.c.id).where(institutions.c.id == institution_id)
                              .with_for_update())
    row = (await session.execute(_institution_select().where(institutions.c.id == institution_id))
           ).mappings().one_or_none()
    return _institution(row) if row is not None else None


async def list_institutions(session: AsyncSession, *, prefecture_codes: Sequence[str] | None
                            ) -> list[Institution]:
    """Institutions, of some prefectures or all (a few hundred rows at most)."""
    stmt = _institution_select()
    if prefecture_codes is not None:
        stmt = stmt.where(institutions.c.prefecture_code.in_(prefecture_codes))
    return [_institution(row) for row in (await session.execute(
        stmt.order_by(institutions.c.prefecture_code, institutions.c.name))).mappings().all()]


async def update_institution(session: AsyncSession, institution_id: uuid.UUID, *, expected_version: int | None,
                             values: Mapping[str, Any]) -> bool:
    """Compare-and-set update of capacity figures; False when stale."""
    t = institutions
    stmt = sa.update(t).where(t.c.id == institution_id)
    if expected_version is not None:
        stmt = stmt.where(t.c.version == expected_version)
    result = await session.execute(stmt.values(**values, version=t.c.version + 1, updated_at=sa.func.now()))
    return bool(getattr(result, "rowcount", 0))


async def has_active_placement(session: AsyncSession, case_id: uuid.UUID) -> bool:
    """Whether the child is placed now."""
    stmt = sa.select(sa.exists().where(placements.c.case_id == case_id, placements.c.ended_at.is_(None)))
    return bool((await session.execute(stmt)).scalar())


async def adult_in_case(session: AsyncSession, *, case_id: uuid.UUID, adult_id: uuid.UUID) -> bool:
    """Whether the adult is linked to the case."""
    stmt = sa.select(sa.exists().where(case_adults.c.case_id == case_id, case_adults.c.adult_id == adult_id))
    return bool((await session.execute(stmt)).scalar())


async def list_measures(session: AsyncSession, case_id: uuid.UUID, *, concerns: str | None = None
                        ) -> list[JudicialMeasure]:
    """A case's judicial measures, in decision order."""
    stmt = sa.select(judicial_measures).where(judicial_measures.c.case_id == case_id)
    if concerns:
        stmt = stmt.where(judicial_measures.c.concerns == concerns)
    return [_measure(row) for row in (await session.execute(stmt.order_by(judicial_measures.c.decided_at))
                                      ).mappings().all()]
