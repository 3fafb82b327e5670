"""Decision 0106: a steering viewer cannot recover a suppressed (small) cell by subtracting two allowed queries.

Through the gateway, with the four real processes. The fixture is Agadir in 2015 (no other test writes there):
a big commune with three single-child intakes a month, two more intakes on 15 March, and eight small communes
holding 1 to 4 children each in March. Each attack derives a small count as the difference of two protected
answers; the truth is checked through the exact path (a team coordinator holds stats:exact), and the
attacker's derived value must not be that truth by construction: the period a day apart is counted as the
same whole months (difference 0), and every other difference carries the difference of two independent
noises (docs/statistics.md). One pair can still come out right by chance (about one in four): each attack
makes 16 to 24 of them, and the test asserts that they are not all right, and that each is within twice the
noise bound.
"""

from __future__ import annotations

import csv
import io
from typing import Any

import httpx
import pytest
from authz.provision import Actor, Directory, expect

pytestmark = pytest.mark.stack

AGADIR = "09.001"
BIG = "09.001.01"
SMALL = {f"09.001.0{n}": (n - 2) % 4 + 1 for n in range(2, 10)}  # 8 communes holding 1, 2, 3, 4, 1, 2, 3, 4
YEAR = {"from": "2015-01-01", "to": "2015-12-31"}
MEASURES = ("children", "cases", "intakes")
BOUND = 2  # the noise bound of docs/statistics.md


@pytest.fixture(scope="module")
def actors(directory: Directory) -> dict[str, Actor]:
    d = directory
    d.organization("stats-cape-agadir", type_="cape", territory=AGADIR)
    d.organization("stats-ministry", type_="ministry", territory="MA")
    return {
        "cm": d.user("cm@stats", role="case_manager", org="stats-cape-agadir", territories=[AGADIR]),
        "coordinator": d.user("coord@stats", role="team_coordinator", org="stats-cape-agadir", territories=[AGADIR]),
        "viewer": d.user("viewer@stats", role="steering_viewer", org="stats-ministry", territories=[AGADIR]),
    }


def intake(gateway: httpx.Client, cm: Actor, commune: str, when: str, n: int) -> None:
    expect(gateway.post("/v1/intakes", headers=cm.headers, json={
        "reported_at": when, "source": "hotline_2511", "commune_code": commune, "place_type": "traffic_light",
        "night": False, "exploitation_pattern": "with_adult", "adults": [],
        "children": [{"description": f"Child {n} at the lights", "sex": "female" if n % 2 else "male",
                      "estimated_age_years": 4 + n % 9}]}), 201)


@pytest.fixture(scope="module")
def agadir(directory: Directory, actors: dict[str, Actor]) -> dict[str, Actor]:
    gateway, cm = directory.gateway, actors["cm"]
    n = 0
    for month in range(1, 13):
        for day in (3, 10, 20):
            n += 1
            intake(gateway, cm, BIG, f"2015-{month:02d}-{day:02d}T10:00:00Z", n)
    for _ in range(2):  # the day an attacker wants to isolate
        n += 1
        intake(gateway, cm, BIG, "2015-03-15T10:00:00Z", n)
    for commune, count in SMALL.items():
        for i in range(count):
            n += 1
            intake(gateway, cm, commune, f"2015-03-{5 + i:02d}T10:00:00Z", n)
    return actors


def get(gateway: httpx.Client, actor: Actor, path: str, **params: Any) -> Any:
    return expect(gateway.get(path, headers=actor.headers, params=params), 200)


def summary(gateway: httpx.Client, actor: Actor, **params: Any) -> dict[str, Any]:
    body: dict[str, Any] = get(gateway, actor, "/v1/stats/summary", **params)
    return body


def total(body: dict[str, Any]) -> dict[str, int]:
    return {m: body["total"][m] for m in MEASURES}


def never_negative(body: dict[str, Any]) -> None:
    for row in [body["total"], *body["cells"]]:
        assert all(row[m] is None or row[m] >= 0 for m in MEASURES), row


def not_recovered(derived: list[tuple[int, int]]) -> None:
    """The attacker's differences: none is guaranteed to be the truth (not all are), each near it."""
    assert len(derived) >= 16
    assert all(1 <= true <= 4 for _, true in derived)
    assert all(abs(value - true) <= 2 * BOUND for value, true in derived), derived
    assert any(value != true for value, true in derived), f"every small count was recovered: {derived}"


