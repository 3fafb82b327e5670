"""SQL of the statistics (no rules here): the case facts, the counts cube and the indicator queries.

`cases.stats_case_facts` (migration `stats_facts_incremental`, decision 0061) is a table of one row per case
with every dimension of the summary already derived (local intake date, age in completed years at the intake
date, territory, ...) and the weights that make unique counts additive; `cases.stats_cells` is a journal of
additive counts by month x commune x sex x age group. Each fact carries its case's `record_key` and the cube
sums them (`key_sum`), from which the disclosure control derives each cell's key (migration
`stats_cell_keys`, decision 0106). Statement triggers on cases, intakes and children keep
both up to date in the writing transaction, so a read never waits for a refresh.
"""

from __future__ import annotations

import asyncio
import calendar
import contextlib
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from datetime import date, datetime, timedelta
from typing import Any

import sqlalchemy as sa
from sqlalchemy.dialects.postgresql import distinct_on
from sqlalchemy.engine import RowMapping
from sqlalchemy.ext.asyncio import AsyncEngine, AsyncSession

from cases_service.core.enums import FAMILY_DECISIONS, IN_CARE_OR_FOLLOW_UP, PATH, PLACEMENT_ORDERS
from cases_service.core.repository import territory_clause
from cases_service.core.tables import (
    case_adults,
    case_events,
    cases,
    filiation_checks,
    follow_ups,
    institutions,
    judicial_measures,
    placements,
    service_deliveries,
)

SCHEMA = "cases"
INTAKE_WEIGHTS = ("all", "sex", "pilot", "sex_pilot", "marrakech", "sex_marrakech")
facts = sa.table(
    "stats_case_facts",
    *(sa.column(name) for name in (
        "case_id", "child_id", "intake_id", "reported_on", "month", "region_code", "prefecture_code",
        "commune_code", "status", "is_repeat", "repeat_of_case_id", "sex", "age_years", "age_group", "nationality",
        "exploitation_pattern", "place_type", "night", "source", "child_simple", "intake_simple",
        *(f"wi_{w}" for w in INTAKE_WEIGHTS), "record_key")),
    schema=SCHEMA,
)
cells = sa.table(
    "stats_cells",
    *(sa.column(name) for name in (
        "id", "month", "region_code", "prefecture_code", "commune_code", "sex", "age_group", "cases", "children",
        *(f"i_{w}" for w in INTAKE_WEIGHTS), "key_sum")),
    schema=SCHEMA,
)
cells_meta = sa.table("stats_cells_meta", sa.column("compacted_through"), schema=SCHEMA)

AGE_BANDS: dict[str, tuple[tuple[str, int, int | None], ...]] = {
    # (label, lowest age in completed years, highest) — disjoint, so that cells add up.
    "pilot": (("under_1", 0, 0), ("1_4", 1, 4), ("5_plus", 5, None)),
    "marrakech": (("under_1", 0, 0), ("1_5", 1, 5), ("6_13", 6, 13), ("14_17", 14, 17), ("18_plus", 18, None)),
}
# The age groups of the facts and the cube (`age_group` = index): the common refinement of every scheme's
# bands, so one cube serves them all. The migration computes the same groups; `band_of_group` checks that
# each group lies inside one band of each scheme.
AGE_GROUPS: tuple[tuple[int, int | None], ...] = ((0, 0), (1, 4), (5, 5), (6, 13), (14, 17), (18, None))
TERRITORY_COLUMNS = {"region": "region_code", "prefecture": "prefecture_code", "commune": "commune_code"}
PLAIN_DIMENSIONS = ("sex", "status", "exploitation_pattern", "place_type", "source")
# Dimensions the cube holds (intake-level or derived from the commune, plus sex and age): a summary grouped by
# these alone is summed from the cube; any other dimension counts over the facts.
CUBE_DIMENSIONS = frozenset({"territory", "sex", "age_band", "month", "phase"})
COMPACT_AFTER = 10_000  # journal rows written since the last compaction
DISTINCT_WORK_MEM = "32MB"  # for this transaction only (a statistics request)


