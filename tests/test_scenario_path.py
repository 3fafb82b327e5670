"""The child's whole path through the four real processes, through the gateway only, a token per actor.

The main story: a field team in Marrakech meets a woman with two children at night; the duplicate check
finds one of them, seen before in Rabat (Latin script there, Arabic here); the police refers to the
prosecution office, whose system polls, acknowledges and orders a DNA expertise and an emergency placement;
the filiation check comes back excluded; the prosecutor orders prosecution of the adult; the case manager
assesses, plans (validated by the coordinator), delivers services, follows up, and the coordinator closes;
the steering viewer sees the counts move and no names; the auditor sees who read the child's record.
Also a Rabat case carried to closed by a case manager, every step on the timeline, and the prosecution loop
with a machine client (the office reads the case only while the referral is open). Events travel through
the real outbox, so effects are awaited, never timed.
"""

from __future__ import annotations

import uuid
from datetime import UTC, date, datetime, timedelta
from typing import Any

import httpx
import pytest
from authz.provision import (
    MARRAKECH,
    MARRAKECH_COMMUNE,
    NATIONAL,
    PARTNER_SCOPES,
    RABAT,
    RABAT_COMMUNE,
    Actor,
    Directory,
    expect,
    wait_for,
)

pytestmark = pytest.mark.stack

NEXT_WEEK = (date.today() + timedelta(days=7)).isoformat()
NAMES = ("Mohamed", "Alaoui", "محمد", "العلوي", "سلمى", "Fatima", "فاطمة", "Yassine", "Bennani")
PATH = [("reported", "screened"), ("screened", "referred_to_prosecution"),
        ("referred_to_prosecution", "interim_measure"), ("interim_measure", "under_assessment"),
        ("under_assessment", "in_care"), ("in_care", "follow_up"), ("follow_up", "closed")]


def now_iso(minutes: int = 0) -> str:
    """An RFC 3339 time `minutes` from now (decisions may not be dated in the future)."""
    return (datetime.now(UTC) + timedelta(minutes=minutes)).isoformat()


class Gateway:
    """The actors' calls, all through the gateway."""

    def __init__(self, client: httpx.Client) -> None:
        self.client = client

    def get(self, actor: Actor, path: str, *codes: int, **params: Any) -> Any:
        return expect(self.client.get(path, headers=actor.headers, params=params or None), *(codes or (200,)))

    def post(self, actor: Actor, path: str, body: dict[str, Any] | None = None, *codes: int,
             headers: dict[str, str] | None = None) -> Any:
        return expect(self.client.post(path, json=body if body is not None else {},
                                       headers={**actor.headers, **(headers or {})}), *(codes or (200, 201)))

    def patch(self, actor: Actor, path: str, body: dict[str, Any], etag: str) -> httpx.Response:
        response = self.client.patch(path, json=body, headers={**actor.headers, "If-Match": etag})
        expect(response, 200)
        return response

    def case(self, actor: Actor, case_id: str) -> httpx.Response:
        return self.client.get(f"/v1/cases/{case_id}", headers=actor.headers)

    def move(self, actor: Actor, case_id: str, to: str, reason: str | None = None) -> Any:
        body = {"to": to} | ({"reason": reason} if reason else {})
        return self.post(actor, f"/v1/cases/{case_id}/transitions", body, 200)

    def status_becomes(self, actor: Actor, case_id: str, status: str) -> dict[str, Any]:
        def check() -> dict[str, Any] | None:
            response = self.case(actor, case_id)
            return response.json() if response.status_code == 200 and response.json()["status"] == status else None
        return wait_for(check, what=f"case {case_id} to become {status}")

    def timeline(self, actor: Actor, case_id: str) -> list[dict[str, Any]]:
        items: list[dict[str, Any]] = []
        cursor = None
        while True:
            page = self.get(actor, f"/v1/cases/{case_id}/timeline", limit=200, **({"cursor": cursor} if cursor else {}))
            items += page["items"]
            cursor = page["next_cursor"]
            if not cursor:
                return items

    def decide(self, actor: Actor, referral_id: str, body: dict[str, Any]) -> Any:
        return self.post(actor, f"/v1/referrals/{referral_id}/decisions", body, 201,
                         headers={"Idempotency-Key": f"decision-{uuid.uuid4()}"})

    def summary(self, actor: Actor) -> dict[str, Any]:
        return self.get(actor, "/v1/stats/summary", territory_code=MARRAKECH)


