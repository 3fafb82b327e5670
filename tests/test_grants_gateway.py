"""Decision 0107: an access grant ends when its reason ends, or at its expiry, and no replayed event revives it.

Through the gateway with the four real processes: a prosecution office and an NGO see a case only while the
referral they received is open; an NGO that reported a child loses the case when it closes; an expired grant
answers 404; the referral's old `referral.sent`, re-signed and re-sent to cases' internal endpoint as an attacker
holding a captured event (or an outbox retry) would, restores nothing, even once its id has left the processed
events (as the purge makes it). Events travel through the real outbox, so effects are awaited, never timed.
"""

from __future__ import annotations

import asyncio
import concurrent.futures
import json
import uuid
from datetime import UTC, datetime, timedelta
from typing import Any

import asyncpg
import httpx
import pytest
from authz.provision import RABAT, RABAT_COMMUNE, Actor, Directory, expect, wait_for

from himaya import signing
from himaya_dev.devstack import Stack

pytestmark = pytest.mark.stack


def sql(stack: Stack, query: str, *args: Any) -> list[dict[str, Any]]:
    """Run one statement as the superuser on the stack's database (a raw look, or time passing)."""
    async def run() -> list[dict[str, Any]]:
        conn = await asyncpg.connect(stack.config.admin_url)
        try:
            return [dict(r) for r in await conn.fetch(query, *args)]
        finally:
            await conn.close()

    with concurrent.futures.ThreadPoolExecutor(max_workers=1) as pool:
        return pool.submit(asyncio.run, run()).result()


@pytest.fixture(scope="module")
def cast(directory: Directory) -> dict[str, Actor]:
    d = directory
    d.organization("grants-police", type_="police", territory=RABAT)
    d.organization("grants-cape", type_="cape", territory=RABAT)
    d.organization("grants-ngo", type_="ngo", territory=RABAT)
    d.organization("grants-ngo-2", type_="ngo", territory=RABAT)
    d.organization("grants-prosecution", type_="prosecution_office", territory=RABAT, court_code="TPI-RAB")
    return {
        "police": d.user("police@grants", role="police_officer", org="grants-police", territories=[RABAT]),
        "cm": d.user("cm@grants", role="case_manager", org="grants-cape", territories=[RABAT]),
        "ngo": d.user("ngo@grants", role="ngo_worker", org="grants-ngo", territories=[RABAT]),
        "ngo2": d.user("ngo2@grants", role="ngo_worker", org="grants-ngo-2", territories=[RABAT]),
        "prosecutor": d.user("prosecutor@grants", role="prosecutor", org="grants-prosecution",
                             territories=[RABAT]),
    }


def intake(gateway: httpx.Client, actor: Actor) -> str:
    body = {"reported_at": (datetime.now(UTC) - timedelta(hours=1)).isoformat(), "source": "ngo",
            "commune_code": RABAT_COMMUNE, "place_type": "market", "night": False,
            "exploitation_pattern": "with_adult", "narrative": "Grants test: a girl selling tissues.",
            "children": [{"first_name": "Salma", "last_name": f"Grant{uuid.uuid4().hex[:8]}", "sex": "female",
                          "estimated_age_years": 8}], "adults": []}
    return str(expect(gateway.post("/v1/intakes", json=body, headers=actor.headers), 201)["cases"][0]["id"])


def sees(gateway: httpx.Client, actor: Actor, case_id: str) -> bool:
    """Whether `actor` reads the case (200) or not (404, naming nothing)."""
    read = gateway.get(f"/v1/cases/{case_id}", headers=actor.headers)
    assert read.status_code in (200, 404), read.text
    assert read.status_code == 200 or "Salma" not in read.text
    return read.status_code == 200


