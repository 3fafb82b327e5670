"""Referrals through the API, each test in a rolled-back transaction: rules, relations, states, errors."""

import uuid
from datetime import UTC, datetime, timedelta

import pytest
import sqlalchemy as sa

from referrals_service.core.tables import audit_events, outbox_events


def prosecution_referral(case_id, target):
    return {"case_id": str(case_id), "target_organization_id": str(target), "kind": "prosecution",
            "reason": "Child of about 3 begging at night with an adult; filiation unverified.", "urgency": "urgent"}


def decision(**overrides):
    body = {"type": "emergency_placement", "concerns": "child", "legal_basis": "Law 27-14",
            "decided_at": datetime.now(UTC).isoformat(), "notes": "EPS Rabat"}
    body.update(overrides)
    return body


@pytest.fixture
async def sent(client, actors):
    case_id = actors.fake.add_case()
    response = await client.post("/v1/referrals", json=prosecution_referral(case_id, actors.prosecution_org),
                                 headers=actors.police())
    assert response.status_code == 201, response.text
    return response.json()


async def acknowledged(client, actors, referral):
    response = await client.post(f"/v1/referrals/{referral['id']}/acknowledge",
                                 json={"external_reference": "PR-RABAT-2026-0412"},
                                 headers=actors.prosecution_system())
    assert response.status_code == 200, response.text
    return response.json()


class TestCreateReferral:
    async def test_police_refers_case_with_minimal_snapshot(self, client, actors, sent, db):
        assert sent["status"] == "sent"
        assert sent["sender_organization_id"] == str(actors.police_org)
        assert sent["target_organization_type"] == "prosecution_office"
        snapshot = sent["snapshot"]
        assert snapshot["age_band"] == "1_5"
        assert snapshot["sex"] == "female"
        assert snapshot["commune_code"] == "04.421.01"
        assert snapshot["exploitation_pattern"] == "with_adult"
        assert "MUST-NOT-LEAK" not in str(sent)
        events = (await db.execute(sa.select(outbox_events.c.event_type, outbox_events.c.destination)
                                   .where(outbox_events.c.aggregate_id == uuid.UUID(sent["id"])))).all()
        assert events == [("referral.sent", "cases")]
        audited = (await db.execute(sa.select(audit_events.c.action).where(
            audit_events.c.object_id == sent["id"]))).scalars().all()
        assert audited == ["referral.create"]

    async def test_caller_who_cannot_see_case_gets_404(self, client, actors):
        case_id = actors.fake.add_case(commune_code="07.351.01")  # Marrakech, outside the officer's territory
        response = await client.post("/v1/referrals", json=prosecution_referral(case_id, actors.prosecution_org),
                                     headers=actors.police())
        assert response.status_code == 404
        assert response.json()["code"] == "not_found"

    async def test_prosecution_referral_must_target_prosecution_office(self, client, actors):
        case_id = actors.fake.add_case()
        response = await client.post("/v1/referrals", json=prosecution_referral(case_id, actors.ngo_org),
                                     headers=actors.police())
        assert response.status_code == 422
        assert "prosecution" in response.json()["detail"]

    async def test_unknown_target_organisation_is_invalid(self, client, actors):
        case_id = actors.fake.add_case()
        response = await client.post("/v1/referrals", json=prosecution_referral(case_id, uuid.uuid4()),
                                     headers=actors.police())
        assert response.status_code == 422

    async def test_service_referral_needs_service_type(self, client, actors):
        body = prosecution_referral(actors.fake.add_case(), actors.ngo_org) | {"kind": "service"}
        response = await client.post("/v1/referrals", json=body, headers=actors.police())
        assert response.status_code == 422
        body["service_type"] = "emergency_shelter"
        response = await client.post("/v1/referrals", json=body, headers=actors.police())
        assert response.status_code == 201, response.text
        assert response.json()["service_type"] == "emergency_shelter"

    async def test_unknown_fields_are_rejected(self, client, actors):
        body = prosecution_referral(actors.fake.add_case(), actors.prosecution_org) | {"status": "closed"}
        response = await client.post("/v1/referrals", json=body, headers=actors.police())
        assert response.status_code == 422
        assert response.json()["code"] == "validation_failed"

    async def test_second_open_referral_to_same_office_conflicts(self, client, actors, sent):
        response = await client.post("/v1/referrals", json=prosecution_referral(sent["case_id"],
                                                                                 actors.prosecution_org),
                                     headers=actors.police())
        assert response.status_code == 409

    async def test_receiver_role_cannot_create(self, client, actors):
        response = await client.post("/v1/referrals", json=prosecution_referral(actors.fake.add_case(),
                                                                                 actors.prosecution_org),
                                     headers=actors.prosecution_system())
        assert response.status_code == 403

    async def test_same_key_same_body_replays_without_second_referral(self, client, actors, db):
        body = prosecution_referral(actors.fake.add_case(), actors.prosecution_org)
        headers = actors.police() | {"Idempotency-Key": "create-1"}
        first = await client.post("/v1/referrals", json=body, headers=headers)
        second = await client.post("/v1/referrals", json=body, headers=headers)
        assert first.status_code == second.status_code == 201
        assert first.json() == second.json()
        assert second.headers["idempotent-replayed"] == "true"
        other = await client.post("/v1/referrals", json=body | {"reason": "other"}, headers=headers)
        assert other.status_code == 422
        assert other.json()["code"] == "idempotency_key_reused"