def casework_to_closed(gw: Gateway, *, case_id: str, cm: Actor, coordinator: Actor, services: list[dict[str, Any]],
                       lift: Any) -> None:
    """The case manager's part of the path from interim_measure, and the coordinator's closure.

    `lift` records the prosecutor's decision that lifts the lasting measures before the case can close.
    """
    read = gw.case(cm, case_id)
    gw.patch(cm, f"/v1/cases/{case_id}", {"case_manager_id": str(cm.subject_id), "risk_level": "high"},
             read.headers["etag"])
    gw.move(cm, case_id, "under_assessment")
    enquiry = gw.post(cm, f"/v1/cases/{case_id}/assessments",
                      {"type": "social_enquiry", "summary": "Home visit; household of five in a rented room."}, 201)
    gw.post(cm, f"/v1/cases/{case_id}/assessments/{enquiry['id']}/complete", None, 200)
    plan = gw.post(cm, f"/v1/cases/{case_id}/care-plans",
                   {"objectives": "School enrolment, health check, mother to a social programme."}, 201)
    refused = gw.client.post(f"/v1/cases/{case_id}/transitions", json={"to": "in_care"}, headers=cm.headers)
    assert refused.status_code == 409 and refused.json()["code"] == "transition_not_allowed"
    assert "care plan" in refused.json()["detail"]
    assert gw.client.post(f"/v1/cases/{case_id}/care-plans/{plan['id']}/validate",
                          headers=cm.headers).status_code == 403
    validated = gw.post(coordinator, f"/v1/cases/{case_id}/care-plans/{plan['id']}/validate", None, 200)
    assert validated["status"] == "validated"
    gw.move(cm, case_id, "in_care")
    for service in services:
        created = gw.client.post(f"/v1/cases/{case_id}/services", json=service, headers=cm.headers)
        expect(created, 201)
        gw.patch(cm, f"/v1/cases/{case_id}/services/{created.json()['id']}", {"status": "completed"},
                 created.headers["etag"])
    gw.post(cm, f"/v1/cases/{case_id}/follow-ups", {
        "visited_at": now_iso(-60), "child_seen": True, "attending_school": True, "begging_observed": False,
        "next_visit_due": NEXT_WEEK}, 201)
    gw.move(cm, case_id, "follow_up")
    refused = gw.client.post(f"/v1/cases/{case_id}/transitions", json={"to": "closed", "reason": "stable"},
                             headers=cm.headers)
    assert refused.status_code == 409, "only the team coordinator closes"
    lift()
    wait_for(lambda: not [m for m in gw.get(cm, f"/v1/cases/{case_id}/judicial-measures") if m["active"]],
             what="the lasting measures to be lifted")
    closed = gw.move(coordinator, case_id, "closed", reason="Child at school, family supported, no begging seen")
    assert closed["status"] == "closed"


# ---- the Marrakech story -------------------------------------------------------------------------------

