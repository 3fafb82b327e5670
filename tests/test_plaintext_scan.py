"""No plaintext name, narrative, note or CNIE anywhere in the database after a full scenario (decision 0104).

A Marrakech story through the gateway, every POST with an Idempotency-Key (and the creating POSTs replayed):
an intake with two children (Latin and Arabic names) and an adult (names, CNIE, offence notes), a second
encounter with the same boy and a duplicate review with a note, casework with notes, a prosecution referral
with a reason, decisions with legal bases and notes, and its closing outcome. Then every column of every
table of every schema is read raw, as the database superuser, and searched for each value the story typed:
text as Postgres casts it, bytea as its bytes (and decoded as UTF-8), JSON with its escaped forms, and base64
runs decoded. The idempotency store also replays byte-identical answers, and only to the caller who made them.
"""

from __future__ import annotations

import asyncio
import base64
import binascii
import json
import re
import secrets
import uuid
from datetime import UTC, datetime, timedelta
from typing import Any

import asyncpg
import httpx
import pytest
from authz.provision import MARRAKECH, MARRAKECH_COMMUNE, Actor, Directory, expect, wait_for

pytestmark = pytest.mark.stack

LATIN = "bcdfghjklmnpqrstvwxz"
ARABIC = "بتثجحخدذرزسشصضطظعغفقكلمنهوي"
BASE64_RUN = re.compile(r"[A-Za-z0-9+/_-]{24,}={0,2}")


def word(alphabet: str, length: int = 9) -> str:
    """A random word that appears nowhere else (so a hit is this story's value, never a coincidence)."""
    return "".join(secrets.choice(alphabet) for _ in range(length)).capitalize()


def now_iso(minutes: int = 0) -> str:
    """An RFC 3339 time `minutes` from now."""
    return (datetime.now(UTC) + timedelta(minutes=minutes)).isoformat()


class Caller:
    """Calls through the gateway; every POST carries a fresh Idempotency-Key."""

    def __init__(self, client: httpx.Client) -> None:
        self.client = client

    def post(self, actor: Actor, path: str, body: dict[str, Any] | None, *codes: int) -> Any:
        return expect(self.post_raw(actor, path, body, f"scan-{uuid.uuid4()}"), *(codes or (200, 201)))

    def post_raw(self, actor: Actor, path: str, body: dict[str, Any] | None, key: str) -> httpx.Response:
        return self.client.post(path, json=body if body is not None else {},
                                headers={**actor.headers, "Idempotency-Key": key})

    def created_twice(self, actor: Actor, path: str, body: dict[str, Any]) -> Any:
        """Create, then replay the same key: the replay must be the same bytes."""
        key = f"scan-{uuid.uuid4()}"
        first = self.post_raw(actor, path, body, key)
        expect(first, 201)
        again = self.post_raw(actor, path, body, key)
        assert again.status_code == 201 and again.content == first.content, path
        assert again.headers.get("idempotent-replayed") == "true"
        return first.json()

    def get(self, actor: Actor, path: str, **params: Any) -> Any:
        return expect(self.client.get(path, headers=actor.headers, params=params or None), 200)

    def patch(self, actor: Actor, path: str, body: dict[str, Any], etag: str) -> httpx.Response:
        response = self.client.patch(path, json=body, headers={**actor.headers, "If-Match": etag})
        expect(response, 200)
        return response


@pytest.fixture(scope="module")
def actors(directory: Directory) -> dict[str, Actor]:
    """The Marrakech actors of the story."""
    d = directory
    d.organization("scan-police", type_="police", territory=MARRAKECH)
    d.organization("scan-cape", type_="cape", territory=MARRAKECH)
    d.organization("scan-prosecution", type_="prosecution_office", territory=MARRAKECH, court_code="TPI-MRK")
    return {
        "police": d.user("police@scan", role="police_officer", org="scan-police", territories=[MARRAKECH]),
        "cm": d.user("cm@scan", role="case_manager", org="scan-cape", territories=[MARRAKECH]),
        "other_cm": d.user("cm2@scan", role="case_manager", org="scan-cape", territories=[MARRAKECH]),
        "coordinator": d.user("coord@scan", role="team_coordinator", org="scan-cape", territories=[MARRAKECH]),
        "prosecutor": d.user("prosecutor@scan", role="prosecutor", org="scan-prosecution",
                             territories=[MARRAKECH]),
    }