class TestDifferencing:
    def test_two_territory_sets_differing_by_one_small_commune(self, gateway, agadir):
        viewer, exact = agadir["viewer"], agadir["coordinator"]
        base = summary(gateway, viewer, territory_code=[BIG], **YEAR)
        assert base["exact"] is False and base["noise_bound"] == BOUND
        derived = []
        for commune, count in SMALL.items():
            # The truth, through the exact path: the two sets differ by `count` children.
            assert total(summary(gateway, exact, territory_code=[BIG, commune], **YEAR))["children"] - total(
                summary(gateway, exact, territory_code=[BIG], **YEAR))["children"] == count
            alone = summary(gateway, viewer, territory_code=[commune], **YEAR)
            assert alone["total"]["suppressed"] and alone["total"]["children"] is None  # asked directly: hidden
            both = summary(gateway, viewer, territory_code=[BIG, commune], **YEAR)
            never_negative(both)
            derived += [(total(both)[m] - total(base)[m], count) for m in MEASURES]
        not_recovered(derived)

    def test_two_periods_a_day_apart(self, gateway, agadir):
        viewer, exact = agadir["viewer"], agadir["coordinator"]
        before = {"territory_code": [BIG], "from": "2015-01-01", "to": "2015-03-14"}
        after = {**before, "to": "2015-03-15"}
        truth = total(summary(gateway, exact, **after))["children"] - total(summary(gateway, exact, **before))[
            "children"]
        assert truth == 2
        first, second = summary(gateway, viewer, **before), summary(gateway, viewer, **after)
        # Both are counted over the same whole months: the difference is 0, never the 2 children of that day.
        assert first["period"] == second["period"] == {"from": "2015-01-01", "to": "2015-03-31"}
        assert total(first) == total(second) and total(second)["children"] - total(first)["children"] != truth
        never_negative(first)
        # The same through the export and the indicators.
        assert export_total(gateway, viewer, **before) == export_total(gateway, viewer, **after)
        a, b = (indicator_values(gateway, viewer, **p) for p in (before, after))
        assert a == b

    def test_group_by_versus_total(self, gateway, agadir):
        viewer = agadir["viewer"]
        derived = []
        for commune, count in SMALL.items():
            body = summary(gateway, viewer, territory_code=[BIG, commune], group_by="territory",
                           territory_level="commune", **YEAR)
            never_negative(body)
            cells = {c["keys"]["territory"]: c for c in body["cells"]}
            assert cells[commune]["suppressed"] and cells[commune]["children"] is None
            assert not cells[BIG]["suppressed"]  # no complementary suppression: the big commune is published
            derived += [(body["total"][m] - cells[BIG][m], count) for m in MEASURES]
        not_recovered(derived)

    def test_an_indicator_versus_the_summary(self, gateway, agadir):
        viewer = agadir["viewer"]
        # Every child of 2015 has a case old enough for the recidivism windows: `eligible_6m` and
        # `eligible_12m` count the same children as the summary's total.
        base = summary(gateway, viewer, territory_code=[BIG], **YEAR)
        derived = []
        for commune, count in SMALL.items():
            values = indicator_values(gateway, viewer, territory_code=[BIG, commune], **YEAR)
            recidivism = values["recidivism"][0]
            derived += [(recidivism[f"eligible_{w}"] - base["total"]["children"], count) for w in ("6m", "12m")]
        not_recovered(derived)

    def test_the_export_versus_the_summary(self, gateway, agadir):
        viewer = agadir["viewer"]
        base = export_total(gateway, viewer, territory_code=[BIG], **YEAR)
        assert base == total(summary(gateway, viewer, territory_code=[BIG], **YEAR))  # one method, one noise
        derived = []
        for commune, count in SMALL.items():
            both = summary(gateway, viewer, territory_code=[BIG, commune], **YEAR)
            derived += [(total(both)[m] - base[m], count) for m in MEASURES]
        not_recovered(derived)


class TestConsistency:
    def test_the_same_query_twice_gives_the_same_numbers(self, gateway, agadir):
        viewer = agadir["viewer"]
        params = {"territory_code": [BIG, "09.001.05"], "group_by": ["territory", "sex"], "territory_level": "commune",
                  **YEAR}
        first, second = summary(gateway, viewer, **params), summary(gateway, viewer, **params)
        assert (first["cells"], first["total"]) == (second["cells"], second["total"])
        assert indicator_values(gateway, viewer, **params) == indicator_values(gateway, viewer, **params)
        assert export_total(gateway, viewer, **params) == export_total(gateway, viewer, **params)

    def test_published_counts_are_within_the_bound_and_never_negative(self, gateway, agadir):
        viewer, exact = agadir["viewer"], agadir["coordinator"]
        for params in ({"group_by": "month"}, {"group_by": ["territory", "sex"], "territory_level": "commune"},
                       {"group_by": "age_band"}):
            protected = summary(gateway, viewer, **params, **YEAR)
            truth = summary(gateway, exact, **params, **YEAR)
            never_negative(protected)
            true_cells = {tuple(c["keys"].items()): c for c in truth["cells"]}
            for cell in protected["cells"]:
                true = true_cells[tuple(cell["keys"].items())]
                if cell["suppressed"]:
                    assert any(0 < true[m] < 5 for m in MEASURES)
                else:
                    assert all(abs(cell[m] - true[m]) <= BOUND for m in MEASURES), (cell, true)
            assert all(abs(protected["total"][m] - truth["total"][m]) <= BOUND for m in MEASURES)

    def test_territory_sets_must_be_of_one_level(self, gateway, agadir):
        r = gateway.get("/v1/stats/summary", headers=agadir["viewer"].headers,
                        params={"territory_code": [AGADIR, "09.001.02"], **YEAR})
        assert r.status_code == 422 and r.headers["content-type"].startswith("application/problem+json")


def export_total(gateway: httpx.Client, actor: Actor, **params: Any) -> dict[str, int]:
    text = get(gateway, actor, "/v1/stats/export", **params)
    last = list(csv.reader(io.StringIO(text)))[-1]
    counts = last[-4:-1]
    return {m: int(v) for m, v in zip(MEASURES, counts, strict=True)}


def indicator_values(gateway: httpx.Client, actor: Actor, **params: Any) -> dict[str, list[dict[str, Any]]]:
    body = get(gateway, actor, "/v1/stats/indicators", **params)
    return {i["name"]: [row["values"] for row in i["rows"]] for i in body["indicators"]}