def band_of_group(scheme: str, group: int) -> str:
    """The band of `scheme` that contains age group `group` (an error if a group straddles two bands)."""
    low, high = AGE_GROUPS[group]
    for label, band_low, band_high in AGE_BANDS[scheme]:
        if low >= band_low and (band_high is None or (high is not None and high <= band_high)):
            return label
    raise ValueError(f"age group {AGE_GROUPS[group]} straddles two bands of the {scheme} scheme")


def dimension(name: str, *, territory_level: str, age_scheme: str, phases: Mapping[str, str],
              source: sa.TableClause = facts) -> sa.ColumnElement[Any]:
    """The SQL expression of one group-by dimension, as text, over the facts (ages in years) or the cube."""
    c = source.c
    if name == "territory":
        return c[TERRITORY_COLUMNS[territory_level]]
    if name in PLAIN_DIMENSIONS:
        return c[name]
    if name == "nationality":
        return sa.func.coalesce(c.nationality, sa.literal("unknown"))
    if name == "night":
        return sa.case((c.night, sa.literal("night")), else_=sa.literal("day"))
    if name == "case_kind":
        return sa.case((c.is_repeat, sa.literal("repeat")), else_=sa.literal("new"))
    if name == "month":
        return sa.func.to_char(c.month if source is cells else c.reported_on, "YYYY-MM")
    if name == "phase":
        whens = [(c.prefecture_code == code, sa.literal(phase)) for code, phase in sorted(phases.items())]
        return sa.case(*whens, else_=sa.literal("none")) if whens else sa.literal("none")
    if name == "age_band":
        if source is cells:
            return sa.case({g: sa.literal(band_of_group(age_scheme, g)) for g in range(len(AGE_GROUPS))},
                           value=c.age_group, else_=sa.literal("unknown"))
        whens = []
        for label, low, high in AGE_BANDS[age_scheme]:
            cond = c.age_years >= low if high is None else sa.and_(c.age_years >= low, c.age_years <= high)
            whens.append((cond, sa.literal(label)))
        return sa.case(*whens, else_=sa.literal("unknown"))
    raise KeyError(name)


@dataclass(frozen=True)
class CaseScope:
    """Which cases count: the caller's territories, the period (intake dates, inclusive), optional prefectures."""

    territories: tuple[str, ...]
    period_from: date | None
    period_to: date | None
    prefectures: tuple[str, ...] | None

    def where(self, source: sa.TableClause = facts, *, dates: bool = True) -> list[sa.ColumnElement[bool]]:
        """WHERE clauses over the facts or the cube (territory, prefectures; the period when `dates`)."""
        out: list[sa.ColumnElement[bool]] = [territory_clause(self.territories, source)]
        if dates and self.period_from is not None:
            out.append(source.c.reported_on >= self.period_from)
        if dates and self.period_to is not None:
            out.append(source.c.reported_on <= self.period_to)
        if self.prefectures is not None:
            out.append(source.c.prefecture_code.in_(list(self.prefectures)))
        return out


def facts_filters(*, territories: Sequence[str], period_from: date | None, period_to: date | None,
                  prefectures: Sequence[str] | None) -> list[sa.ColumnElement[bool]]:
    """WHERE clauses over the facts: the caller's territories, the period, optional prefectures."""
    return CaseScope(tuple(territories), period_from, period_to,
                 tuple(prefectures) if prefectures is not None else None).where()


async def as_of(session: AsyncSession) -> datetime:
    """The moment the figures describe: the facts are kept in the writing transactions, so every change
    committed before this request's transaction began (and the request's own) is counted."""
    now: datetime = (await session.execute(sa.select(sa.func.now()))).scalar_one()
    return now


