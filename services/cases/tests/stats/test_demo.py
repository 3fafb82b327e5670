"""The demo dataset, loaded through the domain code: the pilot summary reproduces the published table."""

from collections import Counter

import pytest
from sqlalchemy.ext.asyncio import AsyncSession

from cases_service.demo.loader import load

PILOT = {"phase": "pilot_2019", "from": "2019-12-01", "to": "2020-12-31"}
BOUND = 2  # docs/statistics.md: a protected count is within 2 of the true count


def near(published, true):
    return published is not None and abs(published - true) <= BOUND


@pytest.fixture(scope="module")
async def loaded(harness):
    """The demo loaded twice in one transaction shared by this module's tests, rolled back after them."""
    async with harness.rolled_back() as conn:
        async with AsyncSession(bind=conn, join_transaction_mode="create_savepoint") as session:
            first = await load(session=session, protector=harness.app.state.protector,
                               reference=harness.app.state.reference)
            again = await load(session=session, protector=harness.app.state.protector,
                               reference=harness.app.state.reference)
            await session.commit()
        async with harness.client() as client:
            yield first, again, client


@pytest.fixture
def demo(loaded):
    return loaded[:2]


@pytest.fixture
def client(loaded):
    return loaded[2]


class TestDemoDataset:
    async def test_loading_twice_does_not_double_it(self, demo, client, as_):
        first, again = demo
        assert first.loaded and first.cases == 709 + first.repeat_cases and not again.loaded
        assert first.repeat_cases == 25 and first.follow_ups > 100
        r = await client.get("/v1/stats/summary", headers=as_("team_coordinator", territories=["MA"]))
        assert r.json()["total"]["cases"] == 709 + 25
        assert r.json()["total"]["children"] == 709

    async def test_pilot_by_sex_over_the_pilot_period_is_142_79_63(self, demo, client, as_):
        # Exact through the exact path (stats:exact: team coordinators and prosecutors).
        r = await client.get("/v1/stats/summary", params={**PILOT, "group_by": "sex"},
                             headers=as_("team_coordinator", territories=["MA"]))
        assert r.status_code == 200, r.text
        body = r.json()
        assert body["exact"] is True and body["total"]["children"] == 142
        assert {c["keys"]["sex"]: c["children"] for c in body["cells"]} == {"female": 79, "male": 63}

    async def test_a_steering_viewer_gets_the_pilot_within_the_noise_bound_always_the_same(self, demo, client, as_):
        viewer = as_("steering_viewer", territories=["MA"])
        body = (await client.get("/v1/stats/summary", params={**PILOT, "group_by": "sex"}, headers=viewer)).json()
        assert body["exact"] is False and body["noise_bound"] == BOUND
        assert body["period"] == {"from": "2019-12-01", "to": "2020-12-31"}  # whole months already
        cells = {c["keys"]["sex"]: c["children"] for c in body["cells"]}
        assert near(body["total"]["children"], 142) and near(cells["female"], 79) and near(cells["male"], 63)
        # The three prefectures named explicitly are the same cases as the phase: the same figures.
        named = (await client.get("/v1/stats/summary", params={
            "from": "2019-12-01", "to": "2020-12-31", "group_by": "sex",
            "territory_code": ["04.421", "04.441", "04.501"]}, headers=viewer)).json()
        assert named["cells"] == body["cells"] and named["total"] == body["total"]

    async def test_the_three_pilot_prefectures_named_explicitly_give_the_same(self, demo, client, as_):
        r = await client.get("/v1/stats/summary", params={
            "from": "2019-12-01", "to": "2020-12-31", "group_by": "sex",
            "territory_code": ["04.421", "04.441", "04.501"]}, headers=as_("prosecutor", territories=["MA"]))
        assert [c["children"] for c in r.json()["cells"]] == [79, 63]

    async def test_pilot_age_nationality_and_adults_as_published(self, demo, client, as_):
        exact = as_("team_coordinator", territories=["MA"])
        ages = (await client.get("/v1/stats/summary", params={**PILOT, "group_by": "age_band"}, headers=exact)).json()
        by_band = {c["keys"]["age_band"]: c["children"] for c in ages["cells"]}
        assert by_band["under_1"] == 38 and by_band["under_1"] + by_band["1_4"] == 94  # 27% and 66% of 142
        nat = (await client.get("/v1/stats/summary", params={**PILOT, "group_by": "nationality"},
                                headers=exact)).json()
        assert sum(c["children"] for c in nat["cells"] if c["keys"]["nationality"] != "MA") == 13
        ind = (await client.get("/v1/stats/indicators", params=PILOT, headers=exact)).json()
        by_name = {i["name"]: i for i in ind["indicators"]}
        adults = Counter({r["keys"]["key"]: r["values"]["count"] for r in by_name["adults_by_relationship"]["rows"]})
        assert adults == {"mother": 97, "grandparent": 2, "other_relative": 1}
        mothers = by_name["mothers_with_several_children"]["rows"][0]["values"]
        assert mothers == {"mothers": 97, "with_several_children": 17}
        decisions = {r["keys"]["key"]: r["values"] for r in by_name["prosecutor_decisions"]["rows"]}
        assert decisions["prosecute_adult"]["adults"] == 71  # "71 adults prosecuted"

    async def test_marrakech_phase_two_as_published(self, demo, client, as_):
        r = await client.get("/v1/stats/summary", params={
            "territory_code": "07.351", "from": "2021-06-01", "to": "2022-04-30", "group_by": "sex"},
            headers=as_("steering_viewer", territories=["MA"]))
        assert near(r.json()["total"]["children"], 369)
        assert near({c["keys"]["sex"]: c["children"] for c in r.json()["cells"]}["male"], 241)
        r = await client.get("/v1/stats/summary", params={
            "territory_code": "07.351", "from": "2021-06-01", "to": "2022-04-30", "group_by": "sex"},
            headers=as_("team_coordinator", territories=["MA"]))
        assert r.json()["total"]["children"] == 369
        assert {c["keys"]["sex"]: c["children"] for c in r.json()["cells"]}["male"] == 241


