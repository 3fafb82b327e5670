"""Case updates (decision 0107): a case's lead organisation and case manager, an institution's organisation and
a placement's institution keep to the territory and organisation rules, checked by cases against identity's
directory with the caller's own token. Through the gateway with the four real processes: each refusal is a 422
problem `assignment_not_allowed`, and the case or institution is left as it was.
"""

from __future__ import annotations

import json
import uuid
from datetime import UTC, datetime, timedelta
from typing import Any

import httpx
import pytest
from authz.provision import RABAT, RABAT_COMMUNE, SALE, Actor, Directory, expect

from himaya import signing
from himaya_dev.devstack import Stack

pytestmark = pytest.mark.stack


@pytest.fixture(scope="module")
def cast(directory: Directory) -> dict[str, Actor]:
    d = directory
    for key, type_, territory in (("asg-cape", "cape", RABAT), ("asg-cape-2", "cape", RABAT),
                                  ("asg-cape-sale", "cape", SALE), ("asg-ngo", "ngo", RABAT),
                                  ("asg-police", "police", RABAT), ("asg-eps", "eps", RABAT),
                                  ("asg-eps-sale", "eps", SALE), ("asg-health", "health", RABAT)):
        d.organization(key, type_=type_, territory=territory)
    return {
        "cm": d.user("cm@asg", role="case_manager", org="asg-cape", territories=[RABAT]),
        "coordinator": d.user("coord@asg", role="team_coordinator", org="asg-cape", territories=[RABAT]),
        "cm_other_cape": d.user("cm2@asg", role="case_manager", org="asg-cape-2", territories=[RABAT]),
        "cm_sale": d.user("cm-sale@asg", role="case_manager", org="asg-cape-sale", territories=[SALE]),
        "police": d.user("police@asg", role="police_officer", org="asg-police", territories=[RABAT]),
        "ngo": d.user("ngo@asg", role="ngo_worker", org="asg-ngo", territories=[RABAT]),
    }


def org(directory: Directory, key: str) -> str:
    return str(directory.organizations[key]["id"])


def new_case(gateway: httpx.Client, actor: Actor) -> str:
    body = {"reported_at": (datetime.now(UTC) - timedelta(hours=1)).isoformat(), "source": "field_patrol",
            "commune_code": RABAT_COMMUNE, "place_type": "market", "night": False,
            "exploitation_pattern": "with_adult",
            "children": [{"first_name": "Amine", "sex": "male", "estimated_age_years": 7}], "adults": []}
    return str(expect(gateway.post("/v1/intakes", json=body, headers=actor.headers), 201)["cases"][0]["id"])


def refused(response: httpx.Response, field: str) -> None:
    assert response.status_code == 422, response.text
    problem = response.json()
    assert response.headers["content-type"].startswith("application/problem+json")
    assert problem["code"] == "assignment_not_allowed"
    assert field in problem["detail"]


def patch_case(gateway: httpx.Client, actor: Actor, case_id: str, body: dict[str, Any]) -> httpx.Response:
    read = gateway.get(f"/v1/cases/{case_id}", headers=actor.headers)
    expect(read, 200)
    return gateway.patch(f"/v1/cases/{case_id}", json=body, headers={**actor.headers, "If-Match": read.headers["etag"]})