@pytest.fixture(scope="module")
def cast(directory: Directory) -> dict[str, Actor]:
    """Everyone who acts in the story, each with its own organisation, role, territories and token."""
    d = directory
    d.organization("police-marrakech", type_="police", territory=MARRAKECH)
    d.organization("cape-rabat", type_="cape", territory=RABAT)
    d.organization("cape-marrakech", type_="cape", territory=MARRAKECH)
    d.organization("prosecution-marrakech", type_="prosecution_office", territory=MARRAKECH, court_code="TPI-MRK")
    d.organization("prosecution-rabat", type_="prosecution_office", territory=RABAT, court_code="TPI-RAB")
    d.organization("eps-marrakech", type_="eps", territory=MARRAKECH)
    d.organization("education-marrakech", type_="education", territory=MARRAKECH)
    d.organization("health-marrakech", type_="health", territory=MARRAKECH)
    d.organization("ministry", type_="ministry", territory=NATIONAL)
    return {
        "police": d.user("police@story", role="police_officer", org="police-marrakech", territories=[MARRAKECH]),
        "cm_rabat": d.user("cm-rabat@story", role="case_manager", org="cape-rabat", territories=[RABAT]),
        "coord_rabat": d.user("coord-rabat@story", role="team_coordinator", org="cape-rabat", territories=[RABAT]),
        "cm": d.user("cm@story", role="case_manager", org="cape-marrakech", territories=[MARRAKECH]),
        "coordinator": d.user("coord@story", role="team_coordinator", org="cape-marrakech", territories=[MARRAKECH]),
        "prosecutor": d.user("prosecutor@story", role="prosecutor", org="prosecution-marrakech",
                             territories=[MARRAKECH]),
        "prosecutor_rabat": d.user("prosecutor-rabat@story", role="prosecutor", org="prosecution-rabat",
                                   territories=[RABAT]),
        # The office's system reads back the decisions it records, those about the adult included.
        "prosecution_system": d.client("prosecution-system@story", org="prosecution-marrakech",
                                       territories=[MARRAKECH], scopes=[*PARTNER_SCOPES, "offences:read"]),
        "steering": d.user("steering@story", role="steering_viewer", org="ministry", territories=[MARRAKECH]),
        "auditor": d.user("auditor@story", role="auditor", org="ministry", territories=[NATIONAL]),
    }


