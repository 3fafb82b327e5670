"""The child's path (docs/state-machine.md) through the API: the right roles, guards, refusals and the timeline."""

import uuid
from datetime import date, timedelta

import pytest
import sqlalchemy as sa

from cases_service.core.enums import TERMINAL, Status
from cases_service.core.states import STEPS, allowed_targets

NEXT_WEEK = (date.today() + timedelta(days=7)).isoformat()


async def screened_case(api) -> str:
    case_id = await api.case_id()
    response = await api.move(case_id, "screened", api.as_("police_officer"))
    assert response.status_code == 200, response.text
    return case_id


class TestFullPath:
    async def test_one_child_from_intake_to_closure(self, api, client, as_):
        cm, police, coordinator = as_("case_manager"), as_("police_officer"), as_("team_coordinator")
        prosecution = as_.org("prosecutor")
        intake = await api.intake(cm)
        case_id = intake["cases"][0]["id"]
        adult_id = intake["adult_ids"][0]

        assert (await api.move(case_id, "screened", police)).json()["status"] == "screened"

        referral = uuid.uuid4()
        sent = await api.event("referral.sent", case_id, org=prosecution, referral_id=referral,
                               data={"kind": "prosecution", "police_report_number": "PV-2026-118"})
        assert sent.status_code == 200, sent.text
        assert (await api.get(case_id)).json()["status"] == "referred_to_prosecution"
        assert (await api.get(case_id, as_("prosecutor"))).status_code == 200

        decision = await api.event("referral.decision_recorded", case_id, org=prosecution, referral_id=referral,
                                   data={"decision_id": str(uuid.uuid4()), "type": "emergency_placement",
                                         "concerns": "child", "decided_at": "2026-03-03T09:00:00Z",
                                         "reference": "ORD-55"})
        assert decision.status_code == 200, decision.text
        await api.event("referral.decision_recorded", case_id, org=prosecution, referral_id=referral,
                        data={"type": "dna_expertise_order", "concerns": "child", "reference": "DNA-9",
                              "decided_at": "2026-03-03T09:05:00Z"})
        read = await api.get(case_id)
        assert read.json()["status"] == "interim_measure"

        check = await client.post(f"/v1/cases/{case_id}/filiation-checks", headers=police, json={
            "adult_id": adult_id, "claimed_relationship": "mother", "methods": ["documents", "dna_expertise"],
            "dna_order_reference": "DNA-9"})
        assert check.status_code == 201, check.text

        refused = await api.move(case_id, "under_assessment", cm)
        assert refused.status_code == 409 and "case manager" in refused.json()["detail"]
        manager = api.directory.add_user(api.directory.add_org("cape", org_id=api.as_.org("case_manager")))
        patched = await client.patch(f"/v1/cases/{case_id}", headers={**cm, "If-Match": read.headers["etag"]},
                                     json={"case_manager_id": str(manager), "risk_level": "high"})
        assert patched.status_code == 200, patched.text
        assert (await api.move(case_id, "under_assessment", cm)).status_code == 200

        refused = await api.move(case_id, "in_care", cm)
        assert refused.status_code == 409 and "social-enquiry" in refused.json()["detail"]
        enquiry = await client.post(f"/v1/cases/{case_id}/assessments", headers=cm,
                                    json={"type": "social_enquiry", "summary": "Family in Douar X."})
        await client.post(f"/v1/cases/{case_id}/assessments/{enquiry.json()['id']}/complete", headers=cm)
        plan = await client.post(f"/v1/cases/{case_id}/care-plans", headers=cm,
                                 json={"objectives": "School enrolment; mother to a social programme."})
        refused = await api.move(case_id, "in_care", cm)
        assert refused.status_code == 409 and "care plan" in refused.json()["detail"]
        by_cm = await client.post(f"/v1/cases/{case_id}/care-plans/{plan.json()['id']}/validate", headers=cm)
        assert by_cm.status_code == 403
        validated = await client.post(f"/v1/cases/{case_id}/care-plans/{plan.json()['id']}/validate",
                                      headers=coordinator)
        assert validated.json()["status"] == "validated"
        service = await client.post(f"/v1/cases/{case_id}/services", headers=cm, json={
            "beneficiary": "mother", "service_type": "social_programme", "provider_organization_id": str(uuid.uuid4())})
        assert service.status_code == 201
        assert (await api.move(case_id, "in_care", cm)).status_code == 200

        refused = await api.move(case_id, "follow_up", cm)
        assert refused.status_code == 409 and "next follow-up" in refused.json()["detail"]
        visit = await client.post(f"/v1/cases/{case_id}/follow-ups", headers=cm, json={
            "visited_at": "2026-04-01T10:00:00Z", "child_seen": True, "attending_school": True,
            "begging_observed": False, "next_visit_due": NEXT_WEEK})
        assert visit.status_code == 201, visit.text
        assert (await api.move(case_id, "follow_up", cm)).status_code == 200

        refused = await api.move(case_id, "closed", coordinator, reason="Child back at school, family stable")
        assert refused.status_code == 409 and "judicial measure" in refused.json()["detail"]
        assert (await api.move(case_id, "closed", cm, reason="x")).status_code == 409
        await api.event("referral.decision_recorded", case_id, org=prosecution, referral_id=referral,
                        data={"type": "return_to_family", "concerns": "child", "decided_at": "2026-05-01T09:00:00Z"})
        closed = await api.move(case_id, "closed", coordinator, reason="Child back at school, family stable")
        assert closed.status_code == 200, closed.text
        assert closed.json()["status"] == "closed"
        await api.event("referral.closed", case_id, org=prosecution, referral_id=referral)
        assert (await api.get(case_id, as_("prosecutor"))).status_code == 404

        timeline = (await client.get(f"/v1/cases/{case_id}/timeline", headers=coordinator)).json()["items"]
        moves = [(e["from_status"], e["to_status"]) for e in timeline if e["event_type"] == "case.status_changed"]
        assert moves == [("reported", "screened"), ("screened", "referred_to_prosecution"),
                         ("referred_to_prosecution", "interim_measure"), ("interim_measure", "under_assessment"),
                         ("under_assessment", "in_care"), ("in_care", "follow_up"), ("follow_up", "closed")]
        types = [e["event_type"] for e in timeline]
        assert types[0] == "case.opened"
        for expected in ("referral.sent", "referral.decision_recorded", "filiation_check.recorded",
                         "case.updated", "assessment.completed", "care_plan.validated", "service.recorded",
                         "follow_up.recorded", "referral.closed"):
            assert expected in types
        assert [e["id"] for e in timeline] == sorted(e["id"] for e in timeline)
        assert timeline[-2]["reason"] == "Child back at school, family stable"
        again = await api.move(case_id, "in_care", cm, reason="seen again")
        assert again.status_code == 409 and "never reopened" in again.json()["detail"]


