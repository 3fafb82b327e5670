"""The cases service's copy of the territory and court reference data matches identity's files."""

import csv
from pathlib import Path

import pytest

from cases_service.core.reference import DATA_DIR, ReferenceData
from himaya.errors import InvalidInput

IDENTITY_DATA = Path(__file__).resolve().parents[2] / "identity" / "src" / "identity_service" / "data"


def _rows(path: Path, columns: list[str]) -> list[tuple[str, ...]]:
    with path.open(encoding="utf-8") as f:
        return [tuple(row[c] for c in columns) for row in csv.DictReader(f)]


class TestCopy:
    @pytest.mark.skipif(not IDENTITY_DATA.exists(), reason="identity's data folder is not in this checkout")
    def test_territories_and_courts_match_identity(self):
        for name, columns in (("territories.csv", ["code", "level", "parent_code", "case_prefix"]),
                              ("courts.csv", ["code", "kind", "territory_code"])):
            assert _rows(DATA_DIR / name, columns) == _rows(IDENTITY_DATA / name, columns), name


class TestPlaces:
    def test_commune_and_arrondissement_resolve_to_their_prefecture(self):
        ref = ReferenceData.load()
        place = ref.place("04.421.01.03")
        assert (place.prefecture_code, place.region_code, place.case_prefix) == ("04.421", "04", "RAB")
        assert ref.court_for(ref.place("01.511.01"), None) == "TPI-TNG"

    def test_prefecture_is_not_a_commune(self):
        with pytest.raises(InvalidInput):
            ReferenceData.load().place("04.421")