async def compact_if_needed(session: AsyncSession) -> None:
    """Merge the cube's journal into one row per cell when many rows were written since the last merge."""
    since = sa.func.coalesce(sa.select(sa.func.max(cells_meta.c.compacted_through)).scalar_subquery(), 0)
    pending = (await session.execute(sa.select(sa.func.count()).select_from(
        sa.select(cells.c.id).where(cells.c.id > since).limit(COMPACT_AFTER + 1).subquery()))).scalar_one()
    if pending > COMPACT_AFTER:
        await session.execute(sa.text("SELECT cases.stats_compact()"))


def _grouped(keys: Sequence[sa.ColumnElement[Any]], stmt: sa.Select[Any]) -> sa.Select[Any]:
    if keys:
        return stmt.add_columns((sa.func.grouping(*keys) > 0).label("is_total")).group_by(
            sa.func.grouping_sets(sa.tuple_(*keys), sa.tuple_()))
    return stmt.add_columns(sa.true().label("is_total"))


async def summary_rows(session: AsyncSession, *, dimensions: Sequence[tuple[str, sa.ColumnElement[Any]]],
                       filters: Sequence[sa.ColumnElement[bool]]) -> Sequence[RowMapping]:
    """Counts per combination of dimension values, plus the grand total (the row whose `is_total` is true),
    counted over the facts: one scan, GROUPING SETS ((dims), ()), since unique counts are not additive; and
    the sum of the record keys of each cell's cases (`key_sum`)."""
    inner = sa.select(*(expr.label(name) for name, expr in dimensions), facts.c.child_id, facts.c.intake_id,
                      facts.c.record_key).where(*filters).subquery("f")
    keys = [inner.c[name] for name, _ in dimensions]
    counts = [sa.func.count(sa.distinct(inner.c.child_id)).label("children"),
              sa.func.count().label("cases"),
              sa.func.count(sa.distinct(inner.c.intake_id)).label("intakes"),
              sa.func.coalesce(sa.func.sum(inner.c.record_key), 0).label("key_sum")]
    rows: Sequence[RowMapping] = (await session.execute(_grouped(keys, sa.select(*keys, *counts)))).mappings().all()
    return rows


def _month_start(day: date) -> date:
    return day.replace(day=1)


def _month_end(day: date) -> date:
    return day.replace(day=calendar.monthrange(day.year, day.month)[1])


def _next_month(day: date) -> date:
    """The first day of the next month (the last representable day after December 9999)."""
    end = _month_end(day)
    return end + timedelta(days=1) if end < date.max else date.max


def split_period(period_from: date | None, period_to: date | None
                 ) -> tuple[tuple[date | None, date | None] | None, list[tuple[date, date]]]:
    """The whole months of a period (first and last month, None = unbounded; None if there is none) and the
    partial months at its edges, as date ranges to count from the facts."""
    if period_to is not None and _month_end(period_to) != period_to and _month_start(period_to) == date.min:
        return None, [(period_from or date.min, period_to)]  # no month before January of year 1
    cube_from = None if period_from is None else (
        period_from if period_from.day == 1 else _next_month(period_from))
    cube_to = None if period_to is None else (
        _month_start(period_to) if _month_end(period_to) == period_to
        else _month_start(_month_start(period_to) - timedelta(days=1)))
    if cube_from is not None and cube_to is not None and cube_from > cube_to:
        assert period_from is not None and period_to is not None
        return None, [(period_from, period_to)]
    edges = []
    if period_from is not None and cube_from != period_from:
        edges.append((period_from, _month_end(period_from)))
    if period_to is not None and cube_to != _month_start(period_to):
        edges.append((_month_start(period_to), period_to))
    return (cube_from, cube_to), edges


