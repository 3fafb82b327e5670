"""POST /internal/v1/events: signed, idempotent by event id, effects on status, grants and timeline."""

import json
import uuid
from datetime import UTC, datetime, timedelta

import sqlalchemy as sa

from himaya import signing


class TestSignature:
    async def test_bad_signature_is_refused_and_changes_nothing(self, api, client, db):
        case_id = await api.case_id()
        event = {"id": str(uuid.uuid4()), "type": "referral.sent", "occurred_at": datetime.now(UTC).isoformat(),
                 "case_id": case_id, "referral_id": str(uuid.uuid4()), "organization_id": str(uuid.uuid4()),
                 "actor": "user:x", "data": {"kind": "service"}}
        body, headers = api.signed(event, secret="another-secret-" + "x" * 32)
        response = await client.post("/internal/v1/events", content=body, headers=headers)
        assert response.status_code == 401
        body, headers = api.signed(event)
        tampered = body.replace(b"service", b"prosecution")
        assert (await client.post("/internal/v1/events", content=tampered, headers=headers)).status_code == 401
        unsigned = await client.post("/internal/v1/events", content=body, headers={"Content-Type": "application/json"})
        assert unsigned.status_code == 401
        stale = signing.signed_headers(b"test-events-" + b"e" * 32, body, now=1_000_000_000)
        assert (await client.post("/internal/v1/events", content=body, headers=stale)).status_code == 401
        grants = (await db.execute(sa.text("SELECT count(*) FROM cases.case_access_grants"))).scalar()
        processed = (await db.execute(sa.text("SELECT count(*) FROM cases.processed_events"))).scalar()
        assert grants == 0 and processed == 0

    async def test_event_for_an_unknown_case_is_unacceptable(self, api, client):
        response = await api.event("referral.sent", uuid.uuid4(), org=uuid.uuid4(), data={"kind": "service"})
        assert response.status_code == 422

    async def test_malformed_event_is_unacceptable(self, api, client):
        body, headers = api.signed({"id": "nope", "type": "referral.sent"})
        assert (await client.post("/internal/v1/events", content=body, headers=headers)).status_code == 422

    async def test_bearer_token_is_not_a_credential_here(self, api, client, as_):
        body = json.dumps({"id": str(uuid.uuid4())}).encode()
        response = await client.post("/internal/v1/events", content=body, headers=as_("admin"))
        assert response.status_code == 401


class TestIdempotency:
    async def test_redelivery_of_an_event_id_does_nothing(self, api, client, as_, db):
        case_id = await api.case_id()
        await api.move(case_id, "screened", as_("police_officer"))
        event_id, org, referral = uuid.uuid4(), uuid.uuid4(), uuid.uuid4()
        first = await api.event("referral.sent", case_id, org=org, referral_id=referral, event_id=event_id,
                                data={"kind": "prosecution"})
        again = await api.event("referral.sent", case_id, org=org, referral_id=referral, event_id=event_id,
                                data={"kind": "prosecution"})
        assert first.json()["status"] == "processed" and again.json()["status"] == "duplicate"
        assert again.status_code == 200
        timeline = (await client.get(f"/v1/cases/{case_id}/timeline", headers=as_("case_manager"))).json()["items"]
        assert [e["event_type"] for e in timeline].count("referral.sent") == 1
        decision = {"type": "refer_juvenile_judge", "concerns": "child", "decided_at": "2026-03-04T10:00:00Z"}
        decision_id = uuid.uuid4()
        for _ in range(3):
            await api.event("referral.decision_recorded", case_id, org=org, referral_id=referral,
                            event_id=decision_id, data=decision)
        measures = (await db.execute(sa.text("SELECT count(*) FROM cases.judicial_measures"))).scalar()
        assert measures == 1

    async def test_an_event_older_than_the_remembered_ids_is_refused_and_changes_nothing(self, api, harness, db):
        case_id = await api.case_id()
        retention = harness.app.state.settings.processed_events_retention
        old = datetime.now(UTC) - retention - timedelta(hours=1)
        refused = await api.event("referral.sent", case_id, org=uuid.uuid4(), occurred_at=old,
                                  data={"kind": "service"})
        assert refused.status_code == 422
        grants = (await db.execute(sa.text("SELECT count(*) FROM cases.case_access_grants"))).scalar()
        processed = (await db.execute(sa.text("SELECT count(*) FROM cases.processed_events"))).scalar()
        assert grants == 0 and processed == 0

    async def test_the_purge_keeps_processed_ids_past_the_acceptance_window(self, harness):
        # An id is forgotten only once an event that old is refused anyway: a replay is never applied twice.
        app, event_id = harness.app, uuid.uuid4()
        retention = app.state.settings.processed_events_retention
        async with harness.engine.begin() as conn:  # committed: the purge works on its own connections
            await conn.execute(sa.text("INSERT INTO cases.processed_events (event_id, event_type, processed_at) "
                                       "VALUES (:id, 'referral.sent', now())"), {"id": event_id})
        try:
            kept = await app.state.purger.run_once(now=datetime.now(UTC) + retention)
            assert kept["cases.processed_events"] == 0
            purged = await app.state.purger.run_once(now=datetime.now(UTC) + retention + timedelta(days=2))
            assert purged["cases.processed_events"] == 1
        finally:
            async with harness.engine.begin() as conn:
                await conn.execute(sa.text("DELETE FROM cases.processed_events WHERE event_id = :id"), {"id": event_id})


