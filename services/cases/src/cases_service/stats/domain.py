"""Rules of the statistics: scope, dimensions, disclosure control, and the CSV export (docs/statistics.md)."""

from __future__ import annotations

import csv
import io
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from datetime import UTC, date, datetime
from functools import lru_cache
from pathlib import Path
from typing import Any

from sqlalchemy.ext.asyncio import AsyncSession

from cases_service.db import repository as case_repo
from cases_service.stats import queries as q
from cases_service.stats.schemas import (
    Indicator,
    IndicatorRow,
    IndicatorsRead,
    Period,
    SummaryCell,
    SummaryRead,
    SummaryTotal,
)
from cases_service.stats.suppression import THRESHOLD, Cell, is_small, suppress
from himaya.audit import AuditEntry
from himaya.auth import Principal, territory_covers
from himaya.errors import Forbidden, InvalidInput
from himaya.scopes import Scope

PHASES_FILE = Path(__file__).resolve().parent / "phases.csv"
MEASURES = ("children", "cases", "intakes")


@lru_cache(maxsize=1)
def phases() -> dict[str, str]:
    """The plan phase of each prefecture in it (`phases.csv`, a copy of identity's territories' phase column)."""
    with PHASES_FILE.open(encoding="utf-8") as f:
        return {row["prefecture_code"]: row["phase"] for row in csv.DictReader(f) if row["phase"]}


@dataclass(frozen=True)
class StatsQuery:
    """What a caller asks for: grouping, period and territories."""

    group_by: tuple[str, ...] = ()
    territory_level: str = "prefecture"
    age_scheme: str = "pilot"
    period_from: date | None = None
    period_to: date | None = None
    territory_codes: tuple[str, ...] = ()
    phase: str | None = None


def _scope(principal: Principal, query: StatsQuery) -> tuple[str, ...]:
    """The territory codes to count: those asked (each inside the caller's), else the caller's own."""
    if query.period_from and query.period_to and query.period_from > query.period_to:
        raise InvalidInput("`from` must not be after `to`.")
    if len(set(query.group_by)) != len(query.group_by):
        raise InvalidInput("A dimension appears twice in group_by.")
    if not query.territory_codes:
        return tuple(principal.territories)
    for code in query.territory_codes:
        if not principal.covers(code):
            raise Forbidden(f"The territory {code} is outside your territories.")
    return tuple(query.territory_codes)


def _filters(principal: Principal, query: StatsQuery) -> tuple[tuple[str, ...], q.CaseScope]:
    territories = _scope(principal, query)
    prefectures = None
    if query.phase is not None:
        prefectures = tuple(code for code, phase in phases().items() if phase == query.phase
                            and any(territory_covers(t, code) or territory_covers(code, t) for t in territories))
    return territories, q.CaseScope(territories, query.period_from, query.period_to, prefectures)


def _period(query: StatsQuery) -> Period:
    return Period(from_=query.period_from, to=query.period_to)


async def summarize(*, session: AsyncSession, principal: Principal, query: StatsQuery,
                    force_suppression: bool = False) -> SummaryRead:
    """Counts of unique children, cases and intakes by the requested dimensions, small cells suppressed
    unless the caller holds stats:exact (and never when `force_suppression`, as in exports)."""
    territories, scope = _filters(principal, query)
    exact = principal.has_scope(Scope.STATS_EXACT) and not force_suppression
    as_of = await q.as_of(session)
    rows: Sequence[Any]
    if set(query.group_by) <= q.CUBE_DIMENSIONS:
        await q.compact_if_needed(session)
        rows = await q.cube_summary_rows(session, names=query.group_by, territory_level=query.territory_level,
                                         age_scheme=query.age_scheme, phases=phases(), scope=scope)
    else:
        dims = [(name, q.dimension(name, territory_level=query.territory_level, age_scheme=query.age_scheme,
                                   phases=phases())) for name in query.group_by]
        rows = await q.summary_rows(session, dimensions=dims, filters=scope.where())
    total_row: Any = next((r for r in rows if r["is_total"]),
                                        {"children": 0, "cases": 0, "intakes": 0})
    cells = [Cell(keys=tuple(str(r[name]) for name in query.group_by),
                  counts={m: int(r[m]) for m in MEASURES})
             for r in rows if not r["is_total"]]
    cells.sort(key=lambda c: c.keys)
    total_hidden = False
    if not exact:
        suppress(cells)
        total_hidden = is_small({m: int(total_row[m]) for m in MEASURES})
    out_cells = [SummaryCell(keys=dict(zip(query.group_by, c.keys, strict=True)),
                             **{m: None if c.suppressed else c.counts[m] for m in MEASURES},
                             suppressed=c.suppressed, suppression=c.reason)
                 for c in cells]
    total = SummaryTotal(**{m: None if total_hidden else int(total_row[m]) for m in MEASURES},
                         suppressed=total_hidden)
    return SummaryRead(period=_period(query), group_by=list(query.group_by),
                       territory_level=query.territory_level,
                       age_scheme=query.age_scheme,
                       territories=list(territories), phase=query.phase,
                       exact=exact, threshold=THRESHOLD, as_of=as_of, cells=out_cells, total=total,
                       suppressed_cells=sum(1 for c in cells if c.suppressed))


