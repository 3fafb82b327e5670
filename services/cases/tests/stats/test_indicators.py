"""GET /v1/stats/indicators on a hand-built dataset: each figure equals its definition in docs/statistics.md."""

import csv
import uuid
from datetime import UTC, datetime, timedelta
from pathlib import Path

from cases_service.stats import service as domain
from cases_service.stats.suppression import NOISE_BOUND, PTABLE, THRESHOLD, Cell, Perturbation, cell_key, suppress

IDENTITY_TERRITORIES = (Path(__file__).resolve().parents[4] / "services/identity/src/identity_service/data"
                        / "territories.csv")


async def six_cases_with_referrals(api, as_):
    """Six single-child intakes in Rabat (2020), each screened and referred to the prosecution, with decisions
    2, 4, 6, 8, 10 and 12 days after the referral arrived: 3 return to family, 3 emergency placements."""
    manager = as_("case_manager", territories=["MA"])
    prosecution = uuid.uuid4()
    cases = []
    for n in range(6):
        intake = await api.intake(manager, reported_at=f"2020-06-{n + 1:02d}T10:00:00Z",
                                  children=[{"first_name": f"Qux{n}", "sex": "female", "estimated_age_years": 3}],
                                  adults=[{"first_name": f"Vyx{n}", "sex": "female", "claimed_relationship": "mother"}])
        case_id = intake["cases"][0]["id"]
        assert (await api.move(case_id, "screened", manager)).status_code == 200
        referral = uuid.uuid4()
        assert (await api.event("referral.sent", case_id, org=prosecution, referral_id=referral,
                                data={"kind": "prosecution"})).status_code == 200
        decided_at = datetime.now(UTC) + timedelta(days=2 * (n + 1))
        decision = "return_to_family" if n < 3 else "emergency_placement"
        assert (await api.event("referral.decision_recorded", case_id, org=prosecution, referral_id=referral,
                                data={"type": decision, "concerns": "child",
                                      "decided_at": decided_at.isoformat()})).status_code == 200
        cases.append((case_id, intake["adult_ids"][0]))
    return cases


def by_name(body):
    return {i["name"]: i["rows"] for i in body["indicators"]}


class TestIndicators:
    async def test_decisions_delays_and_family_or_placement(self, api, client, as_):
        await six_cases_with_referrals(api, as_)
        r = await client.get("/v1/stats/indicators", params={"from": "2020-01-01", "to": "2020-12-31"},
                             headers=as_("team_coordinator", territories=["MA"]))
        assert r.status_code == 200, r.text
        ind = by_name(r.json())
        assert ind["prosecution_referrals"][0]["values"] == {"referrals": 6, "cases": 6}
        decisions = {row["keys"]["key"]: row["values"] for row in ind["prosecutor_decisions"]}
        assert decisions == {"return_to_family": {"count": 3, "cases": 3, "adults": 0},
                             "emergency_placement": {"count": 3, "cases": 3, "adults": 0}}
        delay = ind["referral_to_decision_days"][0]["values"]
        assert delay["n"] == 6 and 6.9 <= delay["median_days"] <= 7.1  # median of 2, 4, ..., 12 days
        assert ind["family_or_placement"][0]["values"] == {"return_to_family": 3, "placement_ordered": 3,
                                                           "placed_in_eps": 0}
        steps = {(row["keys"]["from_status"], row["keys"]["to_status"]): row["values"]["n"]
                 for row in ind["step_delays"]}
        assert steps[("reported", "screened")] == 6
        assert steps[("screened", "referred_to_prosecution")] == 6
        assert steps[("referred_to_prosecution", "interim_measure")] == 6
        assert ind["adults_by_relationship"] == [{"keys": {"key": "mother"}, "values": {"count": 6},
                                                  "suppressed": False, "suppression": None}]

    async def test_services_filiation_and_follow_up_coverage(self, api, client, as_):
        cases = await six_cases_with_referrals(api, as_)
        manager = as_("case_manager", territories=["MA"])
        for n, (case_id, adult_id) in enumerate(cases):
            for beneficiary, status in (("child", "completed" if n < 4 else "proposed"), ("mother", "proposed")):
                r = await client.post(f"/v1/cases/{case_id}/services", headers=manager, json={
                    "beneficiary": beneficiary, "service_type": "medical" if beneficiary == "child"
                    else "social_programme", "status": status})
                assert r.status_code == 201, r.text
            r = await client.post(f"/v1/cases/{case_id}/filiation-checks", headers=manager, json={
                "adult_id": adult_id, "claimed_relationship": "mother", "methods": ["documents"],
                "result": "confirmed" if n else "excluded"})
            assert r.status_code == 201, r.text
        exact = (await client.get("/v1/stats/indicators", headers=as_("team_coordinator", territories=["MA"])))
        ind = by_name(exact.json())
        services = {row["keys"]["key"]: row["values"] for row in ind["services"]}
        assert services == {"child": {"proposed": 6, "completed": 4}, "mother": {"proposed": 6, "completed": 0}}
        filiation = {row["keys"]["key"]: row["values"]["count"] for row in ind["filiation_results"]}
        assert filiation == {"confirmed": 5, "excluded": 1}
        # No case is in care yet: nothing to cover.
        assert ind["follow_up_coverage"][0]["values"] == {"active": 0, "visited": 0}
        viewer = by_name((await client.get("/v1/stats/indicators",
                                           headers=as_("steering_viewer", territories=["MA"]))).json())
        hidden = {row["keys"]["key"]: row for row in viewer["filiation_results"]}
        assert hidden["excluded"]["values"]["count"] is None and hidden["excluded"]["suppression"] == "primary"
        # 5 confirmed is published perturbed: 6 - it does not give the excluded one away.
        assert abs(hidden["confirmed"]["values"]["count"] - 5) <= NOISE_BOUND
        assert {row["keys"]["key"]: row["values"] for row in viewer["services"]}["child"] == {
            "proposed": None, "completed": None}  # 4 completed is small
        mother = {row["keys"]["key"]: row["values"] for row in viewer["services"]}["mother"]
        assert abs(mother["proposed"] - 6) <= NOISE_BOUND and mother["completed"] == 0  # zero stays zero

    async def test_same_contributing_cases_same_noise_whatever_else_is_in_scope(self, api, client, as_):
        """A row's noise is keyed by the cases behind it: adding cases that do not contribute to it (padding
        the scope with another prefecture) returns the same figure, so padding cannot average the noise."""
        await six_cases_with_referrals(api, as_)
        manager = as_("case_manager", territories=["MA"])
        for n in range(3):
            await api.intake(manager, commune="04.441.01", reported_at=f"2020-06-{n + 1:02d}T10:00:00Z",
                             children=[{"first_name": f"Pad{n}", "sex": "male", "estimated_age_years": 6}], adults=[])
        viewer = as_("steering_viewer", territories=["MA"])
        alone, padded = [by_name((await client.get("/v1/stats/indicators", params={"territory_code": codes},
                                                   headers=viewer)).json())
                         for codes in (["04.421"], ["04.421", "04.441"])]
        for name in ("prosecution_referrals", "prosecutor_decisions", "adults_by_relationship", "step_delays"):
            assert alone[name] == padded[name], name
        referrals = alone["prosecution_referrals"][0]["values"]
        assert abs(referrals["referrals"] - 6) <= NOISE_BOUND and abs(referrals["cases"] - 6) <= NOISE_BOUND

    async def test_a_provincial_committee_sees_no_other_prefecture(self, api, client, as_):
        await six_cases_with_referrals(api, as_)
        r = await client.get("/v1/stats/indicators", headers=as_("team_coordinator", territories=["04.441"]))
        assert by_name(r.json())["prosecution_referrals"][0]["values"] == {"referrals": 0, "cases": 0}