@pytest.fixture(scope="module")
def plaintexts(directory: Directory, actors: dict[str, Actor]) -> dict[str, str]:
    """Run the story; return every sensitive value it typed, by what it is."""
    gw = Caller(directory.gateway)
    police, cm, coordinator, prosecutor = actors["police"], actors["cm"], actors["coordinator"], actors["prosecutor"]
    typed = {
        "child first name": word(LATIN), "child last name": word(LATIN),
        "child first name (ar)": word(ARABIC, 6), "child last name (ar)": word(ARABIC, 6),
        "adult first name": word(LATIN), "adult last name (ar)": word(ARABIC, 6),
        "cnie": f"Q{secrets.choice('JKLMNPRSTUVWXYZ')}{secrets.randbelow(10**6):06d}",
        "narrative": f"Begging at the {word(LATIN)} crossroads with a woman after midnight",
        "child description": f"Small boy in a {word(LATIN)} jacket",
        "offence notes": f"Seen collecting money from {word(LATIN)} children",
        "duplicate note": f"Same boy, same {word(LATIN)} scar on the left hand",
        "closing reason": f"Seen with his {word(LATIN)} uncle, not begging",
        "transition reason": f"Screened after a {word(LATIN)} interview",
        "filiation notes": f"Birth act from {word(LATIN)} does not match",
        "assessment summary": f"Household of five in a {word(LATIN)} room",
        "care plan": f"School enrolment at {word(LATIN)} primary school",
        "service notes": f"Enrolled with teacher {word(LATIN)}",
        "follow-up notes": f"Child seen at home, {word(LATIN)} attends school",
        "referral reason": f"Two children begging at night; {word(LATIN)} filiation unproven",
        "legal basis": f"Art. 327 Penal Code, {word(LATIN)} file",
        "decision notes": f"Placement ordered after {word(LATIN)} hearing",
        "referral outcome": f"Returned to the {word(LATIN)} family",
    }
    boy = {"first_name": typed["child first name"], "last_name": typed["child last name"], "sex": "male",
           "estimated_age_years": 6, "description": typed["child description"]}
    intake = gw.created_twice(cm, "/v1/intakes", {
        "reported_at": now_iso(-120), "source": "field_patrol", "commune_code": MARRAKECH_COMMUNE,
        "place_type": "tourist_site", "night": True, "exploitation_pattern": "with_adult",
        "narrative": typed["narrative"],
        "children": [boy, {"first_name_ar": typed["child first name (ar)"],
                           "last_name_ar": typed["child last name (ar)"], "sex": "female", "estimated_age_years": 2}],
        "adults": [{"first_name": typed["adult first name"], "last_name_ar": typed["adult last name (ar)"],
                    "sex": "female", "age": 34, "cnie": typed["cnie"], "claimed_relationship": "mother",
                    "suspected_offender": True, "offence_notes": typed["offence notes"]}]})
    case_id, adult_id = intake["cases"][0]["id"], intake["adult_ids"][0]

    # The same boy met again: the duplicate review, with a note, merges the two records.
    again = gw.created_twice(cm, "/v1/intakes", {
        "reported_at": now_iso(-60), "source": "field_patrol", "commune_code": MARRAKECH_COMMUNE,
        "place_type": "market", "exploitation_pattern": "with_adult",
        "children": [{k: v for k, v in boy.items() if k != "description"}], "adults": []})
    again_case, again_child = again["cases"][0]["id"], again["cases"][0]["child_id"]
    gw.post(cm, f"/v1/cases/{again_case}/transitions", {"to": "screened"}, 200)
    gw.post(cm, f"/v1/cases/{again_case}/transitions",
            {"to": "closed_not_in_scope", "reason": typed["closing reason"]}, 200)
    gw.created_twice(cm, f"/v1/children/{again_child}/duplicate-reviews", {
        "other_child_id": intake["cases"][0]["child_id"], "decision": "same", "note": typed["duplicate note"]})

    # Casework with notes.
    gw.post(cm, f"/v1/cases/{case_id}/transitions", {"to": "screened", "reason": typed["transition reason"]}, 200)
    gw.created_twice(police, f"/v1/cases/{case_id}/filiation-checks", {
        "adult_id": adult_id, "claimed_relationship": "mother", "methods": ["documents"],
        "notes": typed["filiation notes"]})
    gw.created_twice(cm, f"/v1/cases/{case_id}/assessments", {
        "type": "social_enquiry", "summary": typed["assessment summary"]})
    gw.created_twice(cm, f"/v1/cases/{case_id}/care-plans", {"objectives": typed["care plan"]})
    gw.created_twice(cm, f"/v1/cases/{case_id}/services", {
        "beneficiary": "child", "service_type": "school_enrolment", "notes": typed["service notes"]})
    gw.created_twice(cm, f"/v1/cases/{case_id}/follow-ups", {
        "visited_at": now_iso(-30), "child_seen": True, "notes": typed["follow-up notes"]})

    # The referral to the prosecution, its decisions and its close.
    referral = gw.created_twice(police, "/v1/referrals", {
        "case_id": case_id, "target_organization_id": str(prosecutor.organization_id), "kind": "prosecution",
        "urgency": "urgent", "reason": typed["referral reason"]})
    gw.post(prosecutor, f"/v1/referrals/{referral['id']}/acknowledge", {"external_reference": "PR-SCAN-1"}, 200)
    gw.created_twice(prosecutor, f"/v1/referrals/{referral['id']}/decisions", {
        "type": "emergency_placement", "concerns": "child", "legal_basis": typed["legal basis"],
        "decided_at": now_iso(-5), "notes": typed["decision notes"]})
    gw.created_twice(prosecutor, f"/v1/referrals/{referral['id']}/decisions", {
        "type": "prosecute_adult", "concerns": "adult", "adult_id": adult_id, "legal_basis": typed["legal basis"],
        "decided_at": now_iso(-4)})
    gw.post(prosecutor, f"/v1/referrals/{referral['id']}/close", {"outcome": typed["referral outcome"]}, 200)

    # Everything the outbox carries has arrived at cases before the scan.
    def delivered() -> bool:
        items = gw.get(coordinator, f"/v1/cases/{case_id}/timeline", limit=200)["items"]
        types = [e["event_type"] for e in items]
        return types.count("referral.decision_recorded") >= 1 and "referral.closed" in types
    wait_for(delivered, what="the referral's events at cases")
    return typed