async def export_csv(*, session: AsyncSession, principal: Principal, query: StatsQuery) -> str:
    """The summary as CSV, always with small cells suppressed; the header names every column."""
    summary = await summarize(session=session, principal=principal, query=query, force_suppression=True)
    await case_repo.write_audit(session, [AuditEntry(action="stats.export", object_type="stats",
                                                     fields=list(query.group_by))], principal=principal)
    period_from = summary.period.from_.isoformat() if summary.period.from_ else ""
    period_to = summary.period.to.isoformat() if summary.period.to else ""
    buffer = io.StringIO()
    writer = csv.writer(buffer, lineterminator="\r\n")
    writer.writerow(["period_from", "period_to", *query.group_by, *MEASURES, "suppressed"])
    for cell in summary.cells:
        writer.writerow([period_from, period_to, *(cell.keys[d] for d in query.group_by),
                         *("" if cell.suppressed else getattr(cell, m) for m in MEASURES),
                         cell.suppression or ""])
    total = summary.total
    writer.writerow([period_from, period_to, *("total" for _ in query.group_by),
                     *("" if total.suppressed else getattr(total, m) for m in MEASURES),
                     "primary" if total.suppressed else ""])
    return buffer.getvalue()


def _table(name: str, rows: Sequence[Any], keys: Sequence[str], counts: Sequence[str],
           other: Sequence[str] = (), *, exact: bool) -> Indicator:
    """An indicator of several rows: cells suppressed (with complements) unless exact."""
    cells = [Cell(keys=tuple(str(r[k]) for k in keys), counts={c: int(r[c] or 0) for c in counts})
             for r in rows]
    extras = {tuple(str(r[k]) for k in keys): {o: _num(r[o]) for o in other} for r in rows}
    cells.sort(key=lambda c: c.keys)
    if not exact:
        suppress(cells)
    return Indicator(name=name, rows=[
        IndicatorRow(keys=dict(zip(keys, c.keys, strict=True)),
                     values={**{k: None if c.suppressed else v for k, v in c.counts.items()},
                             **{k: None if c.suppressed else v for k, v in extras[c.keys].items()}},
                     suppressed=c.suppressed, suppression=c.reason)
        for c in cells])


def _single(name: str, row: Any, *, exact: bool, medians: Mapping[str, str] | None = None) -> Indicator:
    """An indicator of one row: each small count suppressed on its own (there is no line to protect);
    a median is suppressed when the count of observations it summarises (`medians[median] = count`) is."""
    values: dict[str, float | int | None] = {}
    hidden = False
    medians = medians or {}
    for key, value in row.items():
        if key in medians:
            continue
        small = not exact and 0 < int(value or 0) < THRESHOLD
        hidden = hidden or small
        values[key] = None if small else int(value or 0)
    for median, count in medians.items():
        small = not exact and int(row[count] or 0) < THRESHOLD
        values[median] = None if small or row[median] is None else round(float(row[median]), 1)
    return Indicator(name=name, rows=[IndicatorRow(values=values, suppressed=hidden,
                                                   suppression="primary" if hidden else None)])


def _num(value: Any) -> float | int | None:
    if value is None:
        return None
    return round(float(value), 1) if not isinstance(value, int) else value


async def indicators(*, session: AsyncSession, principal: Principal, query: StatsQuery) -> IndicatorsRead:
    """Every indicator of the steering committee over the cases of a period and territories."""
    territories, counted = _filters(principal, query)
    filters = counted.where()
    exact = principal.has_scope(Scope.STATS_EXACT)
    as_of = await q.as_of(session)
    scope = q.scoped_cases(filters)
    now = datetime.now(UTC)
    as_of_day = min(query.period_to, now.date()) if query.period_to else now.date()
    coverage_at = datetime.combine(as_of_day, datetime.max.time(), tzinfo=UTC) if query.period_to else now
    out: list[Indicator] = [
        _table("adults_by_relationship", await q.adults_by_relationship(session, scope), ["key"], ["count"],
               exact=exact),
        _single("mothers_with_several_children", await q.mothers_with_children(session, scope), exact=exact),
        _table("filiation_results", await q.filiation_results(session, scope), ["relationship", "key"], ["count"],
               exact=exact),
        _single("prosecution_referrals", await q.prosecution_referrals(session, scope), exact=exact),
        _table("prosecutor_decisions", await q.decisions_by_type(session, scope), ["key"],
               ["count", "cases", "adults"],
               exact=exact),
        _single("referral_to_decision_days", await q.referral_to_decision_days(session, scope), exact=exact,
                medians={"median_days": "n"}),
        _single("family_or_placement", await q.family_or_placement(session, scope), exact=exact),
        _single("eps_capacity", await q.eps_capacity(session, territories=territories), exact=True),
        _table("services", await q.services_by_status(session, scope), ["key"], ["proposed", "completed"],
               exact=exact),
        _single("follow_up_coverage", await q.follow_up_coverage(session, scope, as_of=coverage_at), exact=exact),
        _single("recidivism", await q.recidivism(session, filters, today=now.date()), exact=exact),
        _table("step_delays", await q.step_delays(session, scope), ["from_status", "to_status"], ["n"],
               ["median_days"], exact=exact),
    ]
    return IndicatorsRead(period=_period(query), territories=list(territories),
                          phase=query.phase,
                          exact=exact, threshold=THRESHOLD, as_of=as_of, indicators=out)
