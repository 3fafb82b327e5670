"""Response models of the statistics: counts and dimension values only, never a child's name or id."""

from __future__ import annotations

from datetime import date, datetime
from typing import Literal

from pydantic import BaseModel, ConfigDict, Field

Dimension = Literal["territory", "sex", "age_band", "status", "exploitation_pattern", "place_type", "night",
                    "nationality", "month", "phase", "source", "case_kind"]
TerritoryLevel = Literal["region", "prefecture", "commune"]
AgeScheme = Literal["pilot", "marrakech"]
Phase = Literal["pilot_2019", "phase2_2021"]
# "complementary" is no longer produced (every published count is perturbed: decision 0106); kept so that
# clients validating against the schema keep working.
Suppression = Literal["primary", "complementary"]


class StatsModel(BaseModel):
    """Base of the statistics' response models."""

    model_config = ConfigDict(extra="forbid")


class Period(StatsModel):
    """The intake dates counted, inclusive, in Moroccan local time (null: unbounded); whole months in a
    protected (not exact) answer, whatever was asked."""

    from_: date | None = Field(default=None, alias="from", serialization_alias="from")
    to: date | None = None

    model_config = ConfigDict(populate_by_name=True, extra="forbid")


class SummaryCell(StatsModel):
    """One combination of dimension values with its counts; null counts are suppressed."""

    keys: dict[str, str]
    children: int | None
    cases: int | None
    intakes: int | None
    suppressed: bool = False
    suppression: Suppression | None = None


class SummaryTotal(StatsModel):
    """The counts over every cell (unique children and intakes are not the sum of the cells')."""

    children: int | None
    cases: int | None
    intakes: int | None
    suppressed: bool = False


class SummaryRead(StatsModel):
    """Counts of unique children, cases and intakes per combination of the requested dimensions."""

    period: Period
    group_by: list[Dimension]
    territory_level: TerritoryLevel
    age_scheme: AgeScheme
    territories: list[str] = Field(description="The territory codes counted (the caller's, or those asked).")
    phase: Phase | None = None
    exact: bool = Field(description="False when cells under the threshold are suppressed and the others perturbed.")
    threshold: int
    noise_bound: int = Field(description="Every published count is within this of the true count (0: exact).")
    as_of: datetime = Field(description="When the figures were last brought up to date with the case records.")
    cells: list[SummaryCell]
    total: SummaryTotal
    suppressed_cells: int


class IndicatorRow(StatsModel):
    """One row of an indicator: its key values and figures; null figures are suppressed."""

    keys: dict[str, str] = Field(default_factory=dict)
    values: dict[str, float | int | None]
    suppressed: bool = False
    suppression: Suppression | None = None


class Indicator(StatsModel):
    """A committee indicator; its exact definition is in docs/statistics.md under `name`."""

    name: str
    rows: list[IndicatorRow]


class IndicatorsRead(StatsModel):
    """The steering committee's indicators over the cases of a period and territories."""

    period: Period
    territories: list[str]
    phase: Phase | None = None
    exact: bool
    threshold: int
    noise_bound: int = Field(description="Every published count is within this of the true count (0: exact).")
    as_of: datetime
    indicators: list[Indicator]
