"""Referrals' offence data and webhooks, attacked through the gateway with the four real processes
(decision 0105).

- A case manager who sent a prosecution referral, an NGO worker and a health focal point (none holds
  `offences:read`) never see a decision about an adult, a legal basis or a decision's notes: not in the
  referral, its history, the polling feed, nor in the events their organisations' webhooks receive.
- Subscribing needs `referrals:read`; a subscription receives only its organisation's referrals' events.
- Webhook URLs on internal addresses, in every spelling, are refused at creation, and again at delivery when
  the stored URL no longer passes; what a subscriber's delivery log says of a failure is a fixed sentence.
"""

from __future__ import annotations

import asyncio
import secrets
import threading
import uuid
from collections.abc import Iterator
from datetime import UTC, datetime
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

import asyncpg
import orjson
import pytest
from authz.provision import RABAT, RABAT_COMMUNE, Actor, Directory, expect, wait_for

SECRETS = {
    "child_basis": "Basis-Kettani article 512 placement",
    "child_notes": "Notes-Berrada placed at the Rabat EPS",
    "adult_basis": "Basis-Ouazzani article 327 exploitation",
    "adult_notes": "Notes-Bennani custody of the uncle ordered",
}
ADULT_DECISION = "prosecute_adult"
# The test stack allows 127.0.0.1/32 (its receivers); every other internal address must be refused.
BLOCKED_URLS = [
    "https://127.0.0.2/hook", "https://2130706434/hook", "https://0x7f000002/hook", "https://0177.0.0.2/hook",
    "https://127.2/hook", "https://10.1/hook", "https://0xa9fea9fe/hook", "https://[::1]/hook",
    "https://[::ffff:127.0.0.1]/hook", "https://[::ffff:a00:1]/hook",
    "https://[::127.0.0.1]/hook", "https://[64:ff9b::a9fe:a9fe]/hook", "https://[64:ff9b:1::a00:1]/hook",
    "https://[2002:a9fe:a9fe::1]/hook", "https://[2001:0:4136:e378:8000:63bf:3fff:fdd2]/hook",
    "https://10.0.0.1/hook", "https://172.16.0.1/hook", "https://192.168.0.1/hook", "https://169.254.169.254/hook",
    "https://100.64.0.1/hook", "https://0.0.0.0/hook", "https://224.0.0.1/hook", "https://[fe80::1]/hook",
    "https://[fd00::1]/hook", "http://127.0.0.2:8080/hook", "http://93.184.215.14/hook",
]


class Receiver:
    """An HTTP server on 127.0.0.1 (the only network the test stack allows) recording bodies per path."""

    def __init__(self) -> None:
        received: dict[str, list[bytes]] = {}
        self.received = received

        class Handler(BaseHTTPRequestHandler):
            def do_POST(self) -> None:
                body = self.rfile.read(int(self.headers.get("content-length", "0")))
                received.setdefault(self.path, []).append(body)
                self.send_response(200)
                self.send_header("Content-Length", "0")
                self.end_headers()

            def log_message(self, *args: Any) -> None:
                return

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.port = self.server.server_address[1]
        self.thread = threading.Thread(target=self.server.serve_forever, daemon=True)
        self.thread.start()

    def url(self, path: str) -> str:
        return f"http://127.0.0.1:{self.port}{path}"

    def events(self, path: str) -> list[dict[str, Any]]:
        return [orjson.loads(b) for b in self.received.get(path, [])]

    def close(self) -> None:
        self.server.shutdown()
        self.server.server_close()