@pytest.fixture(scope="module")
def story(directory: Directory, cast: dict[str, Actor]) -> dict[str, Any]:
    """The whole Marrakech story, step by step; what each actor saw is kept for the tests below."""
    gateway = directory.gateway
    gw, c, seen = Gateway(gateway), cast, {}
    police, cm, coordinator = c["police"], c["cm"], c["coordinator"]
    system, prosecutor = c["prosecution_system"], c["prosecutor"]

    # Earlier, in Rabat: a boy met with his mother, names in Latin script; screened, then closed as not in scope.
    rabat = gw.post(c["cm_rabat"], "/v1/intakes", {
        "reported_at": now_iso(-60 * 24 * 90), "source": "citizen", "commune_code": RABAT_COMMUNE,
        "place_type": "market", "night": False, "exploitation_pattern": "selling_as_cover",
        "narrative": "Selling tissues with his mother near the market.",
        "children": [{"first_name": "Mohamed", "last_name": "Alaoui", "sex": "male", "estimated_age_years": 6}],
        "adults": [{"first_name": "Fatima", "last_name": "Alaoui", "sex": "female", "age": 33,
                    "claimed_relationship": "mother"}]}, 201)
    seen["rabat_case"] = rabat_case = rabat["cases"][0]["id"]
    gw.move(c["cm_rabat"], rabat_case, "screened")
    gw.move(c["cm_rabat"], rabat_case, "closed_not_in_scope", reason="Selling with his mother; no begging observed")

    # Other suites of the session may have counted children in Marrakech already: the story's figures are what
    # it adds to this baseline (exact, through the coordinator).
    seen["stats_baseline"] = gw.summary(coordinator)["total"]
    # Background activity in Marrakech, so the steering committee's figures are above the suppression threshold.
    for children in (1, 1, 1, 1, 1):
        gw.post(cm, "/v1/intakes", {
            "reported_at": now_iso(-60 * 24 * 10), "source": "hotline_2511", "commune_code": MARRAKECH_COMMUNE,
            "place_type": "traffic_light", "night": False, "exploitation_pattern": "with_adult",
            "children": [{"description": f"Child {i + 1} of a woman at the lights", "sex": "female",
                          "estimated_age_years": 3 + i} for i in range(children)], "adults": []}, 201)
    # Exact figures through a coordinator (stats:exact); the steering viewer's are perturbed (docs/statistics.md).
    seen["stats_before"] = wait_for(
        lambda: (s := gw.summary(coordinator))["total"]["children"] >= seen["stats_baseline"]["children"] + 5 and s,
        what="the figures to count the background intakes")
    seen["steering_before"] = gw.summary(c["steering"])

    # The Marrakech field team goes out at night.
    team = gw.post(coordinator, "/v1/field-teams", {
        "territory_code": MARRAKECH, "name": f"Marrakech night team {directory.tag}",
        "members": [str(police.subject_id), str(cm.subject_id)]}, 201)
    outing = gw.post(police, "/v1/outings", {
        "field_team_id": team["id"], "started_at": now_iso(-180), "ended_at": now_iso(-60),
        "commune_code": MARRAKECH_COMMUNE, "members_present": [str(police.subject_id), str(cm.subject_id)]}, 201)

    # The duplicate check, in Arabic script, finds the boy recorded in Latin script in Rabat: a case the
    # Marrakech officer may not see, so it is shown without name, exact age or case id.
    seen["candidates"] = gw.get(police, "/v1/children", q="محمد العلوي", sex="male", age=6)
    intake = gw.post(police, "/v1/intakes", {
        "reported_at": now_iso(-120), "source": "field_patrol", "commune_code": MARRAKECH_COMMUNE,
        "outing_id": outing["id"], "place_type": "tourist_site", "night": True, "exploitation_pattern": "with_adult",
        "narrative": "A woman begging with two young children near Jemaa el-Fna after midnight.",
        "children": [{"first_name_ar": "محمد", "last_name_ar": "العلوي", "sex": "male", "estimated_age_years": 6,
                      "risk_level": "high"},
                     {"first_name_ar": "سلمى", "last_name_ar": "العلوي", "sex": "female", "estimated_age_years": 2}],
        "adults": [{"first_name_ar": "فاطمة", "last_name_ar": "العلوي", "sex": "female", "age": 34,
                    "cnie": "EE445566", "claimed_relationship": "mother", "suspected_offender": True}]}, 201)
    seen["intake"] = intake
    case = intake["cases"][0]
    seen["case_id"] = case_id = case["id"]
    adult_id = intake["adult_ids"][0]
    # The officer reviews the candidate: the same boy. The Rabat child is not the officer's to see, so this is a
    # request to Rabat; the Rabat case manager accepts it, the older record survives and the cases are linked.
    seen["request"] = gw.post(police, f"/v1/children/{case['child_id']}/duplicate-reviews", {
        "other_child_id": seen["candidates"][0]["child_id"], "decision": "same",
        "note": "Same boy: same mother's name and age, seen in Rabat last spring."}, 201)
    seen["review"] = gw.post(c["cm_rabat"], f"/v1/child-merge-requests/{seen['request']['merge_request_id']}/decision",
                             {"decision": "accept"}, 200)
    seen["after_review"] = gw.case(police, case_id).json()
    seen["child_after_review"] = gw.get(police, f"/v1/children/{case['child_id']}")

    # The police officer screens and refers to the prosecution office.
    gw.move(police, case_id, "screened")
    offices = gw.get(police, "/v1/organizations", type="prosecution_office", limit=200)["items"]
    office = next(o for o in offices if o["id"] == str(system.organization_id))
    referral = gw.post(police, "/v1/referrals", {
        "case_id": case_id, "target_organization_id": office["id"], "kind": "prosecution", "urgency": "urgent",
        "reason": "Two young children begging at night with a woman whose filiation is unproven; PV 2026/118."},
                       201)
    seen["referral_id"] = referral_id = referral["id"]
    gw.status_becomes(police, case_id, "referred_to_prosecution")

    # The prosecution's system polls its incoming referrals, acknowledges, and orders.
    def polled() -> list[dict[str, Any]]:
        page = gw.get(system, "/v1/referrals", direction="incoming", limit=50)
        return [r for r in page["items"] if r["id"] == referral_id]
    seen["polled"] = wait_for(polled, what="the referral in the prosecution's incoming list")[0]
    seen["case_read_by_office_while_open"] = gw.case(system, case_id).status_code
    gw.post(system, f"/v1/referrals/{referral_id}/acknowledge", {"external_reference": "PR-MRK-2026-0042"}, 200)
    dna = gw.decide(system, referral_id, {"type": "dna_expertise_order", "concerns": "child",
                                          "legal_basis": "Art. 327 Penal Code", "decided_at": now_iso(-5)})
    placement_order = gw.decide(system, referral_id, {"type": "emergency_placement", "concerns": "child",
                                                      "decided_at": now_iso(-4)})
    seen["decisions"] = [dna["id"], placement_order["id"]]
    seen["after_decisions"] = gw.status_becomes(cm, case_id, "interim_measure")

    # The emergency placement in a Marrakech EPS, under the prosecutor's order.
    institution = gw.post(cm, "/v1/institutions", {
        "organization_id": str(directory.organizations["eps-marrakech"]["id"]), "name": "EPS Marrakech Daoudiate",
        "prefecture_code": MARRAKECH, "places": 40, "emergency_vacancies": 2}, 201)
    measures = wait_for(lambda: [m for m in gw.get(cm, f"/v1/cases/{case_id}/judicial-measures")
                                 if m["decision_type"] == "emergency_placement"], what="the placement order")
    placement = gw.post(cm, f"/v1/cases/{case_id}/placements", {
        "institution_id": institution["id"], "order_measure_id": measures[0]["id"], "started_at": now_iso(-3)}, 201)

    # The filiation check under the DNA order comes back excluded.
    check = gateway.post(f"/v1/cases/{case_id}/filiation-checks", headers=police.headers, json={
        "adult_id": adult_id, "claimed_relationship": "mother", "methods": ["documents", "dna_expertise"],
        "dna_order_reference": "PR-MRK-2026-0042"})
    expect(check, 201)
    gw.patch(police, f"/v1/cases/{case_id}/filiation-checks/{check.json()['id']}",
             {"result": "excluded", "notes": "Laboratory report: maternity excluded."}, check.headers["etag"])
    seen["filiation_for_cm"] = gw.get(cm, f"/v1/cases/{case_id}/filiation-checks")
    seen["filiation_for_police"] = gw.get(police, f"/v1/cases/{case_id}/filiation-checks")

    # The prosecutor orders the prosecution of the adult.
    prosecute = gw.decide(prosecutor, referral_id, {"type": "prosecute_adult", "concerns": "adult",
                                                    "adult_id": adult_id, "legal_basis": "Art. 327 Penal Code",
                                                    "decided_at": now_iso(-2)})
    seen["decisions"].append(prosecute["id"])
    wait_for(lambda: len([e for e in gw.timeline(police, case_id)
                          if e["event_type"] == "referral.decision_recorded"]) == 3, what="the third decision")
    seen["adults_for_police"] = gw.get(police, f"/v1/cases/{case_id}/adults")
    seen["adults_for_cm"] = gw.get(cm, f"/v1/cases/{case_id}/adults")
    seen["measures_for_cm"] = gw.get(cm, f"/v1/cases/{case_id}/judicial-measures")

    def lift() -> None:
        # The child's own family was traced in Rabat: the prosecutor returns him home, lifting the placement,
        # the placement ends, and the prosecution closes its referral.
        gw.decide(prosecutor, referral_id, {"type": "return_to_family", "concerns": "child",
                                            "decided_at": now_iso(-1)})
        gw.post(cm, f"/v1/cases/{case_id}/placements/{placement['id']}/end", None, 200)
        gw.post(system, f"/v1/referrals/{referral_id}/close",
                {"outcome": "Child returned to his family; the adult prosecuted."}, 200)

    casework_to_closed(gw, case_id=case_id, cm=cm, coordinator=coordinator, lift=lift, services=[
        {"beneficiary": "child", "service_type": "school_enrolment",
         "provider_organization_id": str(directory.organizations["education-marrakech"]["id"])},
        {"beneficiary": "child", "service_type": "medical",
         "provider_organization_id": str(directory.organizations["health-marrakech"]["id"])},
        {"beneficiary": "mother", "service_type": "social_programme"},
        {"beneficiary": "mother", "service_type": "income_generating_activity"}])
    seen["case_read_by_office_after_close"] = wait_for(
        lambda: (code := gw.case(system, case_id).status_code) == 404 and code, what="the office's access to end")
    seen["case_read_by_prosecutor_after_close"] = gw.case(prosecutor, case_id).status_code
    seen["referral"] = gw.get(system, f"/v1/referrals/{referral_id}")
    seen["timeline"] = gw.timeline(coordinator, case_id)
    seen["timeline_police"] = gw.timeline(police, case_id)
    seen["final"] = gw.case(coordinator, case_id).json()

    before = seen["stats_before"]["total"]
    seen["stats_after"] = wait_for(lambda: (s := gw.summary(coordinator))["total"]["cases"] != before["cases"]
                                   and s, what="the figures to count the night intake")
    seen["steering_after"] = gw.summary(c["steering"])
    raw = []
    for params in ({}, {"group_by": ["sex", "age_band"], "age_scheme": "marrakech"}, {"group_by": ["status"]}):
        for path in ("/v1/stats/summary", "/v1/stats/indicators", "/v1/stats/export"):
            response = gateway.get(path, params={"territory_code": MARRAKECH, **params}, headers=c["steering"].headers)
            expect(response, 200)
            raw.append(response.text)
    seen["steering_raw"] = raw
    seen["steering_case"] = gw.case(c["steering"], case_id).status_code
    seen["steering_children"] = gateway.get("/v1/children", params={"q": "محمد"},
                                            headers=c["steering"].headers).status_code
    return seen