async def _scan(url: str, needles: dict[str, str]) -> list[str]:
    """Every (schema.table.column, what) where a plaintext value was found."""
    forms: dict[str, list[bytes]] = {}
    for what, value in needles.items():
        variants = {value, value.casefold(), value.upper(), json.dumps(value)[1:-1], json.dumps(value.casefold())[1:-1]}
        forms[what] = [v.encode() for v in variants]
        forms[what] += [v.encode("utf-16-le") for v in (value,)]
    conn = await asyncpg.connect(url)
    found: list[str] = []
    try:
        columns = await conn.fetch("""
            SELECT c.table_schema, c.table_name, c.column_name, c.data_type
            FROM information_schema.columns c JOIN information_schema.tables t
              ON t.table_schema = c.table_schema AND t.table_name = c.table_name
            WHERE t.table_type = 'BASE TABLE'
              AND c.table_schema NOT IN ('pg_catalog', 'information_schema') AND c.table_schema NOT LIKE 'pg_%'
            ORDER BY 1, 2, c.ordinal_position""")
        assert {r["table_schema"] for r in columns} >= {"identity", "cases", "referrals"}
        assert "idempotency_keys" in {r["table_name"] for r in columns}
        for row in columns:
            schema, table, column = row["table_schema"], row["table_name"], row["column_name"]
            expression = f'"{column}"' if row["data_type"] == "bytea" else f'"{column}"::text'
            values = await conn.fetch(
                f'SELECT {expression} AS v FROM "{schema}"."{table}" WHERE "{column}" IS NOT NULL')
            for record in values:
                value = record["v"]
                raw = bytes(value) if isinstance(value, (bytes, memoryview)) else str(value).encode()
                blobs = [raw, raw.lower()]
                for run in BASE64_RUN.findall(raw.decode("utf-8", "replace")):
                    for decode in (base64.b64decode, base64.urlsafe_b64decode):
                        try:
                            blobs.append(decode(run + "=" * (-len(run) % 4)))
                        except (binascii.Error, ValueError):
                            pass
                for what, variants in forms.items():
                    if any(v in blob or v.lower() in blob for v in variants for blob in blobs):
                        found.append(f"{schema}.{table}.{column}: {what}")
    finally:
        await conn.close()
    return sorted(set(found))