def hidden(gateway: httpx.Client, actor: Actor, case_id: str) -> bool:
    """Every path to the case is closed to `actor` (read, casework, timeline, list), naming nothing."""
    assert not sees(gateway, actor, case_id)
    for part in ("timeline", "adults", "assessments", "care-plans", "services", "follow-ups", "placements",
                 "judicial-measures"):
        response = gateway.get(f"/v1/cases/{case_id}/{part}", headers=actor.headers)
        assert response.status_code == 404, (part, response.text)
    listed = expect(gateway.get("/v1/cases", params={"limit": 200}, headers=actor.headers), 200)
    assert case_id not in {c["id"] for c in listed["items"]}
    assert "Salma" not in json.dumps(listed)
    return True


def referral(gateway: httpx.Client, sender: Actor, case_id: str, target: dict[str, Any], kind: str) -> dict[str, Any]:
    body = {"case_id": case_id, "target_organization_id": target["id"], "kind": kind,
            "reason": "Grants test referral."}
    if kind == "service":
        body["service_type"] = "legal_aid"
    return dict(expect(gateway.post("/v1/referrals", json=body, headers=sender.headers), 201))


def sent_event(stack: Stack, referral_id: str) -> dict[str, Any]:
    """The referral.sent event the outbox delivered to cases (what an attacker could have captured)."""
    rows = sql(stack, "SELECT payload::text AS payload FROM referrals.outbox_events WHERE aggregate_id = $1 "
               "AND destination = 'cases' AND event_type = 'referral.sent'", uuid.UUID(referral_id))
    assert len(rows) == 1
    return dict(json.loads(rows[0]["payload"]))


def post_to_cases(stack: Stack, event: dict[str, Any]) -> httpx.Response:
    """Send an event to cases' internal endpoint, correctly signed with the events secret."""
    body = json.dumps(event).encode()
    headers = {**signing.signed_headers(stack.config.secrets["events_secret"].encode(), body),
               "Content-Type": "application/json"}
    return httpx.post(stack.config.base_url("cases") + "/internal/v1/events", content=body, headers=headers,
                      timeout=15.0)


def replays_restore_nothing(stack: Stack, gateway: httpx.Client, actor: Actor, event: dict[str, Any]) -> None:
    """The captured event re-sent as it was, after its id was purged, and under a fresh id: still 404."""
    again = post_to_cases(stack, event)
    assert again.status_code == 200 and again.json()["status"] == "duplicate"
    assert hidden(gateway, actor, event["case_id"])
    sql(stack, "DELETE FROM cases.processed_events WHERE event_id = $1", uuid.UUID(event["id"]))
    purged = post_to_cases(stack, event)
    assert purged.status_code == 200 and purged.json()["status"] == "processed"
    assert hidden(gateway, actor, event["case_id"])
    renamed = post_to_cases(stack, {**event, "id": str(uuid.uuid4())})
    assert renamed.status_code == 200
    assert hidden(gateway, actor, event["case_id"])
    grants = sql(stack, "SELECT revoked_at, source_sequence FROM cases.case_access_grants WHERE source_id = $1",
                 uuid.UUID(event["referral_id"]))
    assert len(grants) == 1 and grants[0]["revoked_at"] is not None
    assert grants[0]["source_sequence"] > event["data"]["sequence"]