class TestSuppressionRule:
    def test_only_small_cells_are_suppressed(self):
        cells = [Cell(keys=(a, b, c), counts={"cases": 3 if (a, b, c) == ("x", "y", "z") else 7})
                 for a in "xw" for b in "yv" for c in "zu"]
        suppress(cells)
        assert [c.keys for c in cells if c.suppressed] == [("x", "y", "z")]

    def test_zero_is_not_small_and_five_is_not_small(self):
        cells = [Cell(keys=("a",), counts={"cases": 5, "children": 0}), Cell(keys=("b",), counts={"cases": 9})]
        suppress(cells)
        assert not any(c.suppressed for c in cells)


class TestCellKeyPerturbation:
    """The perturbation table and its lookup (docs/statistics.md, "Disclosure control")."""

    noise = Perturbation(b"unit-test-perturbation-secret")

    def test_the_table_is_unbiased_bounded_and_keeps_counts_positive(self):
        total = sum(w for _, w in PTABLE)
        assert sum(n * w for n, w in PTABLE) == 0 and NOISE_BOUND == 2
        draws = [self.noise.noise("children", key) for key in range(20_000)]
        for n, w in PTABLE:  # each noise drawn about as often as its weight says
            assert abs(draws.count(n) / len(draws) - w / total) < 0.02
        published = {v: {self.noise.count(v, "cases", key) for key in range(300)} for v in range(THRESHOLD, 12)}
        assert all(min(p) >= THRESHOLD and all(abs(x - v) <= NOISE_BOUND for x in p) for v, p in published.items())
        # No published value gives its true count away: 5 may come from 5, 6 or 7.
        assert all(len([v for v, p in published.items() if x in p]) > 1 for x in range(THRESHOLD, 10))

    def test_consistent_keyed_and_zero_stays_zero(self):
        assert [self.noise.count(40, "children", k) for k in range(50)] == [
            self.noise.count(40, "children", k) for k in range(50)]
        assert cell_key(-5) == cell_key(2**32 - 5) and self.noise.noise("x", -5) == self.noise.noise("x", 2**32 - 5)
        other = Perturbation(b"another-secret")
        assert [self.noise.noise("children", k) for k in range(50)] != [other.noise("children", k) for k in range(50)]
        # The measures of one cell get independent noises.
        assert [self.noise.noise("children", k) for k in range(50)] != [self.noise.noise("cases", k) for k in range(50)]
        assert self.noise.count(0, "children", 12345) == 0


class TestPhases:
    def test_phases_match_identity_territories(self):
        with IDENTITY_TERRITORIES.open(encoding="utf-8") as f:
            theirs = {row["code"]: row["phase"] for row in csv.DictReader(f)
                      if row["level"] == "prefecture" and row["phase"]}
        assert domain.phases() == theirs
