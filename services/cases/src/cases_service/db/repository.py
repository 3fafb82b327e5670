"""SQL of outings, intakes, children, adults, cases, the timeline, grants and events (no rules here)."""

from __future__ import annotations

import functools
import uuid
from collections.abc import Iterable, Mapping, Sequence
from datetime import date, datetime
from typing import Any

import sqlalchemy as sa
from sqlalchemy.dialects.postgresql import distinct_on
from sqlalchemy.dialects.postgresql import insert as pg_insert
from sqlalchemy.engine import RowMapping
from sqlalchemy.ext.asyncio import AsyncSession

from cases_service.core.access import Visibility
from cases_service.core.enums import TERMINAL_STATUSES
from cases_service.core.repository import visible
from cases_service.core.tables import (
    adults,
    assessments,
    audit_events,
    care_plans,
    case_access_grants,
    case_adults,
    case_events,
    case_number_sequences,
    cases,
    children,
    follow_ups,
    intakes,
    judicial_measures,
    outings,
    processed_events,
)
from himaya.audit import AuditEntry, record_many
from himaya.auth import Principal
from himaya.db import fetch_prepared

CASE_COLUMNS = [c for c in cases.c]
CHILD_COLUMNS = [c.label(f"child__{c.name}") for c in children.c if c.name not in ("name_tokens",)]
INTAKE_COLUMNS = [intakes.c.reported_at.label("intake__reported_at"), intakes.c.source.label("intake__source"),
                  intakes.c.place_type.label("intake__place_type"), intakes.c.night.label("intake__night"),
                  intakes.c.exploitation_pattern.label("intake__exploitation_pattern"),
                  intakes.c.outing_id.label("intake__outing_id")]


# ---- outings -------------------------------------------------------------------------------------------

async def insert_outing(session: AsyncSession, values: Mapping[str, Any]) -> RowMapping:
    """Insert an outing and return it."""
    return (await session.execute(sa.insert(outings).values(**values).returning(*outings.c))).mappings().one()


def _outing_select() -> sa.Select[Any]:
    count = (sa.select(sa.func.count()).where(intakes.c.outing_id == outings.c.id)
             .correlate(outings).scalar_subquery().label("intake_count"))
    return sa.select(*outings.c, count)


async def get_outing(session: AsyncSession, outing_id: uuid.UUID) -> RowMapping | None:
    """An outing with its intake count."""
    return (await session.execute(_outing_select().where(outings.c.id == outing_id))).mappings().one_or_none()


async def list_outings(session: AsyncSession, *, territory: sa.ColumnElement[bool], after: tuple[datetime, uuid.UUID]
                       | None, limit: int) -> Sequence[RowMapping]:
    """Outings of the caller's territories, newest first (keyset on started_at, id)."""
    stmt = _outing_select().where(territory)
    if after is not None:
        stmt = stmt.where(sa.tuple_(outings.c.started_at, outings.c.id) < sa.tuple_(*after))
    stmt = stmt.order_by(outings.c.started_at.desc(), outings.c.id.desc()).limit(limit + 1)
    return (await session.execute(stmt)).mappings().all()


# ---- intakes, children, adults -------------------------------------------------------------------------

async def insert_intake(session: AsyncSession, values: Mapping[str, Any]) -> None:
    """Insert an intake."""
    await session.execute(sa.insert(intakes).values(**values))


async def insert_children(session: AsyncSession, rows: Sequence[Mapping[str, Any]]) -> None:
    """Insert new children."""
    if rows:
        await session.execute(sa.insert(children), list(rows))


async def insert_adults(session: AsyncSession, rows: Sequence[Mapping[str, Any]]) -> None:
    """Insert adults."""
    if rows:
        await session.execute(sa.insert(adults), list(rows))


async def link_adults(session: AsyncSession, rows: Sequence[Mapping[str, Any]]) -> None:
    """Link adults to cases with the relationship they claim."""
    if rows:
        await session.execute(pg_insert(case_adults).on_conflict_do_nothing(), list(rows))


async def visible_children_latest_cases(session: AsyncSession, child_ids: Sequence[uuid.UUID],
                                        v: Visibility) -> dict[uuid.UUID, RowMapping]:
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
    return {row["current_child_id"]: row for row in (await session.execute(stmt)).mappings().all()}