class TestSideStates:
    async def test_suspended_returns_to_the_state_it_left(self, api, as_):
        case_id = await screened_case(api)
        cm = as_("case_manager")
        assert (await api.move(case_id, "suspended", cm)).status_code == 409  # a reason is required
        assert (await api.move(case_id, "suspended", cm, reason="Family untraceable")).status_code == 200
        read = (await api.get(case_id)).json()
        assert read["suspended_from_status"] == "screened" and read["allowed_transitions"] == ["screened"]
        wrong = await api.move(case_id, "reported", cm)
        assert wrong.status_code == 409 and "screened" in wrong.json()["detail"]
        assert (await api.move(case_id, "screened", cm)).json()["status"] == "screened"
        assert (await api.get(case_id)).json()["suspended_from_status"] is None

    async def test_closed_not_in_scope_needs_a_reason_and_only_from_screened(self, api, as_):
        case_id = await api.case_id()
        cm = as_("case_manager")
        assert (await api.move(case_id, "closed_not_in_scope", cm, reason="Adult child")).status_code == 409
        await api.move(case_id, "screened", cm)
        assert (await api.move(case_id, "closed_not_in_scope", cm)).status_code == 409
        done = await api.move(case_id, "closed_not_in_scope", cm, reason="Not begging: selling with a parent")
        assert done.json()["status"] == "closed_not_in_scope"

    async def test_transfer_opens_a_linked_case_in_the_other_prefecture(self, api, as_):
        case_id = await screened_case(api)
        cm = as_("case_manager")
        same = await api.move(case_id, "transferred_out", cm, reason="Moved", commune_code="04.421.02")
        assert same.status_code == 422
        moved = await api.move(case_id, "transferred_out", cm, reason="Family moved to Salé",
                               commune_code=api.SALE_COMMUNE)
        assert moved.status_code == 200, moved.text
        new_id = moved.json()["opened_case_id"]
        sale = as_("case_manager", territories=[api.SALE])
        new_case = (await api.get(new_id, sale)).json()
        assert new_case["case_number"].startswith("SAL-") and new_case["status"] == "reported"
        assert new_case["transferred_from_case_id"] == case_id
        assert new_case["child"]["id"] == (await api.get(case_id)).json()["child"]["id"]
        assert (await api.get(case_id)).json()["transferred_to_case_id"] == new_id
        assert (await api.get(case_id, sale)).status_code == 404


