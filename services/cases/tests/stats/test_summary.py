"""GET /v1/stats/summary and /v1/stats/export: counts equal to an independent count of a hand-built dataset,
both age schemes, protected answers (small cells suppressed, the other counts perturbed within the bound, whole
months, territory sets of one level), territory scope, and no identities."""

import csv
import io
import json
from collections import Counter

RABAT, SALE, MARRAKECH = "04.421.01", "04.441.01", "07.351.01"
PREFECTURE = {RABAT: "04.421", SALE: "04.441", MARRAKECH: "07.351"}


def child(name, sex, *, age=None, born=None, nationality=None):
    out = {"first_name": name, "sex": sex}
    if born is not None:
        out["birth_date"] = born
    else:
        out["estimated_age_years"] = age
    if nationality:
        out["nationality"] = nationality
    return out


# Each intake: (commune, reported_at, pattern, night, children); ages are what the child's age is at the intake.
DATASET = [
    (RABAT, "2020-01-10T10:00:00Z", "with_adult", False,
     [child("Zineb", "female", born="2019-01-11"), child("Omar", "male", born="2017-03-01")]),
    (RABAT, "2020-02-15T22:00:00Z", "alone", True, [child("Houda", "female", age=6)]),
    (SALE, "2020-03-01T09:00:00Z", "with_adult", False,
     [child("Imane", "female", age=1), child("Sara", "female", age=10, nationality="SN"),
      child("Karim", "male", age=15)]),
    (SALE, "2020-03-20T20:30:00Z", "selling_as_cover", True, [child("Anas", "male", age=5)]),
    (MARRAKECH, "2021-07-01T21:00:00Z", "alone", True, [child("Adam", "male", age=14)]),
]
# Completed years at the intake date, as computed by hand from the rows above.
AGES = {"Zineb": 0, "Omar": 2, "Houda": 6, "Imane": 1, "Sara": 10, "Karim": 15, "Anas": 5, "Adam": 14}
PILOT = {0: "under_1", 1: "1_4", 2: "1_4", 5: "5_plus", 6: "5_plus", 10: "5_plus", 14: "5_plus", 15: "5_plus"}
MARRAKECH_BANDS = {0: "under_1", 1: "1_5", 2: "1_5", 5: "1_5", 6: "6_13", 10: "6_13", 14: "14_17", 15: "14_17"}


async def load(api, as_, dataset=DATASET):
    """Record the intakes through the API; returns one (intake index, commune, child spec) per case."""
    out = []
    national_manager = as_("case_manager", territories=["MA"])
    for n, (commune, reported_at, pattern, night, children) in enumerate(dataset):
        await api.intake(national_manager, commune=commune, reported_at=reported_at, exploitation_pattern=pattern,
                         night=night, children=children)
        out.extend((n, commune, reported_at, c) for c in children)
    return out


def expected(rows, key):
    """Independent counts per key: children, cases and intakes."""
    children, cases, intakes = Counter(), Counter(), {}
    for n, commune, reported_at, c in rows:
        k = key(n, commune, reported_at, c)
        children[k] += 1
        cases[k] += 1
        intakes.setdefault(k, set()).add(n)
    return {k: (children[k], cases[k], len(intakes[k])) for k in children}


def got(body, *dims):
    return {tuple(cell["keys"][d] for d in dims): (cell["children"], cell["cases"], cell["intakes"])
            for cell in body["cells"]}


class TestSummaryCounts:
    async def test_territory_and_sex_equal_an_independent_count(self, api, client, as_):
        rows = await load(api, as_)
        r = await client.get("/v1/stats/summary", params={"group_by": ["territory", "sex"]},
                             headers=as_("team_coordinator", territories=["MA"]))
        assert r.status_code == 200, r.text
        body = r.json()
        assert body["exact"] is True and body["suppressed_cells"] == 0
        assert got(body, "territory", "sex") == expected(rows, lambda n, co, at, c: (PREFECTURE[co], c["sex"]))
        assert body["total"] == {"children": 8, "cases": 8, "intakes": 5, "suppressed": False}

    async def test_commune_level_month_and_pattern(self, api, client, as_):
        rows = await load(api, as_)
        r = await client.get("/v1/stats/summary", params={
            "group_by": ["territory", "month", "exploitation_pattern", "night"], "territory_level": "commune"},
            headers=as_("team_coordinator", territories=["MA"]))
        assert r.status_code == 200, r.text
        want = expected(rows, lambda n, co, at, c: (co, at[:7], DATASET[n][2], "night" if DATASET[n][3] else "day"))
        assert got(r.json(), "territory", "month", "exploitation_pattern", "night") == want

    async def test_period_phase_and_nationality(self, api, client, as_):
        rows = await load(api, as_)
        r = await client.get("/v1/stats/summary", params={
            "group_by": ["phase", "nationality"], "from": "2019-12-01", "to": "2020-12-31"},
            headers=as_("team_coordinator", territories=["MA"]))
        in_period = [x for x in rows if x[2] < "2021"]
        want = expected(in_period, lambda n, co, at, c: ("pilot_2019", c.get("nationality", "unknown")))
        assert got(r.json(), "phase", "nationality") == want
        assert r.json()["period"] == {"from": "2019-12-01", "to": "2020-12-31"}

    async def test_region_level_counts_an_intake_once_across_its_children(self, api, client, as_):
        await load(api, as_)
        r = await client.get("/v1/stats/summary", params={"group_by": ["territory"], "territory_level": "region"},
                             headers=as_("team_coordinator", territories=["MA"]))
        assert got(r.json(), "territory") == {("04",): (7, 7, 4), ("07",): (1, 1, 1)}


