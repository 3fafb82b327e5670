"""Rules of the statistics: scope, dimensions, disclosure control, and the CSV export (docs/statistics.md)."""

from __future__ import annotations

import calendar
import csv
import io
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, replace
from datetime import UTC, date, datetime
from functools import lru_cache
from pathlib import Path
from typing import Any

from cases_service.core import repository as core_repo
from cases_service.core.context import Context
from cases_service.stats import repository as q
from cases_service.stats.schemas import (
    Indicator,
    IndicatorRow,
    IndicatorsRead,
    Period,
    SummaryCell,
    SummaryRead,
    SummaryTotal,
)
from cases_service.stats.suppression import NOISE_BOUND, THRESHOLD, Cell, Perturbation, cell_key, suppress
from himaya import clock
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


def _level(code: str) -> int:
    """The depth of a territory code: 0 the nation, 1 a region, 2 a prefecture, 3 a commune, 4 below."""
    return 0 if code == "MA" else code.count(".") + 1


def protected(query: StatsQuery) -> StatsQuery:
    """The query a protected answer (perturbed counts) is computed for: the period widened to whole months
    (`from` to the first day of its month, `to` to the last of its), so that periods a day apart count the
    same records. Protected territory sets are checked in `_scope` (every code of one official level)."""
    period_from = query.period_from.replace(day=1) if query.period_from else None
    period_to = None
    if query.period_to is not None:
        period_to = query.period_to.replace(day=calendar.monthrange(query.period_to.year, query.period_to.month)[1])
    return replace(query, period_from=period_from, period_to=period_to)


def _scope(principal: Principal, query: StatsQuery, *, exact: bool = True) -> tuple[str, ...]:
    """The territory codes to count: those asked (each inside the caller's), else the caller's own. A
    protected answer takes only whole units of one official level (all regions, all prefectures or all
    communes), which bounds the sets of records a caller can tell apart by differencing."""
    if query.period_from and query.period_to and query.period_from > query.period_to:
        raise InvalidInput("`from` must not be after `to`.")
    if len(set(query.group_by)) != len(query.group_by):
        raise InvalidInput("A dimension appears twice in group_by.")
    if not query.territory_codes:
        return tuple(principal.territories)
    if not exact and len({_level(code) for code in query.territory_codes}) > 1:
        raise InvalidInput("Every territory_code must be of the same level (regions, prefectures or communes).")
    for code in query.territory_codes:
        if not principal.covers(code):
            raise Forbidden(f"The territory {code} is outside your territories.")
    return tuple(query.territory_codes)


def _filters(principal: Principal, query: StatsQuery, *, exact: bool = True
             ) -> tuple[tuple[str, ...], q.CaseScope]:
    territories = _scope(principal, query, exact=exact)
    prefectures = None
    if query.phase is not None:
        prefectures = tuple(code for code, phase in phases().items() if phase == query.phase
                            and any(territory_covers(t, code) or territory_covers(code, t) for t in territories))
    return territories, q.CaseScope(tuple(sorted(set(territories))), query.period_from, query.period_to,
                                    prefectures)


def _period(query: StatsQuery) -> Period:
    return Period(from_=query.period_from, to=query.period_to)