def indicators(body):
    return {i["name"]: i["rows"] for i in body["indicators"]}


class TestDemoStory:
    """The demo's events carry the story's dates: delays are positive, repeat cases and visits exist."""

    async def test_referral_to_decision_takes_days_not_negative_years(self, demo, client, as_):
        r = await client.get("/v1/stats/indicators", params=PILOT, headers=as_("team_coordinator",
                                                                                territories=["MA"]))
        ind = indicators(r.json())
        delay = ind["referral_to_decision_days"][0]["values"]
        assert delay["n"] > 50 and 2 <= delay["median_days"] <= 14
        steps = {(row["keys"]["from_status"], row["keys"]["to_status"]): row["values"]
                 for row in ind["step_delays"]}
        assert {("reported", "screened"), ("screened", "referred_to_prosecution"),
                ("interim_measure", "under_assessment"), ("under_assessment", "in_care")} <= set(steps)
        assert all(v["median_days"] is not None and v["median_days"] >= 0 for v in steps.values())
        assert 0 < steps[("reported", "screened")]["median_days"] < 1

    async def test_children_met_again_after_closure_make_recidivism_non_zero(self, demo, client, as_):
        exact = as_("team_coordinator", territories=["MA"])
        r = await client.get("/v1/stats/indicators", headers=exact)
        recidivism = indicators(r.json())["recidivism"][0]["values"]
        # 25 children met again; a few of them more than a year after their first encounter.
        assert 20 <= recidivism["repeat_12m"] <= 25 and 0 < recidivism["repeat_6m"] < recidivism["repeat_12m"]
        kinds = (await client.get("/v1/stats/summary", params={"group_by": "case_kind"}, headers=exact)).json()
        assert {c["keys"]["case_kind"]: c["cases"] for c in kinds["cells"]}["repeat"] == 25

    async def test_children_in_care_were_visited(self, demo, client, as_):
        r = await client.get("/v1/stats/indicators", params={"from": "2021-06-01", "to": "2022-04-30",
                                                             "territory_code": "07.351"},
                             headers=as_("team_coordinator", territories=["MA"]))
        coverage = indicators(r.json())["follow_up_coverage"][0]["values"]
        assert coverage["active"] > 0 and 0 < coverage["visited"] <= coverage["active"]