class TestAgeSchemes:
    async def test_pilot_bands_from_the_age_at_the_intake_date(self, api, client, as_):
        rows = await load(api, as_)
        r = await client.get("/v1/stats/summary", params={"group_by": ["age_band"], "age_scheme": "pilot"},
                             headers=as_("team_coordinator", territories=["MA"]))
        want = expected(rows, lambda n, co, at, c: (PILOT[AGES[c["first_name"]]],))
        assert got(r.json(), "age_band") == want
        assert want[("under_1",)][0] == 1  # Zineb turned one the day after her intake

    async def test_marrakech_bands_from_the_age_at_the_intake_date(self, api, client, as_):
        rows = await load(api, as_)
        r = await client.get("/v1/stats/summary", params={"group_by": ["age_band", "sex"],
                                                          "age_scheme": "marrakech"},
                             headers=as_("team_coordinator", territories=["MA"]))
        want = expected(rows, lambda n, co, at, c: (MARRAKECH_BANDS[AGES[c["first_name"]]], c["sex"]))
        assert got(r.json(), "age_band", "sex") == want


BOUND = 2  # the noise bound of docs/statistics.md


def near(published, true):
    """A protected count: within the noise bound of the true count, and never negative."""
    return published is not None and published >= 0 and abs(published - true) <= BOUND


def singles(commune, sex, count, day):
    return [(commune, f"2020-0{day}-{10 + i:02d}T10:00:00Z", "with_adult", False,
             [child(f"{sex[0].upper()}{i}", sex, age=3)]) for i in range(count)]


class TestSuppression:
    async def test_a_cell_of_three_is_suppressed_and_not_recoverable_from_the_total(self, api, client, as_):
        await load(api, as_, singles(RABAT, "female", 3, 4) + singles(RABAT, "male", 7, 5))
        r = await client.get("/v1/stats/summary", params={"group_by": ["sex"]},
                             headers=as_("steering_viewer", territories=["MA"]))
        assert r.status_code == 200, r.text
        body = r.json()
        assert body["exact"] is False and body["noise_bound"] == BOUND
        cells = {c["keys"]["sex"]: c for c in body["cells"]}
        assert cells["female"]["children"] is None and cells["female"]["suppression"] == "primary"
        # The total and the other cell are published perturbed (no complementary suppression is needed): their
        # difference is 3 plus the difference of two noises, which nobody can tell without the secret.
        assert near(body["total"]["children"], 10) and near(cells["male"]["children"], 7)
        assert cells["male"]["suppression"] is None and body["suppressed_cells"] == 1
        again = await client.get("/v1/stats/summary", params={"group_by": ["sex"]},
                                 headers=as_("steering_viewer", territories=["MA"]))
        assert {k: v for k, v in again.json().items() if k != "as_of"} == {
            k: v for k, v in body.items() if k != "as_of"}

    async def test_two_way_table_leaves_no_line_with_a_single_hidden_cell(self, api, client, as_):
        await load(api, as_, singles(RABAT, "female", 3, 4) + singles(RABAT, "male", 6, 5)
                   + singles(SALE, "female", 6, 6) + singles(SALE, "male", 6, 7) + singles(MARRAKECH, "male", 8, 8))
        r = await client.get("/v1/stats/summary", params={"group_by": ["territory", "sex"]},
                             headers=as_("steering_viewer", territories=["MA"]))
        body = r.json()
        hidden = {(c["keys"]["territory"], c["keys"]["sex"]) for c in body["cells"] if c["suppressed"]}
        assert hidden == {("04.421", "female")}
        assert all(c["children"] is None and c["cases"] is None and c["intakes"] is None
                   for c in body["cells"] if c["suppressed"])
        true = {("04.421", "male"): 6, ("04.441", "female"): 6, ("04.441", "male"): 6, ("07.351", "male"): 8}
        for c in body["cells"]:
            if not c["suppressed"]:
                key = (c["keys"]["territory"], c["keys"]["sex"])
                assert all(near(c[m], true[key]) for m in ("children", "cases", "intakes")), c
        assert near(body["total"]["children"], 29)

    async def test_exact_figures_for_stats_exact(self, api, client, as_):
        await load(api, as_, singles(RABAT, "female", 3, 4) + singles(RABAT, "male", 7, 5))
        r = await client.get("/v1/stats/summary", params={"group_by": ["sex"]},
                             headers=as_("prosecutor", territories=["MA"]))
        assert got(r.json(), "sex") == {("female",): (3, 3, 3), ("male",): (7, 7, 7)}

    async def test_a_small_total_is_suppressed(self, api, client, as_):
        await load(api, as_, singles(RABAT, "female", 2, 4))
        r = await client.get("/v1/stats/summary", headers=as_("steering_viewer", territories=["MA"]))
        assert r.json()["total"] == {"children": None, "cases": None, "intakes": None, "suppressed": True}


