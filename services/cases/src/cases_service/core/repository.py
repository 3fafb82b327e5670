"""Statements every feature runs: the visibility filter of core/access.py as SQL (applied to every query that
returns a case), the visible case of a request, a case's compare-and-set update, opening cases and linking adults,
the timeline's append and the audit log's."""

from __future__ import annotations

import uuid
from collections.abc import Mapping, Sequence
from typing import Any

import sqlalchemy as sa
from sqlalchemy.dialects.postgresql import insert as pg_insert
from sqlalchemy.ext.asyncio import AsyncSession
from sqlalchemy.sql.elements import ColumnElement

from cases_service.core.access import Visibility
from cases_service.core.enums import Relation
from cases_service.core.protection import NAME_FIELDS, Protector
from cases_service.core.records import AdultData, NewAdult, VisibleCase
from cases_service.core.tables import (
    adults,
    audit_events,
    case_access_grants,
    case_adults,
    case_events,
    case_number_sequences,
    cases,
    placements,
)
from himaya.audit import AuditEntry, record_many
from himaya.auth import NATIONAL, Principal


def territory_clause(codes: tuple[str, ...], table: sa.FromClause = cases) -> ColumnElement[bool]:
    """Rows of `table` whose commune lies inside one of `codes` (each uses an indexed column)."""
    parts: list[ColumnElement[bool]] = []
    for code in codes:
        depth = code.count(".")
        if code == NATIONAL:
            return sa.true()
        if depth == 0:
            parts.append(table.c.region_code == code)
        elif depth == 1:
            parts.append(table.c.prefecture_code == code)
        else:
            parts.append(sa.or_(table.c.commune_code == code, table.c.commune_code.startswith(code + ".")))
    return sa.or_(*parts) if parts else sa.false()


def visible(v: Visibility, table: sa.FromClause = cases) -> ColumnElement[bool]:
    """The cases the caller may see: territory and relation (`table`: `cases` or an alias of it)."""
    territory = territory_clause(v.territories, table)
    if v.relation == Relation.TERRITORIAL:
        return territory
    if v.organization_id is None:
        return sa.false()
    if v.relation == Relation.GRANT:
        g = case_access_grants
        # Only active, unexpired grants (decision 0107).
        related = sa.exists().where(g.c.case_id == table.c.id, g.c.organization_id == v.organization_id,
                                    g.c.revoked_at.is_(None), g.c.expires_at > sa.func.now())
    else:
        p = placements
        related = sa.exists().where(p.c.case_id == table.c.id, p.c.organization_id == v.organization_id,
                                    p.c.ended_at.is_(None))
    return sa.and_(territory, related)


async def insert_adults(session: AsyncSession, protector: Protector, new: Sequence[AdultData], *,
                        intake_id: uuid.UUID | None) -> list[NewAdult]:
    """Insert adults met at an intake or added to a case, names, CNIE and offence notes sealed, names tokenised
    and the CNIE indexed; returns what the search for duplicates needs of each."""
    rows: list[dict[str, Any]] = []
    for adult in new:
        adult_id = uuid.uuid4()
        names = {f: getattr(adult, f) for f in NAME_FIELDS}
        rows.append({
            "id": adult_id, "intake_id": intake_id,
            **protector.seal("adults", adult_id, {**names, "cnie": adult.cnie, "offence_notes": adult.offence_notes}),
            "name_tokens": protector.name_tokens(names), "sex": adult.sex, "age_years": adult.age,
            "cnie_index": protector.cnie_index(adult.cnie), "nationality": adult.nationality,
            "suspected_offender": adult.suspected_offender})
    if rows:
        await session.execute(sa.insert(adults), rows)
    return [NewAdult(id=r["id"], name_tokens=r["name_tokens"], cnie_index=r["cnie_index"]) for r in rows]


async def link_adults(session: AsyncSession, rows: Sequence[Mapping[str, Any]]) -> None:
    """Link adults to cases with the relationship they claim."""
    if rows:
        await session.execute(pg_insert(case_adults).on_conflict_do_nothing(), list(rows))


async def allocate_case_numbers(session: AsyncSession, *, prefecture_code: str, year: int, count: int) -> int:
    """Reserve `count` consecutive numbers for a prefecture and year; returns the first."""
    t = case_number_sequences
    insert = pg_insert(t).values(prefecture_code=prefecture_code, year=year, last_value=count)
    stmt = insert.on_conflict_do_update(index_elements=[t.c.prefecture_code, t.c.year],
                                        set_={"last_value": t.c.last_value + count}).returning(t.c.last_value)
    last = (await session.execute(stmt)).scalar_one()
    return int(last) - count + 1


async def insert_cases(session: AsyncSession, rows: Sequence[Mapping[str, Any]]) -> None:
    """Insert cases."""
    await session.execute(sa.insert(cases), list(rows))


async def visible_case(session: AsyncSession, case_id: uuid.UUID, v: Visibility, *,
                       lock: bool = False) -> VisibleCase | None:
    """The case's id, status, version, place and lead, if the caller may see it (optionally locked)."""
    stmt = sa.select(cases.c.id, cases.c.status, cases.c.version, cases.c.child_id, cases.c.prefecture_code,
                     cases.c.commune_code, cases.c.lead_organization_id).where(cases.c.id == case_id, visible(v))
    if lock:
        stmt = stmt.with_for_update()
    row = (await session.execute(stmt)).mappings().one_or_none()
    return VisibleCase(**row) if row is not None else None


async def update_case(session: AsyncSession, case_id: uuid.UUID, *, expected_version: int | None,
                      values: Mapping[str, Any], protector: Protector | None = None,
                      sealed: Mapping[str, str | None] | None = None) -> int | None:
    """Compare-and-set update (`sealed`: free texts to store sealed); returns the new version, None when the
    version did not match."""
    stmt = sa.update(cases).where(cases.c.id == case_id)
    if expected_version is not None:
        stmt = stmt.where(cases.c.version == expected_version)
    if sealed:
        assert protector is not None
        values = {**values, **protector.seal("cases", case_id, sealed)}
    stmt = stmt.values(**values, version=cases.c.version + 1, updated_at=sa.func.now())
    version: int | None = (await session.execute(stmt.returning(cases.c.version))).scalar_one_or_none()
    return version


async def add_events(session: AsyncSession, rows: Sequence[Mapping[str, Any]], *,
                     protector: Protector | None = None) -> None:
    """Append timeline events (ids and enum values in `data`; a `reason` is sealed, bound to the case's id since
    the event's own id comes from the database)."""
    if rows:
        # executemany takes its columns from the first row: give every row every optional column.
        defaults: dict[str, Any] = {"actor_organization_id": None, "from_status": None, "to_status": None,
                                    "data": {}, "reason_enc": None, "source_event_id": None}
        out = []
        for row in rows:
            values = {**defaults, **row}
            if "reason" in values:
                reason = values.pop("reason")
                assert protector is not None
                values["reason_enc"] = protector.cipher.encrypt(reason, table="case_events", column="reason",
                                                                row_id=values["case_id"])
            out.append(values)
        await session.execute(sa.insert(case_events), out)


async def write_audit(session: AsyncSession, entries: Sequence[AuditEntry], *, principal: Principal | None,
                      actor: str | None = None, organization_id: uuid.UUID | None = None,
                      source_ip: str | None = None) -> None:
    """Append audit events for what a caller read or changed (field names only, never values)."""
    await record_many(session, audit_events, entries, principal=principal, actor=actor,
                      organization_id=organization_id, source_ip=source_ip)