class Setup:
    """Organisations, people and partner systems of one Rabat scenario, and its webhooks."""

    def __init__(self, d: Directory, receiver: Receiver) -> None:
        self.d, self.gw, self.receiver = d, d.gateway, receiver
        tag = secrets.token_hex(3)
        self.tag = tag
        for key, type_ in (("police", "police"), ("cape", "cape"), ("ngo", "ngo"), ("health", "health")):
            d.organization(f"sec-{key}-{tag}", type_=type_, territory=RABAT)
        d.organization(f"sec-prosecution-{tag}", type_="prosecution_office", territory=RABAT, court_code="TPI-RAB")
        org = {k: f"sec-{k}-{tag}" for k in ("police", "cape", "ngo", "health", "prosecution")}
        self.org_ids = {k: d.organizations[v]["id"] for k, v in org.items()}
        self.cm = d.user(f"cm-{tag}", role="case_manager", org=org["cape"], territories=[RABAT])
        self.prosecutor = d.user(f"pros-{tag}", role="prosecutor", org=org["prosecution"], territories=[RABAT])
        self.ngo = d.user(f"ngo-{tag}", role="ngo_worker", org=org["ngo"], territories=[RABAT])
        self.focal = d.user(f"focal-{tag}", role="focal_point", org=org["health"], territories=[RABAT])
        hooks = ["directory:read", "referrals:read", "webhooks:manage"]
        self.cape_system = d.client(f"cape-sys-{tag}", org=org["cape"], territories=[RABAT], scopes=hooks)
        self.ngo_system = d.client(f"ngo-sys-{tag}", org=org["ngo"], territories=[RABAT], scopes=hooks)
        self.prosecution_system = d.client(f"pros-sys-{tag}", org=org["prosecution"], territories=[RABAT],
                                           scopes=[*hooks, "offences:read"])
        self.blind_system = d.client(f"blind-sys-{tag}", org=org["health"], territories=[RABAT],
                                     scopes=["directory:read", "webhooks:manage"])

    def subscribe(self, actor: Actor, path: str, *codes: int) -> Any:
        return expect(self.gw.post("/v1/webhook-subscriptions", headers=actor.headers | {
            "Idempotency-Key": str(uuid.uuid4())}, json={
                "url": self.receiver.url(path), "events": ["referral.sent", "referral.acknowledged",
                                                           "referral.decision_recorded", "referral.cancelled"]}),
            *(codes or (201,)))

    def call(self, actor: Actor, method: str, path: str, *codes: int, **kwargs: Any) -> Any:
        headers = actor.headers | kwargs.pop("headers", {})
        return expect(self.gw.request(method, path, headers=headers, **kwargs), *(codes or (200, 201)))

    def case(self) -> tuple[str, str]:
        made = self.call(self.cm, "POST", "/v1/intakes", 201, json={
            "reported_at": datetime.now(UTC).isoformat(), "source": "field_patrol", "commune_code": RABAT_COMMUNE,
            "place_type": "traffic_light", "night": True, "exploitation_pattern": "with_adult",
            "narrative": "Security scenario encounter.",
            "children": [{"first_name": f"Sec{self.tag}", "sex": "female", "estimated_age_years": 5}],
            "adults": [{"first_name": "Uncle", "sex": "male", "age": 40, "claimed_relationship": "other_relative"}]})
        case_id = made["cases"][0]["id"]
        adults = self.call(self.cm, "GET", f"/v1/cases/{case_id}/adults")
        return case_id, adults[0]["id"]

    def refer(self, case_id: str, target: str, kind: str) -> str:
        body: dict[str, Any] = {"case_id": case_id, "target_organization_id": self.org_ids[target], "kind": kind,
                                "reason": "Security scenario referral."}
        if kind == "service":
            body["service_type"] = "legal_aid"
        return str(self.call(self.cm, "POST", "/v1/referrals", 201, json=body)["id"])


@pytest.fixture(scope="module")
def receiver() -> Iterator[Receiver]:
    running = Receiver()
    yield running
    running.close()


@pytest.fixture(scope="module")
def scenario(directory: Directory, receiver: Receiver) -> dict[str, Any]:
    """A prosecution referral sent by a CAPE case manager and decided on (one decision about the child, one
    about the adult, both with legal basis and notes), service referrals to the NGO and the health service,
    and the webhooks of the CAPE, the prosecution office and the NGO."""
    s = Setup(directory, receiver)
    subs = {"cape": s.subscribe(s.cape_system, "/cape"), "prosecution": s.subscribe(s.prosecution_system, "/pros"),
            "ngo": s.subscribe(s.ngo_system, "/ngo")}
    case_id, adult_id = s.case()
    pros = s.refer(case_id, "prosecution", "prosecution")
    to_ngo = s.refer(case_id, "ngo", "service")
    to_health = s.refer(case_id, "health", "service")
    s.call(s.prosecutor, "POST", f"/v1/referrals/{pros}/acknowledge", json={"external_reference": "PR-SEC-1"})
    idem = {"Idempotency-Key": str(uuid.uuid4())}
    child = s.call(s.prosecutor, "POST", f"/v1/referrals/{pros}/decisions", 201, headers=idem, json={
        "type": "emergency_placement", "concerns": "child", "legal_basis": SECRETS["child_basis"],
        "notes": SECRETS["child_notes"], "decided_at": datetime.now(UTC).isoformat()})
    adult = s.call(s.prosecutor, "POST", f"/v1/referrals/{pros}/decisions", 201,
                   headers={"Idempotency-Key": str(uuid.uuid4())}, json={
                       "type": ADULT_DECISION, "concerns": "adult", "adult_id": adult_id,
                       "legal_basis": SECRETS["adult_basis"], "notes": SECRETS["adult_notes"],
                       "decided_at": datetime.now(UTC).isoformat()})
    # The prosecution office's own webhook gets everything: once both decisions are there, so are the others'.
    wait_for(lambda: len([e for e in receiver.events("/pros") if e["type"] == "referral.decision_recorded"]) == 2,
             what="the prosecution office's decision events")
    wait_for(lambda: len([e for e in receiver.events("/cape") if e["type"] == "referral.decision_recorded"]) == 2,
             what="the CAPE's decision events")
    wait_for(lambda: receiver.events("/ngo"), what="the NGO's events")
    return {"s": s, "subs": subs, "pros": pros, "to_ngo": to_ngo, "to_health": to_health, "adult_id": adult_id,
            "child_decision": child["id"], "adult_decision": adult["id"]}