class TestRefusedTransitions:
    async def test_every_step_outside_the_machine_is_refused(self, api, db, as_):
        case_id = await api.case_id()
        for status in Status:
            await db.execute(sa.text("UPDATE cases.cases SET status = :s, suspended_from_status = :f WHERE id = :id"),
                             {"s": status.value, "f": "screened" if status == Status.SUSPENDED else None,
                              "id": case_id})
            allowed = set(allowed_targets(status, Status.SCREENED))
            for target in Status:
                if target in allowed:
                    continue
                for role in ("case_manager", "team_coordinator", "police_officer"):
                    response = await api.move(case_id, target.value, as_(role), reason="because")
                    assert response.status_code == 409, (status, target, role)
                    assert response.json()["code"] == "transition_not_allowed"
                    assert response.json()["reason"]

    @pytest.mark.parametrize("step", [s for s in STEPS], ids=lambda s: s.target.value)
    async def test_every_wrong_role_is_refused(self, api, db, as_, step):
        case_id = await api.case_id()
        org = as_.org("prosecutor")
        await api.event("referral.sent", case_id, org=org, data={"kind": "service"})
        source = sorted(step.source)[0]
        await db.execute(sa.text("UPDATE cases.cases SET status = :s WHERE id = :id"),
                         {"s": source.value, "id": case_id})
        for role in ("case_manager", "team_coordinator", "police_officer", "prosecutor", "court_social_worker",
                     "focal_point", "ngo_worker", "eps_staff"):
            if role in step.roles:
                continue
            response = await api.move(case_id, step.target.value, as_(role, org=org), reason="because",
                                      commune_code=api.SALE_COMMUNE if step.target == Status.TRANSFERRED_OUT else None)
            if role == "eps_staff":  # sees only children placed with its institution
                assert response.status_code == 404
                continue
            assert response.status_code == 409, (step.target, role, response.text)
            assert response.json()["code"] == "transition_not_allowed"

    async def test_terminal_states_allow_nothing(self):
        for status in TERMINAL:
            assert allowed_targets(status, None) == []

    async def test_screening_by_an_ngo_is_refused_with_the_reason(self, api, as_):
        ngo = as_("ngo_worker")
        case_id = (await api.intake(ngo))["cases"][0]["id"]
        response = await api.move(case_id, "screened", ngo)
        assert response.status_code == 409
        assert "ngo_worker" in response.json()["detail"]

    async def test_referred_needs_a_prosecution_referral(self, api, as_):
        case_id = await screened_case(api)
        response = await api.move(case_id, "referred_to_prosecution", as_("police_officer"))
        assert response.status_code == 409 and "referral" in response.json()["detail"]