async def cube_summary_rows(session: AsyncSession, *, names: Sequence[str], territory_level: str, age_scheme: str,
                            phases: Mapping[str, str], scope: CaseScope) -> list[dict[str, Any]]:
    """The same rows as `summary_rows` for dimensions of the cube, without counting a million facts.

    Cases are additive. A child with a single case counts 1 (`children` of the cube); an intake whose cases
    lie in one commune counts 1 on the first of its cases among those that agree on the grouped child
    attributes (the cube's `i_*` column for the grouped sex and age scheme). Those sums come from the cube for
    the whole months of the period and from the facts for its partial months. The other children (several
    cases) and intakes (cases in several communes, after a transfer) are counted distinct from the facts:
    their sets are disjoint from the additive ones, so the two parts add up exactly.
    """
    grouped_sex, grouped_age = "sex" in names, "age_band" in names
    weight = "_".join(([] if not grouped_sex else ["sex"]) + ([] if not grouped_age else [age_scheme])) or "all"

    def dims(source: sa.TableClause) -> list[sa.ColumnElement[Any]]:
        return [dimension(n, territory_level=territory_level, age_scheme=age_scheme, phases=phases,
                          source=source).label(n) for n in names]

    distinct = _distinct_counts(names, dims(facts), scope)
    # The children's distinct counts, the largest part, run on a pooled connection of their own meanwhile (a
    # session bound to one connection, as in some tests, runs them after the rest). At a million cases the
    # summary by territory, sex and age band took 245-263 ms in one process, 170-214 ms so (two cores).
    engine = session.bind
    children = (asyncio.ensure_future(_read_on_own_connection(engine, distinct["children"]))
                if isinstance(engine, AsyncEngine) else None)
    try:
        out = await _additive_rows(session, names, dims, scope, weight)
        await session.execute(sa.text(f"SET LOCAL work_mem = '{DISTINCT_WORK_MEM}'"))
        rows = list((await session.execute(distinct["intakes"])).mappings().all())
        rows += await children if children is not None else (await session.execute(distinct["children"])).mappings()
    finally:
        if children is not None and not children.done():
            children.cancel()
            with contextlib.suppress(BaseException):
                await children
    for r in rows:
        row = out.get((*(None if r["is_total"] else r[n] for n in names), r["is_total"]))
        if row is not None:
            row[r["measure"]] += int(r["n"])
    return list(out.values())


def _distinct_counts(names: Sequence[str], cell: list[sa.ColumnElement[Any]], scope: CaseScope
                     ) -> dict[str, sa.CompoundSelect[Any]]:
    """Per measure, the count of distinct children (intakes) that are not additive, per cell and in total.

    Over covering partial indexes in entity order (index-only scans): DISTINCT ON (entity, cell) needs only an
    incremental sort within each entity, then a small hash per cell; DISTINCT entity for the total is a Unique
    over the index.
    """
    f = facts.c
    out: dict[str, sa.CompoundSelect[Any]] = {}
    for measure, entity, single in (("children", f.child_id, f.child_simple),
                                    ("intakes", f.intake_id, f.intake_simple)):
        where = (*scope.where(facts), sa.not_(single))
        pairs = (sa.select(*cell, entity.label("entity")).where(*where)
                 .ext(distinct_on(entity, *cell)).order_by(entity, *cell).subquery())
        keys = [pairs.c[n] for n in names]
        ids = sa.select(entity.label("entity")).where(*where).distinct().subquery()
        out[measure] = sa.union_all(
            sa.select(*keys, sa.literal(measure).label("measure"), sa.literal(False).label("is_total"),
                      sa.func.count().label("n")).group_by(*keys),
            sa.select(*(sa.cast(sa.null(), sa.Text).label(n) for n in names), sa.literal(measure).label("measure"),
                      sa.literal(True).label("is_total"), sa.func.count().label("n")).select_from(ids))
    return out


async def _read_on_own_connection(engine: AsyncEngine, stmt: sa.Executable) -> Sequence[RowMapping]:
    """Rows of a read in a transaction of its own on another pooled connection (it sees what was committed)."""
    async with engine.connect() as conn, conn.begin():
        await conn.execute(sa.text(f"SET LOCAL work_mem = '{DISTINCT_WORK_MEM}'"))
        return (await conn.execute(stmt)).mappings().all()