async def open_cases_of_children(session: AsyncSession, child_ids: Sequence[uuid.UUID],
                                 v: Visibility) -> Sequence[RowMapping]:
    """The open cases of some children (any territory), each flagged with whether the caller may see it."""
    stmt = (sa.select(cases.c.id, cases.c.child_id, cases.c.case_number, cases.c.prefecture_code,
                      visible(v).label("visible"))
            .where(cases.c.child_id.in_(list(child_ids)), cases.c.status.not_in(TERMINAL_STATUSES))
            .order_by(cases.c.opened_at, cases.c.id))
    return (await session.execute(stmt)).mappings().all()


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


async def insert_reporter_grant(session: AsyncSession, *, case_id: uuid.UUID, organization_id: uuid.UUID,
                                intake_id: uuid.UUID, expires_at: datetime) -> None:
    """Grant the organisation that recorded an intake read access to one of its cases."""
    g = case_access_grants
    stmt = pg_insert(g).values(case_id=case_id, organization_id=organization_id, source_id=intake_id,
                               kind="reporter", expires_at=expires_at)
    await session.execute(stmt.on_conflict_do_nothing(index_elements=[g.c.case_id, g.c.organization_id,
                                                                      g.c.source_id]))


async def apply_referral_grant(session: AsyncSession, *, case_id: uuid.UUID, organization_id: uuid.UUID,
                               referral_id: uuid.UUID, kind: str, sequence: int, active: bool,
                               expires_at: datetime) -> bool:
    """Set the referral's grant to active (expiry renewed) or revoked as of `sequence`, in one statement that
    changes nothing when the row already holds a newer or equal sequence; True when it was applied."""
    g = case_access_grants
    insert = pg_insert(g).values(case_id=case_id, organization_id=organization_id, source_id=referral_id,
                                 kind=kind, source_sequence=sequence, expires_at=expires_at,
                                 revoked_at=None if active else sa.func.now())
    x = insert.excluded
    values: dict[str, Any] = {"source_sequence": x.source_sequence}
    if active:
        values.update(revoked_at=None, expires_at=sa.func.greatest(g.c.expires_at, x.expires_at))
    else:
        values["revoked_at"] = sa.func.coalesce(g.c.revoked_at, x.revoked_at)
    stmt = insert.on_conflict_do_update(index_elements=[g.c.case_id, g.c.organization_id, g.c.source_id],
                                        set_=values, where=g.c.source_sequence < x.source_sequence)
    result = await session.execute(stmt.returning(g.c.case_id))
    return result.first() is not None


async def revoke_reporter_grants(session: AsyncSession, *, case_id: uuid.UUID) -> int:
    """Revoke the active reporter grants of a case; returns how many there were."""
    g = case_access_grants
    result = await session.execute(sa.update(g).where(g.c.case_id == case_id, g.c.kind == "reporter",
                                                      g.c.revoked_at.is_(None)).values(revoked_at=sa.func.now()))
    return int(getattr(result, "rowcount", 0) or 0)


# ---- cases ---------------------------------------------------------------------------------------------

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


async def case_exists_visible(session: AsyncSession, case_id: uuid.UUID, v: Visibility, *,
                              lock: bool = False) -> RowMapping | None:
    """The case's id, status, version, place and lead, if the caller may see it (optionally locked)."""
    stmt = sa.select(cases.c.id, cases.c.status, cases.c.version, cases.c.child_id, cases.c.prefecture_code,
                     cases.c.commune_code, cases.c.lead_organization_id).where(cases.c.id == case_id, visible(v))
    if lock:
        stmt = stmt.with_for_update()
    return (await session.execute(stmt)).mappings().one_or_none()


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


async def update_case(session: AsyncSession, case_id: uuid.UUID, *, expected_version: int | None,
                      values: Mapping[str, Any]) -> RowMapping | None:
    """Compare-and-set update: bumps the version; None when the version did not match."""
    stmt = sa.update(cases).where(cases.c.id == case_id)
    if expected_version is not None:
        stmt = stmt.where(cases.c.version == expected_version)
    stmt = stmt.values(**values, version=cases.c.version + 1, updated_at=sa.func.now())
    return (await session.execute(stmt.returning(cases.c.id, cases.c.version, cases.c.status))
            ).mappings().one_or_none()


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


