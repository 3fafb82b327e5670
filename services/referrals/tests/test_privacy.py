"""The referrals' free texts are never stored in clear (decision 0052): a full flow leaves none of them in any
column of the referrals schema, and every one of them reads back through the API and the delivered events."""

import uuid
from datetime import UTC, datetime

import pytest
import sqlalchemy as sa

from himaya.crypto import DecryptionError
from referrals_service.core.tables import SCHEMA, outbox_events
from referrals_service.delivery.repository import open_event

TEXTS = {
    "reason": "Reason-Zerhouni girl at the Bab Doukkala lights",
    "ngo_reason": "Reason-Tahiri needs mediation",
    "reject_reason": "Reason-Lahlou no places left",
    "cancel_reason": "Reason-Skalli mother found",
    "accept_note": "Note-Benkirane assigned to Salé team",
    "service_outcome": "Outcome-Filali three sessions held",
    "legal_basis": "Basis-Chraibi article 512",
    "notes": "Notes-Idrissi placed at EPS Rabat",
    "close_outcome": "Outcome-Alami returned to family",
}
EXTERNAL_REFERENCE = "PR-RABAT-2026-7731"


async def plaintext_hits(db, values) -> list[str]:
    """Every `table.column: value` of the referrals schema whose text, jsonb, array or bytea content holds a value."""
    columns = (await db.execute(sa.text(
        "SELECT c.table_name, c.column_name, c.data_type FROM information_schema.columns c "
        "JOIN information_schema.tables t USING (table_schema, table_name) "
        "WHERE c.table_schema = :s AND t.table_type = 'BASE TABLE' "
        "AND c.data_type IN ('text', 'character varying', 'character', 'jsonb', 'json', 'bytea', 'ARRAY')"),
        {"s": SCHEMA})).all()
    assert {"referrals", "referral_history", "prosecutor_decisions", "outbox_events",
            "idempotency_keys"} <= {table for table, _, _ in columns}
    hits = []
    for table, column, kind in columns:
        where = (f'position(convert_to(:v, \'UTF8\') in "{column}") > 0' if kind == "bytea"
                 else f'"{column}"::text ILIKE \'%\' || :v || \'%\'')
        for value in values:
            found = (await db.execute(sa.text(f'SELECT count(*) FROM "{SCHEMA}"."{table}" WHERE {where}'),
                                      {"v": value})).scalar()
            if found:
                hits.append(f"{table}.{column}: {value}")
    return hits


async def full_flow(client, actors) -> dict[str, str]:
    """A prosecution referral decided and closed; service referrals completed, rejected and cancelled."""
    ids = {}
    police, office, ngo = actors.police(), actors.prosecution_system(), actors.ngo()

    async def post(path, body, headers, status=200):
        response = await client.post(path, json=body, headers=headers)
        assert response.status_code == status, (path, response.text)
        return response.json()

    made = await post("/v1/referrals", {
        "case_id": str(actors.fake.add_case()), "target_organization_id": str(actors.prosecution_org),
        "kind": "prosecution", "reason": TEXTS["reason"], "urgency": "urgent"},
        police | {"Idempotency-Key": "privacy-create"}, 201)
    rid = ids["prosecution"] = made["id"]
    await post(f"/v1/referrals/{rid}/acknowledge", {"external_reference": EXTERNAL_REFERENCE}, office)
    ids["decision"] = (await post(f"/v1/referrals/{rid}/decisions", {
        "type": "emergency_placement", "concerns": "child", "legal_basis": TEXTS["legal_basis"],
        "decided_at": datetime.now(UTC).isoformat(), "notes": TEXTS["notes"]},
        office | {"Idempotency-Key": "privacy-decision"}, 201))["id"]
    await post(f"/v1/referrals/{rid}/close", {"outcome": TEXTS["close_outcome"]}, office)

    async def service_referral(reason):
        return (await post("/v1/referrals", {
            "case_id": str(actors.fake.add_case()), "target_organization_id": str(actors.ngo_org),
            "kind": "service", "service_type": "family_mediation", "reason": reason}, police, 201))["id"]

    sid = ids["completed"] = await service_referral(TEXTS["ngo_reason"])
    await post(f"/v1/referrals/{sid}/acknowledge", {}, ngo)
    await post(f"/v1/referrals/{sid}/accept", {"note": TEXTS["accept_note"]}, ngo)
    await post(f"/v1/referrals/{sid}/complete", {"outcome": TEXTS["service_outcome"]}, ngo)
    ids["rejected"] = await service_referral("Reason-plain shelter tonight")
    await post(f"/v1/referrals/{ids['rejected']}/reject", {"reason": TEXTS["reject_reason"]}, ngo)
    ids["cancelled"] = await service_referral("Reason-plain school support")
    await post(f"/v1/referrals/{ids['cancelled']}/cancel", {"reason": TEXTS["cancel_reason"]}, police)
    return ids