class TestDuplicateCheck:
    def test_the_arabic_search_finds_the_boy_recorded_in_latin_script_in_rabat_without_naming_him(self, story):
        candidate = story["candidates"][0]
        assert candidate["view"] == "minimal" and candidate["sex"] == "male"
        assert [c["prefecture_code"] for c in candidate["cases"]] == [RABAT]
        assert candidate["cases"][0]["case_number"].startswith("RAB-")
        assert "names" not in candidate and "case_ids" not in candidate and story["rabat_case"] not in str(candidate)
        assert not [name for name in NAMES if name in str(candidate)]

    def test_the_intake_proposes_the_rabat_boy_as_a_duplicate(self, story):
        proposed = story["intake"]["cases"][0]["duplicate_candidates"]
        assert story["candidates"][0]["child_id"] in [c["child_id"] for c in proposed]

    def test_the_review_links_the_night_encounter_to_the_rabat_case_once_rabat_accepts(self, story):
        assert story["request"]["outcome"] == "merge_requested" and story["request"]["survivor_child_id"] is None
        review = story["review"]
        assert review["status"] == "accepted"
        assert review["survivor_child_id"] == story["candidates"][0]["child_id"]
        assert story["after_review"]["child"]["id"] == review["survivor_child_id"]
        # Marrakech still sees its own record only: the Rabat case id and the Rabat names stay in Rabat.
        for seen in (story["after_review"], story["final"], story["child_after_review"]):
            assert not [name for name in ("Mohamed", "Alaoui", "Fatima") if name in str(seen)]
            assert story["rabat_case"] not in str(seen)
        assert story["after_review"]["child"]["names"]["first_name_ar"] == "محمد"

    def test_the_night_encounter_opens_two_cases(self, story):
        cases = story["intake"]["cases"]
        assert len(cases) == 2 and all(x["case_number"].startswith("MRK-") for x in cases)
        assert story["final"]["intake"]["night"] is True and len(story["final"]["sibling_case_ids"]) == 1