class TestProtectedQueries:
    """What a protected answer accepts and how it counts: whole months, territory sets of one level."""

    async def test_the_period_is_widened_to_whole_months(self, api, client, as_):
        await load(api, as_, singles(RABAT, "female", 6, 4) + singles(RABAT, "male", 6, 5))
        viewer = as_("steering_viewer", territories=["MA"])
        narrow = (await client.get("/v1/stats/summary", params={"from": "2020-04-12", "to": "2020-05-11"},
                                   headers=viewer)).json()
        whole = (await client.get("/v1/stats/summary", params={"from": "2020-04-01", "to": "2020-05-31"},
                                  headers=viewer)).json()
        assert narrow["period"] == {"from": "2020-04-01", "to": "2020-05-31"}
        assert narrow["total"] == whole["total"] and near(whole["total"]["children"], 12)
        exact = (await client.get("/v1/stats/summary", params={"from": "2020-04-12", "to": "2020-05-11"},
                                  headers=as_("team_coordinator", territories=["MA"]))).json()
        assert exact["period"] == {"from": "2020-04-12", "to": "2020-05-11"}
        assert exact["total"]["children"] == 6  # April 12-15 and May 10-11: the exact path keeps days

    async def test_the_widest_dates_are_whole_months_too(self, client, as_):
        r = await client.get("/v1/stats/summary", params={"from": "0001-01-31", "to": "9999-12-30"},
                             headers=as_("steering_viewer", territories=["MA"]))
        assert r.status_code == 200, r.text
        assert r.json()["period"] == {"from": "0001-01-01", "to": "9999-12-31"}
        r = await client.get("/v1/stats/summary", params={"from": "9999-12-05", "to": "9999-12-30"},
                             headers=as_("team_coordinator", territories=["MA"]))
        assert r.status_code == 200 and r.json()["total"]["cases"] == 0  # the exact path keeps the days

    async def test_territory_codes_of_two_levels_are_refused(self, client, as_):
        r = await client.get("/v1/stats/summary", params={"territory_code": ["04.421", "04.441.01"]},
                             headers=as_("steering_viewer", territories=["MA"]))
        assert r.status_code == 422 and r.headers["content-type"].startswith("application/problem+json")
        r = await client.get("/v1/stats/indicators", params={"territory_code": ["04", "04.441"]},
                             headers=as_("steering_viewer", territories=["MA"]))
        assert r.status_code == 422
        r = await client.get("/v1/stats/summary", params={"territory_code": ["04.421", "04.441.01"]},
                             headers=as_("team_coordinator", territories=["MA"]))
        assert r.status_code == 200  # exact figures are for callers who may see the cases anyway