# ---- timeline ------------------------------------------------------------------------------------------

async def add_events(session: AsyncSession, rows: Sequence[Mapping[str, Any]]) -> None:
    """Append timeline events (ids and enum values in `data`, reasons encrypted)."""
    if rows:
        # executemany takes its columns from the first row: give every row every optional column.
        defaults: dict[str, Any] = {"actor_organization_id": None, "from_status": None, "to_status": None, "data": {},
                    "reason_enc": None, "source_event_id": None}
        await session.execute(sa.insert(case_events), [{**defaults, **row} for row in rows])


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


# ---- adults --------------------------------------------------------------------------------------------

async def case_adults_rows(session: AsyncSession, case_id: uuid.UUID) -> Sequence[RowMapping]:
    """The adults of a case with the relationship they claim."""
    stmt = (sa.select(*adults.c, case_adults.c.claimed_relationship)
            .join(case_adults, case_adults.c.adult_id == adults.c.id)
            .where(case_adults.c.case_id == case_id).order_by(adults.c.created_at, adults.c.id))
    return (await session.execute(stmt)).mappings().all()


async def adult_in_case(session: AsyncSession, *, case_id: uuid.UUID, adult_id: uuid.UUID) -> bool:
    """Whether the adult is linked to the case."""
    stmt = sa.select(sa.exists().where(case_adults.c.case_id == case_id, case_adults.c.adult_id == adult_id))
    return bool((await session.execute(stmt)).scalar())


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


# ---- events from referrals -----------------------------------------------------------------------------

async def claim_event(session: AsyncSession, *, event_id: uuid.UUID, event_type: str,
                      case_id: uuid.UUID | None) -> bool:
    """Record an event id; False if it was processed before (waits for a concurrent first delivery)."""
    stmt = (pg_insert(processed_events).values(event_id=event_id, event_type=event_type, case_id=case_id)
            .on_conflict_do_nothing().returning(processed_events.c.event_id))
    return (await session.execute(stmt)).scalar_one_or_none() is not None


async def case_for_event(session: AsyncSession, case_id: uuid.UUID) -> RowMapping | None:
    """A case locked for an event's effects (events are not subject to a caller's visibility)."""
    stmt = sa.select(cases.c.id, cases.c.status, cases.c.version).where(cases.c.id == case_id).with_for_update()
    return (await session.execute(stmt)).mappings().one_or_none()


async def insert_measure(session: AsyncSession, values: Mapping[str, Any]) -> None:
    """Record a prosecutor decision on a case."""
    await session.execute(sa.insert(judicial_measures).values(**values))


async def lift_measures(session: AsyncSession, *, case_id: uuid.UUID, lifted_by: uuid.UUID,
                        decision_ids: Sequence[uuid.UUID] | None) -> int:
    """Lift active measures concerning the child: those named, or all when `decision_ids` is None."""
    m = judicial_measures
    stmt = sa.update(m).where(m.c.case_id == case_id, m.c.active, m.c.concerns == "child", m.c.id != lifted_by)
    if decision_ids is not None:
        stmt = stmt.where(sa.or_(m.c.decision_id.in_(decision_ids), m.c.id.in_(decision_ids)))
    result = await session.execute(stmt.values(active=False, lifted_at=sa.func.now(), lifted_by_id=lifted_by))
    return int(getattr(result, "rowcount", 0) or 0)


async def list_measures(session: AsyncSession, case_id: uuid.UUID, *, concerns: str | None = None
                        ) -> Sequence[RowMapping]:
    """A case's judicial measures, in decision order."""
    stmt = sa.select(judicial_measures).where(judicial_measures.c.case_id == case_id)
    if concerns:
        stmt = stmt.where(judicial_measures.c.concerns == concerns)
    return (await session.execute(stmt.order_by(judicial_measures.c.decided_at))).mappings().all()



# ---- audit ---------------------------------------------------------------------------------------------

async def write_audit(session: AsyncSession, entries: Sequence[AuditEntry], *, principal: Principal | None,
                      actor: str | None = None, organization_id: uuid.UUID | None = None,
                      source_ip: str | None = None) -> None:
    """Append audit events for what a caller read or changed (field names only, never values)."""
    await record_many(session, audit_events, entries, principal=principal, actor=actor,
                      organization_id=organization_id, source_ip=source_ip)