class TestReadReferral:
    async def test_sender_and_receiver_see_it_with_history(self, client, actors, sent):
        await acknowledged(client, actors, sent)
        for headers in (actors.police(), actors.prosecution_system()):
            response = await client.get(f"/v1/referrals/{sent['id']}", headers=headers)
            assert response.status_code == 200
            body = response.json()
            assert [h["event_type"] for h in body["history"]] == ["referral.sent", "referral.acknowledged"]
            assert response.headers["etag"] == '"2"'

    async def test_other_organisation_gets_404(self, client, actors, sent):
        response = await client.get(f"/v1/referrals/{sent['id']}", headers=actors.police(org=actors.other_police_org))
        assert response.status_code == 404

    async def test_read_is_audited(self, client, actors, sent, db):
        await client.get(f"/v1/referrals/{sent['id']}", headers=actors.prosecution_system())
        actions = (await db.execute(sa.select(audit_events.c.action, audit_events.c.case_id).where(
            audit_events.c.object_id == sent["id"]))).all()
        assert ("referral.read", uuid.UUID(sent["case_id"])) in actions


class TestProsecutionStates:
    async def test_acknowledge_requires_external_reference(self, client, actors, sent):
        response = await client.post(f"/v1/referrals/{sent['id']}/acknowledge", json={},
                                     headers=actors.prosecution_system())
        assert response.status_code == 422

    async def test_sender_cannot_acknowledge(self, client, actors, sent):
        response = await client.post(f"/v1/referrals/{sent['id']}/acknowledge", json={"external_reference": "X"},
                                     headers=actors.police() )
        assert response.status_code == 403

    async def test_decision_before_acknowledgement_is_409(self, client, actors, sent):
        response = await client.post(f"/v1/referrals/{sent['id']}/decisions", json=decision(),
                                     headers=actors.prosecution_system() | {"Idempotency-Key": "d-early"})
        assert response.status_code == 409
        assert response.json()["code"] == "transition_not_allowed"

    async def test_decision_requires_idempotency_key(self, client, actors, sent):
        await acknowledged(client, actors, sent)
        response = await client.post(f"/v1/referrals/{sent['id']}/decisions", json=decision(),
                                     headers=actors.prosecution_system())
        assert response.status_code == 422
        assert response.json()["code"] == "idempotency_key_required"

    @pytest.mark.parametrize("body", [
        {"type": "prosecute_adult", "concerns": "child"},
        {"type": "prosecute_adult", "concerns": "adult"},
        {"type": "emergency_placement", "concerns": "adult", "adult_id": str(uuid.uuid4())},
        {"type": "return_to_family", "concerns": "child", "adult_id": str(uuid.uuid4())},
        {"decided_at": (datetime.now(UTC) + timedelta(days=2)).isoformat()},
        {"decided_at": "2026-11-20T10:00:00"},
    ])
    async def test_inconsistent_decisions_are_refused(self, client, actors, sent, body):
        await acknowledged(client, actors, sent)
        response = await client.post(f"/v1/referrals/{sent['id']}/decisions", json=decision(**body),
                                     headers=actors.prosecution_system() | {"Idempotency-Key": "d-bad"})
        assert response.status_code == 422, response.text

    async def test_police_cannot_record_decisions(self, client, actors, sent):
        await acknowledged(client, actors, sent)
        response = await client.post(f"/v1/referrals/{sent['id']}/decisions", json=decision(),
                                     headers=actors.police() | {"Idempotency-Key": "d-police"})
        assert response.status_code == 403

    async def test_close_needs_a_decision_first(self, client, actors, sent):
        await acknowledged(client, actors, sent)
        response = await client.post(f"/v1/referrals/{sent['id']}/close", json={"outcome": "done"},
                                     headers=actors.prosecution_system())
        assert response.status_code == 409

    async def test_sender_cancels_before_decision_but_not_after(self, client, actors, sent):
        await acknowledged(client, actors, sent)
        await client.post(f"/v1/referrals/{sent['id']}/decisions", json=decision(),
                          headers=actors.prosecution_system() | {"Idempotency-Key": "d-1"})
        response = await client.post(f"/v1/referrals/{sent['id']}/cancel", json={"reason": "wrong office"},
                                     headers=actors.police())
        assert response.status_code == 409

    async def test_accept_is_for_service_referrals_only(self, client, actors, sent):
        await acknowledged(client, actors, sent)
        response = await client.post(f"/v1/referrals/{sent['id']}/accept", headers=actors.prosecution_system())
        assert response.status_code == 409