async def summarize(ctx: Context, *, query: StatsQuery,
                    perturbation: Perturbation, force_protection: bool = False) -> SummaryRead:
    """Counts of unique children, cases and intakes by the requested dimensions: exact for a caller holding
    stats:exact (never when `force_protection`, as in exports), else protected (whole months, small cells
    suppressed, every other count perturbed by its cell key)."""
    session, principal = ctx.session, ctx.principal
    exact = principal.has_scope(Scope.STATS_EXACT) and not force_protection
    if not exact:
        query = protected(query)
    territories, scope = _filters(principal, query, exact=exact)
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
                          {"children": 0, "cases": 0, "intakes": 0, "key_sum": 0})
    cells = [Cell(keys=tuple(str(r[name]) for name in query.group_by),
                  counts={m: int(r[m]) for m in MEASURES}, cell_key=cell_key(int(r["key_sum"])))
             for r in rows if not r["is_total"]]
    cells.sort(key=lambda c: c.keys)
    total = Cell(keys=(), counts={m: int(total_row[m]) for m in MEASURES}, cell_key=cell_key(int(total_row["key_sum"])))
    if not exact:
        suppress([*cells, total])
    out_cells = [SummaryCell(keys=dict(zip(query.group_by, c.keys, strict=True)),
                             **_published(c, perturbation, exact=exact), suppressed=c.suppressed, suppression=c.reason)
                 for c in cells]
    return SummaryRead(period=_period(query), group_by=list(query.group_by),
                       territory_level=query.territory_level,
                       age_scheme=query.age_scheme,
                       territories=list(territories), phase=query.phase,
                       exact=exact, threshold=THRESHOLD, noise_bound=0 if exact else NOISE_BOUND, as_of=as_of,
                       cells=out_cells, total=SummaryTotal(**_published(total, perturbation, exact=exact),
                                                          suppressed=total.suppressed),
                       suppressed_cells=sum(1 for c in cells if c.suppressed))


def _published(cell: Cell, perturbation: Perturbation, *, exact: bool) -> dict[str, int | None]:
    """The counts of a summary cell as published: exact, suppressed (null), or perturbed by its cell key."""
    if exact:
        return dict(cell.counts)
    if cell.suppressed:
        return dict.fromkeys(cell.counts)
    return {m: perturbation.count(v, m, cell.cell_key) for m, v in cell.counts.items()}


async def export_csv(ctx: Context, *, query: StatsQuery,
                     perturbation: Perturbation) -> tuple[Period, str]:
    """The summary as CSV, always protected; the header names every column. Returns the period counted."""
    summary = await summarize(ctx, query=query, perturbation=perturbation,
                              force_protection=True)
    await core_repo.write_audit(ctx.session, [AuditEntry(action="stats.export", object_type="stats",
                                                         fields=list(query.group_by))], principal=ctx.principal)
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
    return summary.period, buffer.getvalue()


KEY = "key_sum"  # the column of an indicator's row holding the sum of its contributing cases' record keys


@dataclass(frozen=True)
class Protection:
    """How an indicator's counts are published: exact, or suppressed when small and perturbed by the cell key
    of the row (its contributing cases) and the count's own label (indicator, row keys, value name)."""

    perturbation: Perturbation
    exact: bool

    def value(self, label: str, value: int, key_sum: int) -> int:
        return value if self.exact else self.perturbation.count(value, label, cell_key(key_sum))


def _table(name: str, rows: Sequence[Any], keys: Sequence[str], counts: Sequence[str],
           other: Sequence[str] = (), *, protection: Protection) -> Indicator:
    """An indicator of several rows: rows with a small count suppressed and the others' counts perturbed,
    unless exact."""
    cells = [Cell(keys=tuple(str(r[k]) for k in keys), counts={c: int(r[c] or 0) for c in counts},
                  cell_key=int(r.get(KEY) or 0)) for r in rows]
    extras = {tuple(str(r[k]) for k in keys): {o: _num(r[o]) for o in other} for r in rows}
    cells.sort(key=lambda c: c.keys)
    if not protection.exact:
        suppress(cells)

    def label(cell: Cell, value: str) -> str:
        return "\x1f".join((name, *cell.keys, value))

    return Indicator(name=name, rows=[
        IndicatorRow(keys=dict(zip(keys, c.keys, strict=True)),
                     values={**{k: None if c.suppressed else protection.value(label(c, k), v, c.cell_key)
                                for k, v in c.counts.items()},
                             **{k: None if c.suppressed else v for k, v in extras[c.keys].items()}},
                     suppressed=c.suppressed, suppression=c.reason)
        for c in cells])