def leaks(text: str, scenario: dict[str, Any]) -> list[str]:
    """Offence data of the scenario found in a body."""
    needles = [*SECRETS.values(), ADULT_DECISION, scenario["adult_id"], scenario["adult_decision"]]
    return [n for n in needles if n in text]


class TestOffenceDataInReferrals:
    def test_the_sender_without_the_offence_scope_sees_the_child_decision_without_basis_or_notes(self, scenario):
        s = scenario["s"]
        response = s.gw.get(f"/v1/referrals/{scenario['pros']}", headers=s.cm.headers)
        detail = expect(response, 200)
        assert [(d["id"], d["type"], d["legal_basis"], d["notes"]) for d in detail["decisions"]] == [
            (scenario["child_decision"], "emergency_placement", None, None)]
        assert [h["note"] for h in detail["history"] if h["event_type"] == "referral.decision_recorded"] == [
            None, None]
        assert leaks(response.text, scenario) == []

    def test_the_prosecutor_sees_both_decisions_with_their_texts(self, scenario):
        s = scenario["s"]
        detail = expect(s.gw.get(f"/v1/referrals/{scenario['pros']}", headers=s.prosecutor.headers), 200)
        assert {(d["type"], d["legal_basis"], d["notes"]) for d in detail["decisions"]} == {
            ("emergency_placement", SECRETS["child_basis"], SECRETS["child_notes"]),
            (ADULT_DECISION, SECRETS["adult_basis"], SECRETS["adult_notes"])}

    def test_no_feed_of_a_caller_without_the_offence_scope_carries_offence_data(self, scenario):
        s = scenario["s"]
        for actor, direction in ((s.cm, "outgoing"), (s.cm, "incoming"), (s.ngo, "incoming"),
                                 (s.focal, "incoming"), (s.cape_system, "outgoing")):
            response = s.gw.get("/v1/referrals", params={"direction": direction, "limit": 100},
                                headers=actor.headers)
            expect(response, 200)
            assert leaks(response.text, scenario) == [], (actor.name, direction)

    def test_service_recipients_cannot_open_the_prosecution_referral(self, scenario):
        s = scenario["s"]
        for actor in (s.ngo, s.focal):
            response = s.gw.get(f"/v1/referrals/{scenario['pros']}", headers=actor.headers)
            assert response.status_code == 404 and leaks(response.text, scenario) == []
        own = expect(s.gw.get(f"/v1/referrals/{scenario['to_ngo']}", headers=s.ngo.headers), 200)
        assert own["decisions"] == []