class TestServiceStates:
    async def test_ngo_acknowledges_accepts_and_completes(self, client, actors, db):
        body = {"case_id": str(actors.fake.add_case()), "target_organization_id": str(actors.ngo_org),
                "kind": "service", "service_type": "family_mediation", "reason": "Mother asks for support"}
        created = (await client.post("/v1/referrals", json=body, headers=actors.police())).json()
        rid = created["id"]
        steps = [("acknowledge", {}), ("accept", {"note": "Assigned to our Salé team"}),
                 ("complete", {"outcome": "Three mediation sessions held"})]
        for action, payload in steps:
            response = await client.post(f"/v1/referrals/{rid}/{action}", json=payload, headers=actors.ngo())
            assert response.status_code == 200, (action, response.text)
        final = response.json()
        assert final["status"] == "completed"
        assert final["outcome"] == "Three mediation sessions held"
        assert final["closed_at"] is not None
        types = (await db.execute(sa.select(outbox_events.c.event_type).where(
            outbox_events.c.aggregate_id == uuid.UUID(rid)).order_by(outbox_events.c.payload["data"]["sequence"]
                                                                     .as_integer()))).scalars().all()
        assert types == ["referral.sent", "referral.acknowledged", "referral.accepted", "referral.completed"]

    async def test_ngo_rejects_with_reason(self, client, actors):
        body = {"case_id": str(actors.fake.add_case()), "target_organization_id": str(actors.ngo_org),
                "kind": "service", "service_type": "emergency_shelter", "reason": "Shelter needed tonight"}
        created = (await client.post("/v1/referrals", json=body, headers=actors.police())).json()
        response = await client.post(f"/v1/referrals/{created['id']}/reject", json={"reason": "No places left"},
                                     headers=actors.ngo())
        assert response.status_code == 200
        assert response.json()["rejection_reason"] == "No places left"
        again = await client.post(f"/v1/referrals/{created['id']}/accept", headers=actors.ngo())
        assert again.status_code == 409


class TestListReferrals:
    async def test_incoming_and_outgoing_are_per_organisation(self, client, actors, sent):
        incoming = (await client.get("/v1/referrals?direction=incoming", headers=actors.prosecution_system())).json()
        outgoing = (await client.get("/v1/referrals?direction=outgoing", headers=actors.police())).json()
        assert [r["id"] for r in incoming["items"]] == [sent["id"]]
        assert [r["id"] for r in outgoing["items"]] == [sent["id"]]
        nothing = (await client.get("/v1/referrals?direction=incoming", headers=actors.police())).json()
        assert nothing["items"] == []

    async def test_status_filter_and_bad_cursor(self, client, actors, sent):
        acked = (await client.get("/v1/referrals?status=acknowledged", headers=actors.prosecution_system())).json()
        assert acked["items"] == []
        bad = await client.get("/v1/referrals?cursor=notacursor", headers=actors.prosecution_system())
        assert bad.status_code == 422