async def _additive_rows(session: AsyncSession, names: Sequence[str],
                         dims: Callable[[sa.TableClause], list[sa.ColumnElement[Any]]], scope: CaseScope,
                         weight: str) -> dict[tuple[Any, ...], dict[str, Any]]:
    """The cube's sums for the period's whole months and the facts' weights for its partial months, by cell
    (with the sum of the record keys of every case of the cell, which the cube holds for all of them)."""
    months, edges = split_period(scope.period_from, scope.period_to)
    parts: list[sa.Select[Any]] = []
    if months is not None:
        month_filters = scope.where(cells, dates=False)
        if months[0] is not None:
            month_filters.append(cells.c.month >= months[0])
        if months[1] is not None:
            month_filters.append(cells.c.month <= months[1])
        parts.append(sa.select(*dims(cells), cells.c.cases.label("cases"), cells.c.children.label("children"),
                               cells.c.i_all.label("i_total"), cells.c[f"i_{weight}"].label("i_cell"),
                               cells.c.key_sum.label("key_sum")).where(*month_filters))
    if edges:
        f = facts.c
        parts.append(sa.select(*dims(facts), sa.literal(1).label("cases"),
                               sa.cast(f.child_simple, sa.Integer).label("children"),
                               f.wi_all.label("i_total"), f[f"wi_{weight}"].label("i_cell"),
                               f.record_key.label("key_sum"))
                     .where(*scope.where(facts, dates=False),
                            sa.or_(*(f.reported_on.between(lo, hi) for lo, hi in edges))))
    out: dict[tuple[Any, ...], dict[str, Any]] = {}
    if parts:
        union = sa.union_all(*parts).subquery("u") if len(parts) > 1 else parts[0].subquery("u")
        keys = [union.c[n] for n in names]
        simple = _grouped(keys, sa.select(*keys, sa.func.sum(union.c.cases).label("cases"),
                                          sa.func.sum(union.c.children).label("children"),
                                          sa.func.sum(union.c.i_total).label("i_total"),
                                          sa.func.sum(union.c.i_cell).label("i_cell"),
                                          sa.func.sum(union.c.key_sum).label("key_sum")))
        for r in (await session.execute(simple)).mappings():
            if not r["is_total"] and not r["cases"]:
                continue  # every case of the cell was removed: the journal nets it to zero
            out[(*(r[n] for n in names), r["is_total"])] = {
                **{n: r[n] for n in names}, "is_total": r["is_total"], "cases": int(r["cases"] or 0),
                "children": int(r["children"] or 0),
                "intakes": int((r["i_total"] if r["is_total"] else r["i_cell"]) or 0),
                "key_sum": int(r["key_sum"] or 0)}
    return out


# ---- the other indicators --------------------------------------------------------------------------------
# Each takes the ids of the cases in scope as a subquery over the facts view. Each row also carries `key_sum`:
# the sum of the record keys of the distinct cases that contribute to it (the key of its cell for the
# disclosure control), read from the facts by case id.
keys = facts.alias("k")


def _key_sum(record_key: sa.ColumnElement[Any] = keys.c.record_key) -> sa.Label[Any]:
    """The sum of the distinct record keys of the rows aggregated (the cell key of an indicator's row)."""
    return sa.func.coalesce(sa.func.sum(sa.distinct(record_key)), 0).label("key_sum")


def scoped_cases(filters: Sequence[sa.ColumnElement[bool]]) -> sa.Select[Any]:
    """The case ids of the facts in scope and period."""
    return sa.select(facts.c.case_id).where(*filters)


async def adults_by_relationship(session: AsyncSession, scope: sa.Select[Any]) -> Sequence[RowMapping]:
    """Distinct accompanying adults of the cases in scope, by the relationship they claimed."""
    stmt = (sa.select(case_adults.c.claimed_relationship.label("key"),
                      sa.func.count(sa.distinct(case_adults.c.adult_id)).label("count"), _key_sum())
            .select_from(case_adults.join(keys, keys.c.case_id == case_adults.c.case_id))
            .where(case_adults.c.case_id.in_(scope)).group_by(case_adults.c.claimed_relationship))
    return (await session.execute(stmt)).mappings().all()