class TestProsecutionLoop:
    def test_the_polled_referral_carries_a_snapshot_without_names(self, story):
        polled = story["polled"]
        assert polled["kind"] == "prosecution" and polled["status"] == "sent"
        assert polled["snapshot"]["case_number"].startswith("MRK-")
        assert not [name for name in NAMES if name in str(polled)]

    def test_the_office_reads_the_case_while_the_referral_is_open_and_not_after(self, story):
        assert story["case_read_by_office_while_open"] == 200
        assert story["case_read_by_office_after_close"] == 404
        assert story["case_read_by_prosecutor_after_close"] == 404

    def test_the_referral_holds_the_decisions_and_is_closed(self, story):
        referral = story["referral"]
        assert referral["status"] == "closed" and referral["external_reference"] == "PR-MRK-2026-0042"
        assert [d["type"] for d in referral["decisions"]] == [
            "dna_expertise_order", "emergency_placement", "prosecute_adult", "return_to_family"]
        assert [h["to_status"] for h in referral["history"]][:3] == ["sent", "acknowledged", "decided"]

    def test_decisions_move_the_case_to_interim_measure(self, story):
        assert story["after_decisions"]["status"] == "interim_measure"

    def test_filiation_result_for_everyone_methods_only_for_police_and_prosecution(self, story):
        for_cm, for_police = story["filiation_for_cm"][0], story["filiation_for_police"][0]
        assert for_cm["result"] == for_police["result"] == "excluded"
        assert "methods" not in for_cm and "dna_order_reference" not in for_cm
        assert for_police["methods"] == ["documents", "dna_expertise"]
        assert for_police["dna_order_reference"] == "PR-MRK-2026-0042"

    def test_the_decision_about_the_adult_reaches_police_and_not_the_caseworker(self, story):
        adult_police = story["adults_for_police"][0]
        assert [m["decision_type"] for m in adult_police["judicial_measures"]] == ["prosecute_adult"]
        assert "judicial_measures" not in story["adults_for_cm"][0]
        assert "prosecute_adult" not in [m["decision_type"] for m in story["measures_for_cm"]]


