"""SQL of the statistics (no rules here): the case-facts materialised view and the indicator queries.

`cases.stats_case_facts` (migration `stats_case_facts`) holds one row per case with every dimension of the
summary already derived (local intake date, age in completed years at the intake date, territory, ...).
Statement triggers on cases, intakes and children advance the sequence `cases.stats_changes`; the view is
refreshed (by `cases.stats_refresh()`, which owns the right to) when a read finds it behind that sequence.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from datetime import date, datetime, timedelta
from typing import Any

import sqlalchemy as sa
from sqlalchemy.engine import RowMapping
from sqlalchemy.ext.asyncio import AsyncSession

from cases_service.db.access import territory_clause
from cases_service.db.tables import (
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
facts = sa.table(
    "stats_case_facts",
    *(sa.column(name) for name in (
        "case_id", "child_id", "intake_id", "reported_on", "region_code", "prefecture_code", "commune_code",
        "status", "is_repeat", "repeat_of_case_id", "sex", "age_years", "nationality", "exploitation_pattern",
        "place_type", "night", "source")),
    schema=SCHEMA,
)
facts_meta = sa.table("stats_facts_meta", sa.column("change_mark"), sa.column("refreshed_at"), schema=SCHEMA)

AGE_BANDS: dict[str, tuple[tuple[str, int, int | None], ...]] = {
    # (label, lowest age in completed years, highest) — disjoint, so that cells add up.
    "pilot": (("under_1", 0, 0), ("1_4", 1, 4), ("5_plus", 5, None)),
    "marrakech": (("under_1", 0, 0), ("1_5", 1, 5), ("6_13", 6, 13), ("14_17", 14, 17), ("18_plus", 18, None)),
}
TERRITORY_COLUMNS = {"region": "region_code", "prefecture": "prefecture_code", "commune": "commune_code"}
PLAIN_DIMENSIONS = ("sex", "status", "exploitation_pattern", "place_type", "source")


def dimension(name: str, *, territory_level: str, age_scheme: str, phases: Mapping[str, str]
              ) -> sa.ColumnElement[Any]:
    """The SQL expression (over the facts view) of one group-by dimension, as text."""
    c = facts.c
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
        return sa.func.to_char(c.reported_on, "YYYY-MM")
    if name == "phase":
        whens = [(c.prefecture_code == code, sa.literal(phase)) for code, phase in sorted(phases.items())]
        return sa.case(*whens, else_=sa.literal("none")) if whens else sa.literal("none")
    if name == "age_band":
        whens = []
        for label, low, high in AGE_BANDS[age_scheme]:
            cond = c.age_years >= low if high is None else sa.and_(c.age_years >= low, c.age_years <= high)
            whens.append((cond, sa.literal(label)))
        return sa.case(*whens, else_=sa.literal("unknown"))
    raise KeyError(name)


def facts_filters(*, territories: Sequence[str], period_from: date | None, period_to: date | None,
                  prefectures: Sequence[str] | None) -> list[sa.ColumnElement[bool]]:
    """WHERE clauses over the facts view: the caller's territories, the period, optional prefectures."""
    out: list[sa.ColumnElement[bool]] = [territory_clause(tuple(territories), facts)]  # type: ignore[arg-type]
    if period_from is not None:
        out.append(facts.c.reported_on >= period_from)
    if period_to is not None:
        out.append(facts.c.reported_on <= period_to)
    if prefectures is not None:
        out.append(facts.c.prefecture_code.in_(list(prefectures)))
    return out


async def ensure_fresh(session: AsyncSession) -> datetime:
    """Refresh the facts view if a change happened since its last refresh; returns when it was refreshed."""
    mark = sa.text("SELECT CASE WHEN is_called THEN last_value ELSE last_value - 1 END FROM cases.stats_changes")
    current = (await session.execute(mark)).scalar_one()
    meta = (await session.execute(sa.select(facts_meta.c.change_mark, facts_meta.c.refreshed_at))).one()
    if meta.change_mark == current:
        return meta.refreshed_at  # type: ignore[no-any-return]
    await session.execute(sa.text("SELECT cases.stats_refresh()"))
    refreshed: datetime = (await session.execute(sa.select(facts_meta.c.refreshed_at))).scalar_one()
    return refreshed


