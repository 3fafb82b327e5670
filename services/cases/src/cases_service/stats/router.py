"""Routes of the statistics: `/v1/stats/summary`, `/v1/stats/indicators` and `/v1/stats/export`."""

from __future__ import annotations

from datetime import date
from typing import Annotated

from fastapi import APIRouter, Depends, Query, Request
from fastapi.responses import Response

from cases_service.core.deps import ContextDep
from cases_service.stats import service
from cases_service.stats.schemas import AgeScheme, Dimension, IndicatorsRead, Phase, SummaryRead, TerritoryLevel
from cases_service.stats.suppression import Perturbation
from himaya.auth import Principal, require_scopes
from himaya.errors import problem_responses
from himaya.scopes import Scope

router = APIRouter(prefix="/v1/stats", tags=["stats"])
StatsReader = Annotated[Principal, Depends(require_scopes(Scope.STATS_READ))]
TERRITORY_PATTERN = r"^(MA|\d{2}(\.\d{3}(\.\d{2}(\.\d{2})?)?)?)$"
ERRORS = problem_responses(401, 403, 422)


def stats_query(
    group_by: Annotated[list[Dimension], Query(description="Dimensions to group by (repeat the parameter).")] = [],  # noqa: B006 (FastAPI query list)
    territory_level: Annotated[TerritoryLevel, Query(description="Level of the `territory` dimension.")] = "prefecture",
    age_scheme: Annotated[AgeScheme, Query(description="pilot: <1, 1-4, 5+; marrakech: <1, 1-5, 6-13, 14-17.")]
    = "pilot",
    from_: Annotated[date | None, Query(alias="from", description=(
        "First intake date counted (inclusive); the first of its month in a protected answer."))] = None,
    to: Annotated[date | None, Query(description=(
        "Last intake date counted (inclusive); the last of its month in a protected answer."))] = None,
    territory_code: Annotated[list[Annotated[str, Query(pattern=TERRITORY_PATTERN)]],
                              Query(description=("Count only these territories (inside the caller's; in a "
                                                 "protected answer, all of one level)."))] = [],  # noqa: B006
    phase: Annotated[Phase | None, Query(description="Count only the prefectures of this plan phase.")] = None,
) -> service.StatsQuery:
    """The query parameters shared by every statistics operation."""
    return service.StatsQuery(group_by=tuple(group_by), territory_level=territory_level, age_scheme=age_scheme,
                             period_from=from_, period_to=to, territory_codes=tuple(territory_code), phase=phase)


QueryDep = Annotated[service.StatsQuery, Depends(stats_query)]


def perturbation(request: Request) -> Perturbation:
    """The cell-key perturbation of the service (its secret is `CASES_STATS_PERTURBATION_KEY`)."""
    value: Perturbation = request.app.state.stats_perturbation
    return value


PerturbationDep = Annotated[Perturbation, Depends(perturbation)]


@router.get("/summary", response_model=SummaryRead, responses=ERRORS)
async def get_summary(principal: StatsReader, ctx: ContextDep, query: QueryDep,
                      noise: PerturbationDep) -> SummaryRead:
    """Counts of unique children, cases and intakes grouped by any combination of dimensions over a period."""
    return await service.summarize(ctx, query=query, perturbation=noise)


@router.get("/indicators", response_model=IndicatorsRead, responses=ERRORS)
async def get_indicators(principal: StatsReader, ctx: ContextDep, query: QueryDep,
                         noise: PerturbationDep) -> IndicatorsRead:
    """The steering committee's other indicators (adults, filiation, decisions, services, follow-up, delays)."""
    return await service.indicators(ctx, query=query, perturbation=noise)


@router.get("/export", response_class=Response, responses={
    200: {"content": {"text/csv": {"schema": {"type": "string"}}}, "description": "The summary as CSV."},
    **ERRORS})
async def export_summary(principal: StatsReader, ctx: ContextDep, query: QueryDep,
                         noise: PerturbationDep) -> Response:
    """The summary as CSV, always protected (small cells suppressed, counts perturbed); names columns and period."""
    period, body = await service.export_csv(ctx, query=query, perturbation=noise)
    name = f"himaya-stats_{period.from_ or 'start'}_{period.to or 'now'}.csv"
    return Response(body, media_type="text/csv; charset=utf-8",
                    headers={"Content-Disposition": f'attachment; filename="{name}"'})