class TestEffects:
    async def test_prosecution_referral_before_screening_grants_but_does_not_move(self, api, as_):
        case_id = await api.case_id()
        org = uuid.uuid4()
        await api.event("referral.sent", case_id, org=org, data={"kind": "prosecution"})
        assert (await api.get(case_id)).json()["status"] == "reported"
        assert (await api.get(case_id, as_("prosecutor", org=org))).status_code == 200

    async def test_decision_about_an_adult_does_not_move_the_case_and_is_hidden_from_caseworkers(
            self, api, client, as_):
        intake = await api.intake()
        case_id, adult_id = intake["cases"][0]["id"], intake["adult_ids"][0]
        await api.move(case_id, "screened", as_("police_officer"))
        org = uuid.uuid4()
        await api.event("referral.sent", case_id, org=org, data={"kind": "prosecution"})
        await api.event("referral.decision_recorded", case_id, org=org, data={
            "type": "prosecute_adult", "concerns": "adult", "adult_id": adult_id,
            "decided_at": "2026-03-04T10:00:00Z", "reference": "PA-1"})
        assert (await api.get(case_id)).json()["status"] == "referred_to_prosecution"
        police = await client.get(f"/v1/cases/{case_id}/judicial-measures", headers=as_("police_officer"))
        assert [m["decision_type"] for m in police.json()] == ["prosecute_adult"]
        cm = await client.get(f"/v1/cases/{case_id}/judicial-measures", headers=as_("case_manager"))
        assert cm.json() == []
        adults = (await client.get(f"/v1/cases/{case_id}/adults", headers=as_("police_officer"))).json()
        assert adults[0]["judicial_measures"][0]["decision_type"] == "prosecute_adult"

    async def test_adult_decision_without_adult_id_is_unacceptable(self, api):
        case_id = await api.case_id()
        response = await api.event("referral.decision_recorded", case_id, org=uuid.uuid4(), data={
            "type": "prosecute_adult", "concerns": "adult", "decided_at": "2026-03-04T10:00:00Z"})
        assert response.status_code == 422

    async def test_decision_on_a_case_screened_after_the_referral_takes_both_steps(self, api, client, as_):
        case_id = await api.case_id()
        org, referral = uuid.uuid4(), uuid.uuid4()
        await api.event("referral.sent", case_id, org=org, referral_id=referral, data={"kind": "prosecution"})
        await api.move(case_id, "screened", as_("police_officer"))
        await api.event("referral.decision_recorded", case_id, org=org, referral_id=referral, data={
            "kind": "prosecution", "type": "return_to_family", "concerns": "child",
            "decided_at": "2026-03-04T10:00:00Z"})
        assert (await api.get(case_id)).json()["status"] == "interim_measure"
        timeline = (await client.get(f"/v1/cases/{case_id}/timeline", headers=as_("case_manager"))).json()["items"]
        moves = [(e["from_status"], e["to_status"]) for e in timeline if e["event_type"] == "case.status_changed"]
        assert moves == [("reported", "screened"), ("screened", "referred_to_prosecution"),
                         ("referred_to_prosecution", "interim_measure")]


class TestGrantOrder:
    """Decision 0107: a referral's grant follows its newest event; older events change nothing."""

    async def test_replayed_sent_after_the_end_does_not_revive_the_grant(self, api, as_, db):
        case_id = await api.case_id()
        org, referral = uuid.uuid4(), uuid.uuid4()
        sent = {"kind": "service", "sequence": 1}
        await api.event("referral.sent", case_id, org=org, referral_id=referral, data=sent)
        assert (await api.get(case_id, as_("ngo_worker", org=org))).status_code == 200
        await api.event("referral.cancelled", case_id, org=org, referral_id=referral,
                        data={"kind": "service", "sequence": 2})
        assert (await api.get(case_id, as_("ngo_worker", org=org))).status_code == 404
        for data in (sent, {"kind": "service", "sequence": 2}):  # a fresh id with an old or equal sequence
            response = await api.event("referral.sent", case_id, org=org, referral_id=referral, data=data)
            assert response.status_code == 200
            assert (await api.get(case_id, as_("ngo_worker", org=org))).status_code == 404
        row = (await db.execute(sa.text("SELECT revoked_at IS NOT NULL AS revoked, source_sequence "
                                        "FROM cases.case_access_grants WHERE source_id = :r"),
                                {"r": referral})).mappings().one()
        assert row["revoked"] and row["source_sequence"] == 2

    async def test_an_end_arriving_before_the_sending_keeps_the_grant_closed(self, api, as_):
        case_id = await api.case_id()
        org, referral = uuid.uuid4(), uuid.uuid4()
        await api.event("referral.rejected", case_id, org=org, referral_id=referral,
                        data={"kind": "service", "sequence": 3})
        await api.event("referral.sent", case_id, org=org, referral_id=referral,
                        data={"kind": "service", "sequence": 1})
        await api.event("referral.acknowledged", case_id, org=org, referral_id=referral,
                        data={"kind": "service", "sequence": 2})
        assert (await api.get(case_id, as_("ngo_worker", org=org))).status_code == 404

    async def test_a_referral_event_without_its_sequence_is_unacceptable(self, api, client, db):
        case_id = await api.case_id()
        event = {"id": str(uuid.uuid4()), "type": "referral.sent", "occurred_at": "2026-03-03T10:00:00Z",
                 "case_id": case_id, "referral_id": str(uuid.uuid4()), "organization_id": str(uuid.uuid4()),
                 "actor": "user:x", "data": {"kind": "service"}}
        body, headers = api.signed(event)
        assert (await client.post("/internal/v1/events", content=body, headers=headers)).status_code == 422
        assert (await db.execute(sa.text("SELECT count(*) FROM cases.case_access_grants"))).scalar() == 0