async def summary_rows(session: AsyncSession, *, dimensions: Sequence[tuple[str, sa.ColumnElement[Any]]],
                       filters: Sequence[sa.ColumnElement[bool]]) -> Sequence[RowMapping]:
    """Counts per combination of dimension values, plus the grand total (the row whose `is_total` is true).

    One scan: GROUPING SETS ((dims), ()), since unique children and intakes are not additive.
    """
    inner = sa.select(*(expr.label(name) for name, expr in dimensions), facts.c.child_id, facts.c.intake_id
                      ).where(*filters).subquery("f")
    keys = [inner.c[name] for name, _ in dimensions]
    counts = [sa.func.count(sa.distinct(inner.c.child_id)).label("children"),
              sa.func.count().label("cases"),
              sa.func.count(sa.distinct(inner.c.intake_id)).label("intakes")]
    stmt = sa.select(*keys, *counts)
    if keys:
        stmt = stmt.add_columns((sa.func.grouping(*keys) > 0).label("is_total")).group_by(
            sa.func.grouping_sets(sa.tuple_(*keys), sa.tuple_()))
    else:
        stmt = stmt.add_columns(sa.true().label("is_total"))
    return (await session.execute(stmt)).mappings().all()


# ---- the other indicators --------------------------------------------------------------------------------
# Each takes the ids of the cases in scope as a subquery over the facts view.

def scoped_cases(filters: Sequence[sa.ColumnElement[bool]]) -> sa.Select[Any]:
    """The case ids of the facts in scope and period."""
    return sa.select(facts.c.case_id).where(*filters)


async def adults_by_relationship(session: AsyncSession, scope: sa.Select[Any]) -> Sequence[RowMapping]:
    """Distinct accompanying adults of the cases in scope, by the relationship they claimed."""
    stmt = (sa.select(case_adults.c.claimed_relationship.label("key"),
                      sa.func.count(sa.distinct(case_adults.c.adult_id)).label("count"))
            .where(case_adults.c.case_id.in_(scope)).group_by(case_adults.c.claimed_relationship))
    return (await session.execute(stmt)).mappings().all()


async def mothers_with_children(session: AsyncSession, scope: sa.Select[Any]) -> RowMapping:
    """Adults claiming to be the mother in scope, and how many of them are linked to more than one child."""
    per_mother = (sa.select(case_adults.c.adult_id, sa.func.count(sa.distinct(cases.c.child_id)).label("n"))
                  .join(cases, cases.c.id == case_adults.c.case_id)
                  .where(case_adults.c.case_id.in_(scope), case_adults.c.claimed_relationship == "mother")
                  .group_by(case_adults.c.adult_id).subquery())
    stmt = sa.select(sa.func.count().label("mothers"),
                     sa.func.count().filter(per_mother.c.n > 1).label("with_several_children"))
    return (await session.execute(stmt)).mappings().one()


async def filiation_results(session: AsyncSession, scope: sa.Select[Any]) -> Sequence[RowMapping]:
    """The latest filiation check of each (case, adult) in scope, by claimed relationship and result."""
    f = filiation_checks
    rank = sa.func.row_number().over(partition_by=(f.c.case_id, f.c.adult_id),
                                     order_by=(f.c.created_at.desc(), f.c.id.desc()))
    ranked = (sa.select(f.c.claimed_relationship, f.c.result, rank.label("rank"))
              .where(f.c.case_id.in_(scope)).subquery())
    stmt = (sa.select(ranked.c.claimed_relationship.label("relationship"), ranked.c.result.label("key"),
                      sa.func.count().label("count"))
            .where(ranked.c.rank == 1).group_by(ranked.c.claimed_relationship, ranked.c.result))
    return (await session.execute(stmt)).mappings().all()


async def prosecution_referrals(session: AsyncSession, scope: sa.Select[Any]) -> RowMapping:
    """Referrals to prosecution recorded on the timelines of the cases in scope, and their cases."""
    e = case_events
    stmt = (sa.select(sa.func.count(sa.distinct(e.c.data["referral_id"].astext)).label("referrals"),
                      sa.func.count(sa.distinct(e.c.case_id)).label("cases"))
            .where(e.c.case_id.in_(scope), e.c.event_type == "referral.sent",
                   e.c.data["kind"].astext == "prosecution"))
    return (await session.execute(stmt)).mappings().one()


async def decisions_by_type(session: AsyncSession, scope: sa.Select[Any]) -> Sequence[RowMapping]:
    """Prosecutor decisions on the cases in scope by type: decisions, distinct cases and distinct adults."""
    m = judicial_measures
    stmt = (sa.select(m.c.decision_type.label("key"), sa.func.count().label("count"),
                      sa.func.count(sa.distinct(m.c.case_id)).label("cases"),
                      sa.func.count(sa.distinct(m.c.adult_id)).label("adults"))
            .where(m.c.case_id.in_(scope)).group_by(m.c.decision_type))
    return (await session.execute(stmt)).mappings().all()