class TestTerritoryScope:
    async def test_a_provincial_committee_counts_its_prefecture_only(self, api, client, as_):
        await load(api, as_)
        r = await client.get("/v1/stats/summary", params={"group_by": ["territory"]},
                             headers=as_("team_coordinator", territories=["04.441"]))
        assert got(r.json(), "territory") == {("04.441",): (4, 4, 2)}
        assert r.json()["territories"] == ["04.441"]

    async def test_asking_for_another_prefecture_is_forbidden(self, client, as_):
        r = await client.get("/v1/stats/summary", params={"territory_code": "04.421"},
                             headers=as_("steering_viewer", territories=["04.441"]))
        assert r.status_code == 403
        assert r.headers["content-type"].startswith("application/problem+json")

    async def test_the_nation_can_narrow_to_a_territory(self, api, client, as_):
        await load(api, as_)
        r = await client.get("/v1/stats/summary", params={"territory_code": ["04.421", "07.351"]},
                             headers=as_("team_coordinator", territories=["MA"]))
        assert r.json()["total"]["children"] == 4

    async def test_without_stats_read_is_forbidden(self, client, as_):
        r = await client.get("/v1/stats/summary", headers=as_("case_manager", territories=["MA"]))
        assert r.status_code == 403

    async def test_unknown_dimension_and_inverted_period_are_422(self, client, as_):
        headers = as_("steering_viewer", territories=["MA"])
        assert (await client.get("/v1/stats/summary", params={"group_by": "name"}, headers=headers)
                ).status_code == 422
        assert (await client.get("/v1/stats/summary", params={"from": "2021-01-01", "to": "2020-01-01"},
                                 headers=headers)).status_code == 422


class TestExport:
    async def test_csv_names_columns_and_period_and_is_always_suppressed(self, api, client, as_):
        await load(api, as_, singles(RABAT, "female", 3, 4) + singles(RABAT, "male", 7, 5))
        r = await client.get("/v1/stats/export", params={"group_by": ["sex"], "from": "2020-01-01",
                                                         "to": "2020-12-31"},
                             headers=as_("team_coordinator", territories=["MA"]))  # holds stats:exact
        assert r.status_code == 200, r.text
        assert r.headers["content-type"].startswith("text/csv")
        assert "2020-01-01_2020-12-31" in r.headers["content-disposition"]
        table = list(csv.reader(io.StringIO(r.text)))
        assert table[0] == ["period_from", "period_to", "sex", "children", "cases", "intakes", "suppressed"]
        assert table[1] == ["2020-01-01", "2020-12-31", "female", "", "", "", "primary"]
        assert table[2][:3] == ["2020-01-01", "2020-12-31", "male"] and table[2][6] == ""
        assert all(near(int(v), 7) for v in table[2][3:6])
        assert table[3][:3] == ["2020-01-01", "2020-12-31", "total"] and all(near(int(v), 10) for v in table[3][3:6])
        # The same figures as the protected summary: one method, one noise per set of records.
        summary = (await client.get("/v1/stats/summary", params={"group_by": ["sex"], "from": "2020-01-01",
                                                                   "to": "2020-12-31"},
                                    headers=as_("steering_viewer", territories=["MA"]))).json()
        assert [int(v) for v in table[3][3:6]] == [summary["total"][m] for m in ("children", "cases", "intakes")]

    async def test_a_period_inside_months_is_counted_as_whole_months_in_the_file_name(self, api, client, as_):
        await load(api, as_, singles(RABAT, "female", 6, 4))
        r = await client.get("/v1/stats/export", params={"from": "2020-04-12", "to": "2020-04-13"},
                             headers=as_("steering_viewer", territories=["MA"]))
        assert "2020-04-01_2020-04-30" in r.headers["content-disposition"]
        assert list(csv.reader(io.StringIO(r.text)))[1][:2] == ["2020-04-01", "2020-04-30"]


class TestNoIdentity:
    async def test_a_viewer_never_receives_a_name_or_an_id(self, api, client, as_):
        ids = set()
        for n in range(6):
            intake = await api.intake(as_("case_manager", territories=["MA"]), commune=RABAT,
                                      reported_at=f"2020-05-{n + 1:02d}T10:00:00Z",
                                      children=[child("Quxbertine", "female", age=3),
                                                child("Zorvalian", "male", age=7)])
            ids.add(intake["id"])
            ids.update(intake["adult_ids"])
            for case in intake["cases"]:
                ids.update({case["id"], case["child_id"], case["case_number"]})
        viewer = as_("steering_viewer", territories=["MA"])
        every = ["territory", "sex", "age_band", "status", "exploitation_pattern", "place_type", "night",
                 "nationality", "month", "phase", "source", "case_kind"]
        texts = [(await client.get("/v1/stats/summary", params={"group_by": every}, headers=viewer)).text,
                 (await client.get("/v1/stats/summary", params={"group_by": ["sex"]}, headers=viewer)).text,
                 (await client.get("/v1/stats/export", params={"group_by": every}, headers=viewer)).text,
                 (await client.get("/v1/stats/indicators", headers=viewer)).text]
        for text in texts:
            for secret in ("Quxbertine", "Zorvalian", "Fatima", "Alaoui", "AB123456", *map(str, ids)):
                assert secret not in text
        assert '"female"' in texts[1] and all(near(c["children"], 6) for c in json.loads(texts[1])["cells"])