class TestOffenceDataInWebhooks:
    def test_a_subscriber_without_the_offence_scope_gets_the_steps_without_offence_data(self, scenario):
        s = scenario["s"]
        events = s.receiver.events("/cape")
        decided = [e for e in events if e["type"] == "referral.decision_recorded"]
        assert [e["data"]["status"] for e in decided] == ["decided", "decided"]
        assert sorted(e["data"].get("type", "-") for e in decided) == ["-", "emergency_placement"]
        assert all("legal_basis" not in e["data"] for e in decided)
        raw = b"".join(s.receiver.received["/cape"]).decode()
        assert leaks(raw, scenario) == []

    def test_a_subscriber_holding_the_offence_scope_gets_them(self, scenario):
        s = scenario["s"]
        decided = [e["data"] for e in s.receiver.events("/pros") if e["type"] == "referral.decision_recorded"]
        assert {(d["type"], d["legal_basis"]) for d in decided} == {
            ("emergency_placement", SECRETS["child_basis"]), (ADULT_DECISION, SECRETS["adult_basis"])}

    def test_a_subscription_receives_only_its_organisations_referrals(self, scenario):
        s = scenario["s"]
        ngo = {e["referral_id"] for e in s.receiver.events("/ngo")}
        assert scenario["to_ngo"] in ngo and not {scenario["pros"], scenario["to_health"]} & ngo
        assert {e["referral_id"] for e in s.receiver.events("/pros")} == {scenario["pros"]}
        assert {scenario["pros"], scenario["to_ngo"], scenario["to_health"]} <= {
            e["referral_id"] for e in s.receiver.events("/cape")}

    def test_subscribing_without_the_read_scope_is_refused(self, scenario, directory):
        s = scenario["s"]
        response = s.subscribe(s.blind_system, "/blind", 403)
        assert response["code"] == "forbidden"
        listed = expect(s.gw.get("/v1/webhook-subscriptions", headers=s.blind_system.headers), 200)
        assert listed["items"] == []
        admin = {"Authorization": f"Bearer {directory.admin_token}"}
        refused = directory.gateway.post("/v1/webhook-subscriptions", headers=admin, json={
            "url": s.receiver.url("/admin"), "events": ["referral.sent"]})
        assert refused.status_code == 403
        assert "/blind" not in s.receiver.received and "/admin" not in s.receiver.received


class TestWebhookSsrf:
    @pytest.mark.parametrize("url", BLOCKED_URLS)
    def test_an_internal_address_is_refused_at_creation(self, scenario, url):
        s = scenario["s"]

        def listed() -> list[str]:
            page = expect(s.gw.get("/v1/webhook-subscriptions", params={"limit": 100},
                                   headers=s.ngo_system.headers), 200)
            return [item["id"] for item in page["items"]]

        before = listed()
        response = s.gw.post("/v1/webhook-subscriptions", headers=s.ngo_system.headers, json={
            "url": url, "events": ["referral.sent"]})
        assert response.status_code == 422, response.text
        assert listed() == before

    def test_a_url_that_no_longer_passes_is_refused_at_delivery_with_a_generic_error(self, scenario, stack):
        s = scenario["s"]
        sub = s.subscribe(s.ngo_system, "/rebound")
        # The stored URL now names an internal address (as if its name had been re-pointed after the check).
        rebound = f"http://0x7f000002:{s.receiver.port}/rebound"

        async def repoint() -> None:
            conn = await asyncpg.connect(stack.config.admin_url)
            try:
                await conn.execute("UPDATE referrals.webhook_subscriptions SET url = $1 WHERE id = $2", rebound,
                                   uuid.UUID(sub["id"]))
            finally:
                await conn.close()

        asyncio.run(repoint())
        s.call(s.ngo, "POST", f"/v1/referrals/{scenario['to_ngo']}/acknowledge", json={})
        log = wait_for(lambda: [d for d in expect(s.gw.get(
            f"/v1/webhook-subscriptions/{sub['id']}/deliveries", headers=s.ngo_system.headers), 200)["items"]
            if d["status"] == "dead"], what="the refused delivery")
        assert log[0]["last_error"] == "the subscription's address was refused"
        assert "/rebound" not in s.receiver.received

    def test_an_unreachable_subscriber_is_told_so_without_internal_detail(self, scenario):
        s = scenario["s"]
        with ThreadingHTTPServer(("127.0.0.1", 0), BaseHTTPRequestHandler) as closed:
            port = closed.server_address[1]  # bound then closed: nobody listens there afterwards
        sub = expect(s.gw.post("/v1/webhook-subscriptions", headers=s.cape_system.headers, json={
            "url": f"http://127.0.0.1:{port}/gone", "events": ["referral.cancelled"]}), 201)
        case_id, _ = s.case()
        rid = s.refer(case_id, "ngo", "service")
        s.call(s.cm, "POST", f"/v1/referrals/{rid}/cancel", json={"reason": "Security scenario cancel."})
        path = f"/v1/webhook-subscriptions/{sub['id']}/deliveries"
        failed = wait_for(lambda: [d for d in expect(s.gw.get(path, headers=s.cape_system.headers), 200)["items"]
                                   if d["last_error"]], what="the failed delivery")
        assert failed[0]["last_error"] == "the subscriber could not be reached"
        text = s.gw.get(path, headers=s.cape_system.headers).text
        for internal in ("127.0.0.1", str(port), "Errno", "ConnectError", "refused"):
            assert internal not in text