class TestTimeline:
    def test_every_step_of_the_path_in_order(self, story):
        moves = [(e["from_status"], e["to_status"]) for e in story["timeline"]
                 if e["event_type"] == "case.status_changed"]
        assert moves == PATH
        assert story["final"]["status"] == "closed"

    def test_referral_events_and_casework_are_on_the_timeline(self, story):
        events = story["timeline"]
        types = [e["event_type"] for e in events]
        assert types[0] == "case.opened"
        for expected in ("referral.sent", "referral.acknowledged", "filiation_check.recorded",
                         "filiation_check.updated", "placement.started", "placement.ended", "case.updated",
                         "assessment.completed", "care_plan.validated", "service.recorded", "follow_up.recorded",
                         "referral.closed"):
            assert expected in types, expected
        decisions = [e["data"]["type"] for e in events if e["event_type"] == "referral.decision_recorded"]
        assert decisions == ["dna_expertise_order", "emergency_placement", "return_to_family"]
        assert "child.merged" in types
        assert [e["id"] for e in events] == sorted(e["id"] for e in events)

    def test_the_decision_about_the_adult_is_on_the_timeline_only_for_police_and_prosecution(self, story):
        decisions = [e["data"]["type"] for e in story["timeline_police"]
                     if e["event_type"] == "referral.decision_recorded"]
        assert decisions == ["dna_expertise_order", "emergency_placement", "prosecute_adult", "return_to_family"]


class TestSteeringCommittee:
    def test_the_counts_move(self, story):
        before, after = story["stats_before"]["total"], story["stats_after"]["total"]
        added = {name: {m: figures[m] - story["stats_baseline"][m] for m in ("children", "cases", "intakes")}
                 for name, figures in (("before", before), ("after", after))}
        assert added == {"before": {"children": 5, "cases": 5, "intakes": 5},
                         "after": {"children": 7, "cases": 7, "intakes": 6}}
        # The steering viewer's figures are protected: within the noise bound of the exact ones.
        for exact, seen in ((before, story["steering_before"]), (after, story["steering_after"])):
            assert seen["exact"] is False and seen["noise_bound"] == 2
            assert all(abs(seen["total"][m] - exact[m]) <= 2 for m in ("children", "cases", "intakes"))

    def test_no_name_anywhere_in_what_it_receives(self, story):
        for body in story["steering_raw"]:
            assert not [name for name in NAMES if name in body]
            assert "EE445566" not in body and "Jemaa" not in body

    def test_no_case_and_no_search(self, story):
        assert story["steering_case"] == 403
        assert story["steering_children"] == 403