async def referral_to_decision_days(session: AsyncSession, scope: sa.Select[Any]) -> RowMapping:
    """Median days from a prosecution referral reaching the case to its first decision, over referrals."""
    e, m = case_events, judicial_measures
    events = (sa.select(e.c.data["referral_id"].astext.label("referral_id"), e.c.occurred_at)
              .where(e.c.case_id.in_(scope), e.c.event_type == "referral.sent",
                     e.c.data["kind"].astext == "prosecution").subquery())
    sent = (sa.select(events.c.referral_id, sa.func.min(events.c.occurred_at).label("sent_at"))
            .group_by(events.c.referral_id).subquery())
    first = (sa.select(sa.cast(m.c.referral_id, sa.Text).label("referral_id"),
                       sa.func.min(m.c.decided_at).label("decided_at"))
             .where(m.c.case_id.in_(scope), m.c.referral_id.is_not(None))
             .group_by(m.c.referral_id).subquery())
    days = sa.extract("epoch", first.c.decided_at - sent.c.sent_at) / 86400.0
    stmt = (sa.select(sa.func.count().label("n"),
                      sa.func.percentile_cont(0.5).within_group(days).label("median_days"))
            .select_from(sent.join(first, first.c.referral_id == sent.c.referral_id)))
    return (await session.execute(stmt)).mappings().one()


FAMILY = ("return_to_family",)
PLACEMENT = ("emergency_placement", "placement_trusted_person")


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
    stmt = sa.select(children_with(FAMILY).label("return_to_family"),
                     children_with(PLACEMENT).label("placement_ordered"), in_eps.label("placed_in_eps"))
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
                      sa.func.count().filter(s.c.status == "completed").label("completed"))
            .where(s.c.case_id.in_(scope)).group_by(s.c.beneficiary))
    return (await session.execute(stmt)).mappings().all()


ACTIVE = ("in_care", "follow_up")
COVERAGE_DAYS = 90


async def follow_up_coverage(session: AsyncSession, scope: sa.Select[Any], *, as_of: datetime) -> RowMapping:
    """Active cases in scope (in care or in follow-up) and those with a visit in the 90 days before `as_of`."""
    f = follow_ups
    visited = sa.exists().where(f.c.case_id == cases.c.id, f.c.visited_at > as_of - timedelta(days=COVERAGE_DAYS),
                                f.c.visited_at <= as_of)
    stmt = sa.select(sa.func.count().label("active"), sa.func.count().filter(visited).label("visited")
                     ).where(cases.c.id.in_(scope), cases.c.status.in_(ACTIVE))
    return (await session.execute(stmt)).mappings().one()


async def recidivism(session: AsyncSession, filters: Sequence[sa.ColumnElement[bool]], *, today: date
                     ) -> dict[str, int]:
    """Children with a case in scope whose window has elapsed, and those with a repeat case within it."""
    later = facts.alias("repeat_case")
    out: dict[str, int] = {}
    for months in (6, 12):
        window = sa.text(f"interval '{months} months'")
        repeated = (sa.select(later.c.repeat_of_case_id).where(
            later.c.repeat_of_case_id == facts.c.case_id, later.c.reported_on <= facts.c.reported_on + window)
            .correlate(facts).exists())
        stmt = (sa.select(sa.func.count(sa.distinct(facts.c.child_id)).label("eligible"),
                          sa.func.count(sa.distinct(facts.c.child_id)).filter(repeated).label("repeat"))
                .where(*filters, facts.c.reported_on + window <= sa.cast(today, sa.Date)))
        row = (await session.execute(stmt)).mappings().one()
        out[f"eligible_{months}m"], out[f"repeat_{months}m"] = int(row["eligible"]), int(row["repeat"])
    return out


PATH = ("reported", "screened", "referred_to_prosecution", "interim_measure", "under_assessment", "in_care",
        "follow_up", "closed")


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
                      sa.func.percentile_cont(0.5).within_group(days).label("median_days"))
            .select_from(steps.join(a, a.c.to_status == steps.c.from_status)
                         .join(b, sa.and_(b.c.case_id == a.c.case_id, b.c.to_status == steps.c.to_status)))
            .group_by(steps.c.from_status, steps.c.to_status))
    return (await session.execute(stmt)).mappings().all()

