"""Offence data per audience (decision 0105): a decider without `offences:read` records a decision about an
adult and reads back neither it nor any legal basis or note; with the scope, everything."""

import uuid
from datetime import UTC, datetime

from himaya.scopes import ROLE_SCOPES, Role

WITHOUT_OFFENCES = tuple(str(s) for s in ROLE_SCOPES[Role.PARTNER_SYSTEM] if str(s) != "offences:read")


async def acknowledged(client, actors):
    made = await client.post("/v1/referrals", headers=actors.police(), json={
        "case_id": str(actors.fake.add_case()), "target_organization_id": str(actors.prosecution_org),
        "kind": "prosecution", "reason": "Infant begging at night", "urgency": "urgent"})
    assert made.status_code == 201, made.text
    rid = made.json()["id"]
    ack = await client.post(f"/v1/referrals/{rid}/acknowledge", json={"external_reference": "PR-AUD-1"},
                            headers=actors.prosecution_system())
    assert ack.status_code == 200, ack.text
    return rid


class TestDeciderWithoutOffences:
    async def test_its_answers_and_reads_carry_no_offence_data(self, client, actors):
        rid = await acknowledged(client, actors)
        blind = actors.partner_system(actors.prosecution_org, WITHOUT_OFFENCES)
        body = {"type": "prosecute_adult", "concerns": "adult", "adult_id": str(uuid.uuid4()),
                "legal_basis": "Basis-Alaoui art. 327", "notes": "Notes-Alaoui custody",
                "decided_at": datetime.now(UTC).isoformat()}
        headers = blind | {"Idempotency-Key": f"aud-{rid}"}
        first = await client.post(f"/v1/referrals/{rid}/decisions", json=body, headers=headers)
        again = await client.post(f"/v1/referrals/{rid}/decisions", json=body, headers=headers)
        assert (first.status_code, again.status_code) == (201, 201)
        assert again.content == first.content
        assert (first.json()["legal_basis"], first.json()["notes"]) == (None, None)
        assert b"Alaoui" not in first.content
        detail = await client.get(f"/v1/referrals/{rid}", headers=blind)
        assert detail.json()["decisions"] == []
        assert [h["note"] for h in detail.json()["history"]][-1] is None
        assert b"Alaoui" not in detail.content and b"prosecute_adult" not in detail.content

        full = (await client.get(f"/v1/referrals/{rid}", headers=actors.prosecution_system())).json()
        assert [(d["type"], d["legal_basis"], d["notes"]) for d in full["decisions"]] == [
            ("prosecute_adult", "Basis-Alaoui art. 327", "Notes-Alaoui custody")]
        assert full["history"][-1]["note"] == "prosecute_adult"