class TestCaseAssignment:
    def test_lead_organisation_of_another_territory_or_type_is_refused(
            self, gateway: httpx.Client, directory: Directory, cast: dict[str, Actor]) -> None:
        cm = cast["cm"]
        case_id = new_case(gateway, cm)
        before = expect(gateway.get(f"/v1/cases/{case_id}", headers=cm.headers), 200)
        for lead in (org(directory, "asg-cape-sale"), org(directory, "asg-ngo"), org(directory, "asg-police"),
                     str(uuid.uuid4())):
            refused(patch_case(gateway, cm, case_id, {"lead_organization_id": lead}), "lead_organization_id")
        refused(patch_case(gateway, cm, case_id, {"lead_organization_id": None}), "lead_organization_id")
        after = expect(gateway.get(f"/v1/cases/{case_id}", headers=cm.headers), 200)
        assert after["lead_organization_id"] == before["lead_organization_id"] == org(directory, "asg-cape")
        assert after["version"] == before["version"]
        moved = patch_case(gateway, cm, case_id, {"lead_organization_id": org(directory, "asg-cape-2")})
        assert moved.status_code == 200 and moved.json()["lead_organization_id"] == org(directory, "asg-cape-2")

    def test_case_manager_outside_the_lead_organisation_territory_or_role_is_refused(
            self, gateway: httpx.Client, cast: dict[str, Actor]) -> None:
        cm = cast["cm"]
        case_id = new_case(gateway, cm)
        for manager in (uuid.uuid4(), cast["police"].subject_id, cast["ngo"].subject_id, cast["cm_sale"].subject_id,
                        cast["cm_other_cape"].subject_id):
            refused(patch_case(gateway, cm, case_id, {"case_manager_id": str(manager)}), "case_manager_id")
        unchanged = expect(gateway.get(f"/v1/cases/{case_id}", headers=cm.headers), 200)
        assert unchanged["case_manager_id"] is None
        for manager in (cast["coordinator"], cm):
            assigned = patch_case(gateway, cm, case_id, {"case_manager_id": str(manager.subject_id)})
            assert assigned.status_code == 200 and assigned.json()["case_manager_id"] == str(manager.subject_id)

    def test_directory_entry_names_no_one(self, gateway: httpx.Client, cast: dict[str, Actor]) -> None:
        entry = gateway.get(f"/v1/users/{cast['cm'].subject_id}/directory-entry", headers=cast["ngo"].headers)
        assert entry.status_code == 200
        assert set(entry.json()) == {"id", "organization_id", "organization_type", "role", "territories", "active"}
        assert "cm@asg" not in entry.text and "Test" not in entry.text
        assert gateway.get(f"/v1/users/{cast['cm'].subject_id}/directory-entry").status_code == 401


class TestInstitutionsAndPlacements:
    def test_institution_of_an_eps_outside_the_prefecture_or_of_another_type_is_refused(
            self, gateway: httpx.Client, directory: Directory, cast: dict[str, Actor]) -> None:
        cm = cast["cm"]
        for organization in (org(directory, "asg-eps-sale"), org(directory, "asg-health"), str(uuid.uuid4())):
            refused(gateway.post("/v1/institutions", headers=cm.headers, json={
                "organization_id": organization, "name": "EPS refused", "prefecture_code": RABAT, "places": 3}),
                "organization_id")
        listed = expect(gateway.get("/v1/institutions", headers=cm.headers), 200)
        assert "EPS refused" not in json.dumps(listed)

    def test_placement_in_an_institution_outside_the_callers_territories_is_refused(
            self, stack: Stack, gateway: httpx.Client, directory: Directory, cast: dict[str, Actor]) -> None:
        cm, cm_sale = cast["cm"], cast["cm_sale"]
        sale_eps = expect(gateway.post("/v1/institutions", headers=cm_sale.headers, json={
            "organization_id": org(directory, "asg-eps-sale"), "name": f"EPS Salé {directory.tag}",
            "prefecture_code": SALE, "places": 5, "emergency_vacancies": 2}), 201)
        case_id = new_case(gateway, cm)
        # The prosecutor's emergency placement order, as referrals delivers it.
        event = {"id": str(uuid.uuid4()), "type": "referral.decision_recorded",
                 "occurred_at": datetime.now(UTC).isoformat(), "case_id": case_id,
                 "referral_id": str(uuid.uuid4()), "organization_id": str(uuid.uuid4()), "actor": "user:prosecutor",
                 "data": {"kind": "prosecution", "sequence": 3, "type": "emergency_placement", "concerns": "child",
                          "decided_at": (datetime.now(UTC) - timedelta(minutes=5)).isoformat()}}
        body = json.dumps(event).encode()
        sent = httpx.post(stack.config.base_url("cases") + "/internal/v1/events", content=body, headers={
            **signing.signed_headers(stack.config.secrets["events_secret"].encode(), body),
            "Content-Type": "application/json"}, timeout=15.0)
        assert sent.status_code == 200, sent.text
        measure = expect(gateway.get(f"/v1/cases/{case_id}/judicial-measures", headers=cm.headers), 200)[0]
        placement = {"institution_id": sale_eps["id"], "order_measure_id": measure["id"],
                     "started_at": datetime.now(UTC).isoformat()}
        refused(gateway.post(f"/v1/cases/{case_id}/placements", json=placement, headers=cm.headers), "institution_id")
        assert expect(gateway.get(f"/v1/cases/{case_id}/placements", headers=cm.headers), 200) == []
        occupied = expect(gateway.get(f"/v1/institutions/{sale_eps['id']}", headers=cm_sale.headers), 200)
        assert occupied["occupied"] == 0 and occupied["emergency_vacancies"] == 2
