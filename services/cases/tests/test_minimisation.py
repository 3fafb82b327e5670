"""Data minimisation: each audience gets its own response model, with only the fields docs/privacy.md allows it."""

import uuid

import pytest

ADULT_BASE = {"id", "full_name", "names", "sex", "age", "nationality", "claimed_relationship"}
ASSESSMENT_BASE = {"id", "case_id", "type", "status", "completed_at", "created_at"}
FILIATION_BASE = {"id", "case_id", "adult_id", "claimed_relationship", "result", "created_at", "updated_at",
                  "version"}


@pytest.fixture
async def case(api, client, as_):
    """A Rabat case with an adult, a medical assessment, a filiation check and a decision about the adult,
    referred to an NGO."""
    intake = await api.intake()
    case_id, adult_id = intake["cases"][0]["id"], intake["adult_ids"][0]
    cm = as_("case_manager")
    made = await client.post(f"/v1/cases/{case_id}/assessments", headers=cm,
                             json={"type": "medical", "completed": True, "summary": "Anaemia, treated."})
    assert made.status_code == 201, made.text
    check = await client.post(f"/v1/cases/{case_id}/filiation-checks", headers=as_("police_officer"), json={
        "adult_id": adult_id, "claimed_relationship": "mother", "methods": ["documents", "testimony"],
        "result": "excluded", "notes": "Family booklet names another mother"})
    assert check.status_code == 201, check.text
    ngo_org = uuid.uuid4()
    assert (await api.event("referral.sent", case_id, org=ngo_org, data={"kind": "service"})).status_code == 200
    decided = await api.event("referral.decision_recorded", case_id, org=uuid.uuid4(), data={
        "type": "prosecute_adult", "concerns": "adult", "adult_id": adult_id, "decided_at": "2026-03-04T10:00:00Z"})
    assert decided.status_code == 200, decided.text
    return {"id": case_id, "ngo": as_("ngo_worker", org=ngo_org)}


async def read_all(client, case_id, headers):
    out = {}
    for part in ("adults", "assessments", "filiation-checks"):
        response = await client.get(f"/v1/cases/{case_id}/{part}", headers=headers)
        assert response.status_code == 200, (part, response.text)
        out[part] = response.json()
    timeline = await client.get(f"/v1/cases/{case_id}/timeline", headers=headers)
    out["timeline"] = [e["event_type"] for e in timeline.json()["items"]]
    return out


class TestFieldsPerAudience:
    async def test_police_see_offences_identity_and_filiation_details_but_not_health(self, client, as_, case):
        seen = await read_all(client, case["id"], as_("police_officer"))
        assert set(seen["adults"][0]) == ADULT_BASE | {"cnie", "suspected_offender", "offence_notes",
                                                       "judicial_measures"}
        assert seen["adults"][0]["judicial_measures"][0]["decision_type"] == "prosecute_adult"
        assert set(seen["assessments"][0]) == ASSESSMENT_BASE
        assert set(seen["filiation-checks"][0]) == FILIATION_BASE | {"methods", "dna_order_reference",
                                                                     "dna_order_measure_id", "notes"}
        assert "referral.decision_recorded" in seen["timeline"]

    async def test_case_managers_see_identity_and_health_but_no_offences_or_filiation_details(self, client, as_, case):
        seen = await read_all(client, case["id"], as_("case_manager"))
        assert set(seen["adults"][0]) == ADULT_BASE | {"cnie"} and seen["adults"][0]["cnie"] == "AB123456"
        assert seen["assessments"][0]["summary"] == "Anaemia, treated."
        assert set(seen["filiation-checks"][0]) == FILIATION_BASE
        assert seen["filiation-checks"][0]["result"] == "excluded"
        assert "referral.decision_recorded" not in seen["timeline"]

    async def test_an_ngo_sees_the_conclusions_only(self, client, case):
        seen = await read_all(client, case["id"], case["ngo"])
        assert set(seen["adults"][0]) == ADULT_BASE
        assert set(seen["assessments"][0]) == ASSESSMENT_BASE
        assert set(seen["filiation-checks"][0]) == FILIATION_BASE
        assert "referral.decision_recorded" not in seen["timeline"]
        text = str(seen)
        for secret in ("AB123456", "Anaemia", "booklet", "prosecute_adult", "testimony"):
            assert secret not in text

    async def test_the_steering_committee_and_auditors_see_no_case_at_all(self, client, as_, case):
        for role in ("steering_viewer", "auditor"):
            headers = as_(role, territories=["MA"])
            for path in (f"/v1/cases/{case['id']}", "/v1/cases", f"/v1/cases/{case['id']}/adults"):
                assert (await client.get(path, headers=headers)).status_code == 403, (role, path)
            children = await client.get("/v1/children", params={"q": "Mohamed"}, headers=headers)
            assert children.status_code == 403, role