def _single(name: str, row: Any, *, protection: Protection, medians: Mapping[str, str] | None = None) -> Indicator:
    """An indicator of one row: each small count suppressed on its own (there is no line to protect), the
    others perturbed; a median is suppressed when the count of observations it summarises
    (`medians[median] = count`) is under the threshold, and is otherwise exact (not a count: no differencing)."""
    values: dict[str, float | int | None] = {}
    hidden = False
    medians = medians or {}
    exact = protection.exact
    key_sum = int(row.get(KEY) or 0)
    for key, value in row.items():
        if key in medians or key == KEY:
            continue
        small = not exact and 0 < int(value or 0) < THRESHOLD
        hidden = hidden or small
        values[key] = None if small else protection.value(f"{name}\x1f{key}", int(value or 0), key_sum)
    for median, count in medians.items():
        small = not exact and int(row[count] or 0) < THRESHOLD
        values[median] = None if small or row[median] is None else round(float(row[median]), 1)
    return Indicator(name=name, rows=[IndicatorRow(values=values, suppressed=hidden,
                                                   suppression="primary" if hidden else None)])


def _num(value: Any) -> float | int | None:
    if value is None:
        return None
    return round(float(value), 1) if not isinstance(value, int) else value


async def indicators(ctx: Context, *, query: StatsQuery,
                     perturbation: Perturbation) -> IndicatorsRead:
    """Every indicator of the steering committee over the cases of a period and territories: exact for a
    caller holding stats:exact, else protected as the summary (a row's cell key is that of its contributing
    cases)."""
    session, principal = ctx.session, ctx.principal
    exact = principal.has_scope(Scope.STATS_EXACT)
    if not exact:
        query = protected(query)
    territories, counted = _filters(principal, query, exact=exact)
    filters = counted.where()
    as_of = await q.as_of(session)
    scope = q.scoped_cases(filters)
    p = Protection(perturbation, exact)
    raw = Protection(perturbation, exact=True)
    now = clock.now()
    as_of_day = min(query.period_to, now.date()) if query.period_to else now.date()
    coverage_at = datetime.combine(as_of_day, datetime.max.time(), tzinfo=UTC) if query.period_to else now
    out: list[Indicator] = [
        _table("adults_by_relationship", await q.adults_by_relationship(session, scope), ["key"], ["count"],
               protection=p),
        _single("mothers_with_several_children", await q.mothers_with_children(session, scope), protection=p),
        _table("filiation_results", await q.filiation_results(session, scope), ["relationship", "key"], ["count"],
               protection=p),
        _single("prosecution_referrals", await q.prosecution_referrals(session, scope), protection=p),
        _table("prosecutor_decisions", await q.decisions_by_type(session, scope), ["key"],
               ["count", "cases", "adults"], protection=p),
        _single("referral_to_decision_days", await q.referral_to_decision_days(session, scope), protection=p,
                medians={"median_days": "n"}),
        _single("family_or_placement", await q.family_or_placement(session, scope), protection=p),
        # Places of institutions, not about children: published as they are.
        _single("eps_capacity", await q.eps_capacity(session, territories=territories), protection=raw),
        _table("services", await q.services_by_status(session, scope), ["key"], ["proposed", "completed"],
               protection=p),
        _single("follow_up_coverage", await q.follow_up_coverage(session, scope, as_of=coverage_at), protection=p),
        _single("recidivism", await q.recidivism(session, filters, today=now.date()), protection=p),
        _table("step_delays", await q.step_delays(session, scope), ["from_status", "to_status"], ["n"],
               ["median_days"], protection=p),
    ]
    return IndicatorsRead(period=_period(query), territories=list(territories),
                          phase=query.phase, exact=exact, threshold=THRESHOLD,
                          noise_bound=0 if exact else NOISE_BOUND, as_of=as_of, indicators=out)