class TestNothingInClear:
    async def test_a_full_flow_leaves_no_free_text_in_any_column_of_the_schema(self, client, actors, db):
        await full_flow(client, actors)
        assert await plaintext_hits(db, list(TEXTS.values())) == []
        # The scan does find what stays in clear by design (the prosecution's file number), so its silence
        # above means something.
        hits = await plaintext_hits(db, [EXTERNAL_REFERENCE])
        assert "referrals.external_reference: PR-RABAT-2026-7731" in hits

    async def test_the_free_text_columns_hold_blobs_naming_their_key(self, client, actors, db, harness):
        ids = await full_flow(client, actors)
        cipher = harness.app.state.field_cipher
        blob = (await db.execute(sa.text(f'SELECT reason_enc FROM "{SCHEMA}".referrals WHERE id = :id'),
                                 {"id": uuid.UUID(ids["prosecution"])})).scalar_one()
        assert cipher.key_id(blob) == "k1"
        assert cipher.decrypt(blob, table="referrals", column="reason", row_id=ids["prosecution"]) == TEXTS["reason"]
        with pytest.raises(DecryptionError):  # bound to its row: useless when copied to another referral
            cipher.decrypt(blob, table="referrals", column="reason", row_id=ids["completed"])


class TestReadBackThroughTheApi:
    async def test_every_free_text_reads_back_decrypted(self, client, actors):
        ids = await full_flow(client, actors)
        prosecution = (await client.get(f"/v1/referrals/{ids['prosecution']}", headers=actors.police())).json()
        assert prosecution["reason"] == TEXTS["reason"]
        assert prosecution["outcome"] == TEXTS["close_outcome"]
        assert [(d["legal_basis"], d["notes"]) for d in prosecution["decisions"]] == [
            (TEXTS["legal_basis"], TEXTS["notes"])]
        assert [h["note"] for h in prosecution["history"]] == [
            None, EXTERNAL_REFERENCE, "emergency_placement", TEXTS["close_outcome"]]
        completed = (await client.get(f"/v1/referrals/{ids['completed']}", headers=actors.ngo())).json()
        assert (completed["reason"], completed["outcome"]) == (TEXTS["ngo_reason"], TEXTS["service_outcome"])
        assert TEXTS["accept_note"] in [h["note"] for h in completed["history"]]
        rejected = (await client.get(f"/v1/referrals/{ids['rejected']}", headers=actors.ngo())).json()
        assert rejected["rejection_reason"] == TEXTS["reject_reason"]
        listed = (await client.get("/v1/referrals?direction=outgoing&status=cancelled",
                                   headers=actors.police())).json()
        assert [r["cancellation_reason"] for r in listed["items"]] == [TEXTS["cancel_reason"]]

    async def test_an_idempotent_replay_returns_the_decrypted_first_answer(self, client, actors, db):
        headers = actors.police() | {"Idempotency-Key": "privacy-replay"}
        body = {"case_id": str(actors.fake.add_case()), "target_organization_id": str(actors.prosecution_org),
                "kind": "prosecution", "reason": TEXTS["reason"], "urgency": "urgent"}
        first = await client.post("/v1/referrals", json=body, headers=headers)
        again = await client.post("/v1/referrals", json=body, headers=headers)
        assert (first.status_code, again.status_code) == (201, 201), again.text
        assert again.headers.get("Idempotent-Replayed") == "true"
        assert again.content == first.content
        assert again.json()["reason"] == TEXTS["reason"]
        assert await plaintext_hits(db, [TEXTS["reason"]]) == []


class TestEvents:
    async def test_stored_events_open_to_their_free_texts_for_delivery(self, client, actors, db, harness):
        ids = await full_flow(client, actors)
        cipher = harness.app.state.field_cipher
        rows = (await db.execute(sa.select(outbox_events.c.event_type, outbox_events.c.payload).where(
            outbox_events.c.aggregate_id == uuid.UUID(ids["prosecution"]),
            outbox_events.c.destination == "cases"))).all()
        opened = {event_type: open_event(cipher, payload)["data"] for event_type, payload in rows}
        assert opened["referral.sent"]["reason"] == TEXTS["reason"]
        assert opened["referral.decision_recorded"]["legal_basis"] == TEXTS["legal_basis"]
        assert opened["referral.closed"]["outcome"] == TEXTS["close_outcome"]
        stored = dict(rows)["referral.sent"]
        assert "reason" not in stored["data"] and stored["data"]["sequence"] == 1