async def mothers_with_children(session: AsyncSession, scope: sa.Select[Any]) -> RowMapping:
    """Adults claiming to be the mother in scope, and how many of them are linked to more than one child."""
    per_mother = (sa.select(case_adults.c.adult_id, sa.func.count(sa.distinct(cases.c.child_id)).label("n"))
                  .join(cases, cases.c.id == case_adults.c.case_id)
                  .where(case_adults.c.case_id.in_(scope), case_adults.c.claimed_relationship == "mother")
                  .group_by(case_adults.c.adult_id).subquery())
    key = (sa.select(_key_sum()).select_from(case_adults.join(keys, keys.c.case_id == case_adults.c.case_id))
           .where(case_adults.c.case_id.in_(scope), case_adults.c.claimed_relationship == "mother").scalar_subquery())
    stmt = sa.select(sa.func.count().label("mothers"),
                     sa.func.count().filter(per_mother.c.n > 1).label("with_several_children"), key.label("key_sum"))
    return (await session.execute(stmt)).mappings().one()


async def filiation_results(session: AsyncSession, scope: sa.Select[Any]) -> Sequence[RowMapping]:
    """The latest filiation check of each (case, adult) in scope, by claimed relationship and result."""
    f = filiation_checks
    rank = sa.func.row_number().over(partition_by=(f.c.case_id, f.c.adult_id),
                                     order_by=(f.c.created_at.desc(), f.c.id.desc()))
    ranked = (sa.select(f.c.case_id, f.c.claimed_relationship, f.c.result, rank.label("rank"))
              .where(f.c.case_id.in_(scope)).subquery())
    stmt = (sa.select(ranked.c.claimed_relationship.label("relationship"), ranked.c.result.label("key"),
                      sa.func.count().label("count"), _key_sum())
            .select_from(ranked.join(keys, keys.c.case_id == ranked.c.case_id))
            .where(ranked.c.rank == 1).group_by(ranked.c.claimed_relationship, ranked.c.result))
    return (await session.execute(stmt)).mappings().all()


async def prosecution_referrals(session: AsyncSession, scope: sa.Select[Any]) -> RowMapping:
    """Referrals to prosecution recorded on the timelines of the cases in scope, and their cases."""
    e = case_events
    stmt = (sa.select(sa.func.count(sa.distinct(e.c.data["referral_id"].astext)).label("referrals"),
                      sa.func.count(sa.distinct(e.c.case_id)).label("cases"), _key_sum())
            .select_from(e.join(keys, keys.c.case_id == e.c.case_id))
            .where(e.c.case_id.in_(scope), e.c.event_type == "referral.sent",
                   e.c.data["kind"].astext == "prosecution"))
    return (await session.execute(stmt)).mappings().one()


async def decisions_by_type(session: AsyncSession, scope: sa.Select[Any]) -> Sequence[RowMapping]:
    """Prosecutor decisions on the cases in scope by type: decisions, distinct cases and distinct adults."""
    m = judicial_measures
    stmt = (sa.select(m.c.decision_type.label("key"), sa.func.count().label("count"),
                      sa.func.count(sa.distinct(m.c.case_id)).label("cases"),
                      sa.func.count(sa.distinct(m.c.adult_id)).label("adults"), _key_sum())
            .select_from(m.join(keys, keys.c.case_id == m.c.case_id))
            .where(m.c.case_id.in_(scope)).group_by(m.c.decision_type))
    return (await session.execute(stmt)).mappings().all()