class TestPlaintextScan:
    def test_no_plaintext_in_any_column_of_any_schema(self, plaintexts, stack):
        found = asyncio.run(_scan(stack.config.admin_url, plaintexts))
        assert found == [], "plaintext found:\n" + "\n".join(found)

    def test_the_scan_finds_a_value_that_is_stored_in_clear(self, plaintexts, stack):
        # The scan itself must be able to fail: the organisation names are stored in clear by identity.
        found = asyncio.run(_scan(stack.config.admin_url, {"organisation": "scan-prosecution"}))
        assert "identity.organizations.name: organisation" in found


class TestIdempotencyReplay:
    def test_another_caller_with_the_same_key_does_not_get_the_first_answer(self, directory, actors):
        gw = Caller(directory.gateway)
        body = {"reported_at": now_iso(-10), "source": "citizen", "commune_code": MARRAKECH_COMMUNE,
                "place_type": "market", "exploitation_pattern": "alone",
                "children": [{"first_name": word(LATIN), "sex": "female", "estimated_age_years": 8}], "adults": []}
        key = f"shared-{uuid.uuid4()}"
        first = gw.post_raw(actors["cm"], "/v1/intakes", body, key)
        replay = gw.post_raw(actors["cm"], "/v1/intakes", body, key)
        other = gw.post_raw(actors["other_cm"], "/v1/intakes", body, key)
        expect(first, 201)
        assert replay.content == first.content and replay.headers["idempotent-replayed"] == "true"
        expect(other, 201)
        assert "idempotent-replayed" not in other.headers
        # The other caller's request was applied for them: a new intake and case, not the first caller's answer.
        assert other.json()["id"] != first.json()["id"] and first.json()["id"] not in other.text
        assert {c["id"] for c in other.json()["cases"]}.isdisjoint(c["id"] for c in first.json()["cases"])

    def test_same_key_with_another_body_is_refused_without_the_first_answer(self, directory, actors):
        gw = Caller(directory.gateway)
        name = word(LATIN)
        body = {"reported_at": now_iso(-10), "source": "citizen", "commune_code": MARRAKECH_COMMUNE,
                "place_type": "market", "exploitation_pattern": "alone",
                "children": [{"first_name": name, "sex": "male", "estimated_age_years": 9}], "adults": []}
        key = f"reused-{uuid.uuid4()}"
        expect(gw.post_raw(actors["cm"], "/v1/intakes", body, key), 201)
        changed = {**body, "children": [{**body["children"][0], "estimated_age_years": 10}]}
        refused = gw.post_raw(actors["cm"], "/v1/intakes", changed, key)
        assert refused.status_code == 422 and refused.json()["code"] == "idempotency_key_reused"
        assert name not in refused.text