class TestReferralGrants:
    def test_prosecution_office_loses_the_case_when_its_referral_is_closed_and_a_replay_does_not_restore_it(
            self, stack: Stack, gateway: httpx.Client, cast: dict[str, Actor]) -> None:
        police, prosecutor = cast["police"], cast["prosecutor"]
        case_id = intake(gateway, police)
        expect(gateway.post(f"/v1/cases/{case_id}/transitions", json={"to": "screened"}, headers=police.headers),
               200)
        assert not sees(gateway, prosecutor, case_id)
        ref = referral(gateway, police, case_id, {"id": str(prosecutor.organization_id)}, "prosecution")
        wait_for(lambda: sees(gateway, prosecutor, case_id), what="the prosecution office's grant")
        expect(gateway.post(f"/v1/referrals/{ref['id']}/acknowledge", json={"external_reference": "PR-GRANTS-1"},
                            headers=prosecutor.headers), 200)
        expect(gateway.post(f"/v1/referrals/{ref['id']}/decisions", headers={
            **prosecutor.headers, "Idempotency-Key": str(uuid.uuid4())}, json={
            "type": "open_investigation", "concerns": "child",
            "decided_at": (datetime.now(UTC) - timedelta(minutes=5)).isoformat()}), 201)
        expect(gateway.post(f"/v1/referrals/{ref['id']}/close", json={"outcome": "Investigation opened."},
                            headers=prosecutor.headers), 200)
        wait_for(lambda: not sees(gateway, prosecutor, case_id), what="the grant to end with the referral")
        assert hidden(gateway, prosecutor, case_id)
        replays_restore_nothing(stack, gateway, prosecutor, sent_event(stack, ref["id"]))

    def test_ngo_loses_the_case_when_its_referral_is_cancelled_and_a_replay_does_not_restore_it(
            self, stack: Stack, gateway: httpx.Client, cast: dict[str, Actor]) -> None:
        cm, ngo = cast["cm"], cast["ngo2"]
        case_id = intake(gateway, cm)
        assert not sees(gateway, ngo, case_id)
        ref = referral(gateway, cm, case_id, {"id": str(ngo.organization_id)}, "service")
        wait_for(lambda: sees(gateway, ngo, case_id), what="the NGO's grant")
        expect(gateway.post(f"/v1/referrals/{ref['id']}/cancel", json={"reason": "Another service found."},
                            headers=cm.headers), 200)
        wait_for(lambda: not sees(gateway, ngo, case_id), what="the grant to end with the cancellation")
        assert hidden(gateway, ngo, case_id)
        replays_restore_nothing(stack, gateway, ngo, sent_event(stack, ref["id"]))

    def test_ngo_loses_the_case_when_it_rejects_the_referral(
            self, gateway: httpx.Client, cast: dict[str, Actor]) -> None:
        cm, ngo = cast["cm"], cast["ngo2"]
        case_id = intake(gateway, cm)
        ref = referral(gateway, cm, case_id, {"id": str(ngo.organization_id)}, "service")
        wait_for(lambda: sees(gateway, ngo, case_id), what="the NGO's grant")
        expect(gateway.post(f"/v1/referrals/{ref['id']}/reject", json={"reason": "No place this month."},
                            headers=ngo.headers), 200)
        wait_for(lambda: not sees(gateway, ngo, case_id), what="the grant to end with the rejection")
        assert hidden(gateway, ngo, case_id)


class TestReporterGrants:
    def test_reporting_ngo_loses_the_case_when_it_closes(self, gateway: httpx.Client,
                                                         cast: dict[str, Actor]) -> None:
        ngo, cm = cast["ngo"], cast["cm"]
        case_id = intake(gateway, ngo)
        assert sees(gateway, ngo, case_id)
        expect(gateway.post(f"/v1/cases/{case_id}/transitions", json={"to": "screened"}, headers=cm.headers), 200)
        assert sees(gateway, ngo, case_id)
        expect(gateway.post(f"/v1/cases/{case_id}/transitions", json={
            "to": "closed_not_in_scope", "reason": "Not begging: selling with the family."}, headers=cm.headers), 200)
        assert hidden(gateway, ngo, case_id)
        assert sees(gateway, cm, case_id)

    def test_expired_grant_answers_404(self, stack: Stack, gateway: httpx.Client, cast: dict[str, Actor]) -> None:
        ngo = cast["ngo"]
        case_id = intake(gateway, ngo)
        assert sees(gateway, ngo, case_id)
        # Time passes: the grant's lifetime runs out without its reason having ended.
        changed = sql(stack, "UPDATE cases.case_access_grants SET expires_at = now() - interval '1 minute' "
                      "WHERE case_id = $1 AND kind = 'reporter' RETURNING revoked_at", uuid.UUID(case_id))
        assert len(changed) == 1 and changed[0]["revoked_at"] is None
        assert hidden(gateway, ngo, case_id)
        children = gateway.get("/v1/children", params={"q": "Salma"}, headers=ngo.headers)
        assert children.status_code in (200, 403) and case_id not in children.text