async def referral_to_decision_days(session: AsyncSession, scope: sa.Select[Any]) -> RowMapping:
    """Median days from a prosecution referral reaching the case to its first decision, over referrals."""
    e, m = case_events, judicial_measures
    events = (sa.select(e.c.data["referral_id"].astext.label("referral_id"), e.c.occurred_at, e.c.case_id)
              .where(e.c.case_id.in_(scope), e.c.event_type == "referral.sent",
                     e.c.data["kind"].astext == "prosecution").subquery())
    sent = (sa.select(events.c.referral_id, sa.func.min(events.c.occurred_at).label("sent_at"),
                      sa.func.sum(sa.distinct(keys.c.record_key)).label("key_sum"))
            .select_from(events.join(keys, keys.c.case_id == events.c.case_id))
            .group_by(events.c.referral_id).subquery())
    first = (sa.select(sa.cast(m.c.referral_id, sa.Text).label("referral_id"),
                       sa.func.min(m.c.decided_at).label("decided_at"))
             .where(m.c.case_id.in_(scope), m.c.referral_id.is_not(None))
             .group_by(m.c.referral_id).subquery())
    days = sa.extract("epoch", first.c.decided_at - sent.c.sent_at) / 86400.0
    stmt = (sa.select(sa.func.count().label("n"),
                      sa.func.percentile_cont(0.5).within_group(days).label("median_days"),
                      sa.func.coalesce(sa.func.sum(sent.c.key_sum), 0).label("key_sum"))
            .select_from(sent.join(first, first.c.referral_id == sent.c.referral_id)))
    return (await session.execute(stmt)).mappings().one()




async def family_or_placement(session: AsyncSession, scope: sa.Select[Any]) -> RowMapping:
    """Children of the cases in scope returned to their family, placed by order, and placed in an EPS."""
    m, p = judicial_measures, placements
    child_of = sa.select(cases.c.child_id).where(cases.c.id == m.c.case_id).correlate(m).scalar_subquery()

    def children_with(types: tuple[str, ...]) -> sa.ScalarSelect[Any]:
        return (sa.select(sa.func.count(sa.distinct(child_of)))
                .where(m.c.case_id.in_(scope), m.c.concerns == "child", m.c.decision_type.in_(types))
                .scalar_subquery())

    in_eps = (sa.select(sa.func.count(sa.distinct(cases.c.child_id))).join(p, p.c.case_id == cases.c.id)
              .where(cases.c.id.in_(scope)).scalar_subquery())
    contributing = sa.or_(
        sa.exists().where(m.c.case_id == keys.c.case_id, m.c.concerns == "child",
                          m.c.decision_type.in_(FAMILY_DECISIONS + PLACEMENT_ORDERS)),
        sa.exists().where(p.c.case_id == keys.c.case_id))
    key = (sa.select(sa.func.coalesce(sa.func.sum(keys.c.record_key), 0))
           .where(keys.c.case_id.in_(scope), contributing).scalar_subquery())
    stmt = sa.select(children_with(FAMILY_DECISIONS).label("return_to_family"),
                     children_with(PLACEMENT_ORDERS).label("placement_ordered"), in_eps.label("placed_in_eps"),
                     key.label("key_sum"))
    return (await session.execute(stmt)).mappings().one()


async def eps_capacity(session: AsyncSession, *, territories: Sequence[str]) -> RowMapping:
    """Places and emergency vacancies of the EPS institutions in the caller's territories."""
    i = institutions
    clause = sa.or_(*(sa.true() if t == "MA" else sa.or_(i.c.prefecture_code == t,
                                                         i.c.prefecture_code.startswith(t + "."),
                                                         sa.literal(t).startswith(i.c.prefecture_code + "."))
                      for t in territories)) if territories else sa.false()
    stmt = sa.select(sa.func.count().label("institutions"),
                     sa.func.coalesce(sa.func.sum(i.c.places), 0).label("places"),
                     sa.func.coalesce(sa.func.sum(i.c.emergency_vacancies), 0).label("emergency_vacancies")
                     ).where(clause)
    return (await session.execute(stmt)).mappings().one()


async def services_by_status(session: AsyncSession, scope: sa.Select[Any]) -> Sequence[RowMapping]:
    """Services of the cases in scope by beneficiary: proposed (all recorded) and completed."""
    s = service_deliveries
    stmt = (sa.select(s.c.beneficiary.label("key"), sa.func.count().label("proposed"),
                      sa.func.count().filter(s.c.status == "completed").label("completed"), _key_sum())
            .select_from(s.join(keys, keys.c.case_id == s.c.case_id))
            .where(s.c.case_id.in_(scope)).group_by(s.c.beneficiary))
    return (await session.execute(stmt)).mappings().all()


