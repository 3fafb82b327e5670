"""Territory and court reference data (a copy of identity's files; see data/README.md)."""

from __future__ import annotations

import csv
from dataclasses import dataclass
from pathlib import Path

from himaya.errors import InvalidInput

DATA_DIR = Path(__file__).resolve().parents[1] / "data"
LOCAL_LEVELS = frozenset({"commune", "arrondissement"})


@dataclass(frozen=True, slots=True)
class Place:
    """Where a commune (or arrondissement) sits: its region and prefecture, and the prefecture's prefix."""

    commune_code: str
    prefecture_code: str
    region_code: str
    case_prefix: str


@dataclass(frozen=True)
class ReferenceData:
    """Territories by code and courts by code, loaded once at startup."""

    levels: dict[str, str]
    parents: dict[str, str]
    prefixes: dict[str, str]
    courts: dict[str, str]  # court code -> prefecture code
    default_courts: dict[str, str]  # prefecture code -> first first-instance court

    @classmethod
    def load(cls, data_dir: Path = DATA_DIR) -> ReferenceData:
        """Read territories.csv and courts.csv."""
        levels, parents, prefixes = {}, {}, {}
        with (data_dir / "territories.csv").open(encoding="utf-8") as f:
            for row in csv.DictReader(f):
                levels[row["code"]] = row["level"]
                if row["parent_code"]:
                    parents[row["code"]] = row["parent_code"]
                if row["case_prefix"]:
                    prefixes[row["code"]] = row["case_prefix"]
        courts: dict[str, str] = {}
        defaults: dict[str, str] = {}
        with (data_dir / "courts.csv").open(encoding="utf-8") as f:
            for row in csv.DictReader(f):
                courts[row["code"]] = row["territory_code"]
                if row["kind"] == "first_instance":
                    defaults.setdefault(row["territory_code"], row["code"])
        return cls(levels, parents, prefixes, courts, defaults)

    def place(self, commune_code: str) -> Place:
        """The place of a commune or arrondissement code; 422 for any other code."""
        if self.levels.get(commune_code) not in LOCAL_LEVELS:
            raise InvalidInput(f"commune_code {commune_code!r} is not a known commune or arrondissement.")
        code = commune_code
        while self.levels.get(code) != "prefecture":
            code = self.parents[code]
        return Place(commune_code=commune_code, prefecture_code=code, region_code=self.parents[code],
                     case_prefix=self.prefixes[code])

    def court_for(self, place: Place, court_code: str | None) -> str:
        """The given court if it exists, else the default first-instance court of the place's prefecture."""
        if court_code is not None:
            if court_code not in self.courts:
                raise InvalidInput(f"court_code {court_code!r} is not a known court.")
            return court_code
        default = self.default_courts.get(place.prefecture_code)
        if default is None:
            raise InvalidInput("No court is known for this prefecture: send court_code.")
        return default

    def is_territory(self, code: str) -> bool:
        """Whether `code` names a territory."""
        return code in self.levels

    def level(self, code: str) -> str | None:
        """The level of a territory code (None if unknown)."""
        return self.levels.get(code)