class TestAuditor:
    def test_the_auditor_sees_who_read_the_childs_record(self, story, gateway, cast, merged_openapi):
        paths = merged_openapi["paths"]
        if "/v1/audit" not in paths:
            pytest.skip("GET /v1/audit is not in the merged OpenAPI yet (another engineer is adding it)")
        items: list[dict[str, Any]] = []
        cursor = None
        while True:
            page = expect(gateway.get("/v1/audit", params={"case_id": story["case_id"], "limit": 200,
                                                           **({"cursor": cursor} if cursor else {})},
                                      headers=cast["auditor"].headers), 200)
            items += page["items"]
            cursor = page["next_cursor"]
            if not cursor:
                break
        readers = {e["actor"] for e in items if e["action"] == "case.read"}
        assert {cast["police"].subject, cast["prosecution_system"].subject, cast["cm"].subject} <= readers
        assert cast["steering"].subject not in {e["actor"] for e in items}
        assert not [name for name in NAMES if name in str(items)]


# ---- a Rabat case manager carries one case to closed -----------------------------------------------------

class TestRabatCaseToClosed:
    def test_a_mother_with_two_children_one_case_carried_to_closed(self, gateway, cast):
        gw, cm, coordinator, prosecutor = Gateway(gateway), cast["cm_rabat"], cast["coord_rabat"], \
            cast["prosecutor_rabat"]
        intake = gw.post(cm, "/v1/intakes", {
            "reported_at": now_iso(-30), "source": "field_patrol", "commune_code": RABAT_COMMUNE,
            "place_type": "traffic_light", "night": True, "exploitation_pattern": "with_adult",
            "narrative": "A mother with two children at the Bab Rouah lights.",
            "children": [{"first_name": "Yassine", "last_name": "Bennani", "sex": "male", "estimated_age_years": 4},
                         {"first_name": "Sara", "last_name": "Bennani", "sex": "female", "estimated_age_years": 1.5}],
            "adults": [{"first_name": "Khadija", "last_name": "Bennani", "sex": "female", "age": 29,
                        "claimed_relationship": "mother"}]}, 201)
        assert len(intake["cases"]) == 2
        case_id = intake["cases"][0]["id"]
        gw.move(cm, case_id, "screened")
        referral = gw.post(cm, "/v1/referrals", {
            "case_id": case_id, "target_organization_id": str(prosecutor.organization_id), "kind": "prosecution",
            "reason": "Child begging at night with his mother."}, 201)
        gw.status_becomes(cm, case_id, "referred_to_prosecution")
        gw.post(prosecutor, f"/v1/referrals/{referral['id']}/acknowledge", {"external_reference": "PR-RAB-7"}, 200)
        gw.decide(prosecutor, referral["id"], {"type": "medical_care_order", "concerns": "child",
                                               "decided_at": now_iso(-1)})
        gw.status_becomes(cm, case_id, "interim_measure")
        casework_to_closed(gw, case_id=case_id, cm=cm, coordinator=coordinator, services=[
            {"beneficiary": "child", "service_type": "medical"},
            {"beneficiary": "mother", "service_type": "family_mediation"}],
            lift=lambda: gw.decide(prosecutor, referral["id"], {"type": "return_to_family", "concerns": "child",
                                                               "decided_at": now_iso()}))
        timeline = gw.timeline(coordinator, case_id)
        assert [(e["from_status"], e["to_status"]) for e in timeline
                if e["event_type"] == "case.status_changed"] == PATH
        types = {e["event_type"] for e in timeline}
        assert {"case.opened", "referral.sent", "referral.acknowledged", "referral.decision_recorded",
                "case.updated", "assessment.completed", "care_plan.validated", "service.recorded",
                "service.updated", "follow_up.recorded"} <= types
        sibling = gw.case(cm, intake["cases"][1]["id"]).json()
        assert sibling["status"] == "reported" and sibling["sibling_case_ids"] == [case_id]