COVERAGE_DAYS = 90


async def follow_up_coverage(session: AsyncSession, scope: sa.Select[Any], *, as_of: datetime) -> RowMapping:
    """Active cases in scope (in care or in follow-up) and those with a visit in the 90 days before `as_of`."""
    f = follow_ups
    visited = sa.exists().where(f.c.case_id == cases.c.id, f.c.visited_at > as_of - timedelta(days=COVERAGE_DAYS),
                                f.c.visited_at <= as_of)
    stmt = (sa.select(sa.func.count().label("active"), sa.func.count().filter(visited).label("visited"),
                      sa.func.coalesce(sa.func.sum(keys.c.record_key), 0).label("key_sum"))
            .select_from(cases.join(keys, keys.c.case_id == cases.c.id))
            .where(cases.c.id.in_(scope), cases.c.status.in_(IN_CARE_OR_FOLLOW_UP)))
    return (await session.execute(stmt)).mappings().one()


async def recidivism(session: AsyncSession, filters: Sequence[sa.ColumnElement[bool]], *, today: date
                     ) -> dict[str, int]:
    """Children with a case in scope whose window has elapsed, and those with a repeat case within it (and
    `key_sum`, the record keys of the cases eligible for the shorter window, which holds the longer's)."""
    later = facts.alias("repeat_case")
    out: dict[str, int] = {}
    for months in (6, 12):
        window = sa.text(f"interval '{months} months'")
        repeated = (sa.select(later.c.repeat_of_case_id).where(
            later.c.repeat_of_case_id == facts.c.case_id, later.c.reported_on <= facts.c.reported_on + window)
            .correlate(facts).exists())
        stmt = (sa.select(sa.func.count(sa.distinct(facts.c.child_id)).label("eligible"),
                          sa.func.count(sa.distinct(facts.c.child_id)).filter(repeated).label("repeat"),
                          sa.func.coalesce(sa.func.sum(facts.c.record_key), 0).label("key_sum"))
                .where(*filters, facts.c.reported_on + window <= sa.cast(today, sa.Date)))
        row = (await session.execute(stmt)).mappings().one()
        out[f"eligible_{months}m"], out[f"repeat_{months}m"] = int(row["eligible"]), int(row["repeat"])
        out.setdefault("key_sum", int(row["key_sum"]))
    return out




async def step_delays(session: AsyncSession, scope: sa.Select[Any]) -> Sequence[RowMapping]:
    """Median days between the first entry into each state of the path and the first entry into the next."""
    e = case_events
    entered = (sa.select(e.c.case_id, e.c.to_status, sa.func.min(e.c.occurred_at).label("at"))
               .where(e.c.case_id.in_(scope), e.c.to_status.in_(PATH))
               .group_by(e.c.case_id, e.c.to_status).subquery())
    a, b = entered.alias("a"), entered.alias("b")
    steps = sa.values(sa.column("from_status", sa.Text), sa.column("to_status", sa.Text),
                      name="steps").data([(PATH[i], PATH[i + 1]) for i in range(len(PATH) - 1)])
    days = sa.extract("epoch", b.c.at - a.c.at) / 86400.0
    stmt = (sa.select(steps.c.from_status, steps.c.to_status, sa.func.count().label("n"),
                      sa.func.percentile_cont(0.5).within_group(days).label("median_days"), _key_sum())
            .select_from(steps.join(a, a.c.to_status == steps.c.from_status)
                         .join(b, sa.and_(b.c.case_id == a.c.case_id, b.c.to_status == steps.c.to_status))
                         .join(keys, keys.c.case_id == a.c.case_id))
            .group_by(steps.c.from_status, steps.c.to_status))
    return (await session.execute(stmt)).mappings().all()

