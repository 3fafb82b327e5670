"""Committed flows on the real engine with the dispatcher running: the prosecution loop, events to cases
(in order, exactly once, across an outage), concurrent idempotent decisions, webhooks, and polling."""

import asyncio
import uuid
from datetime import UTC, datetime

import orjson
import pytest
import uvicorn
from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import JSONResponse
from starlette.routing import Route

from himaya import signing


@pytest.fixture
async def live(harness):
    """A client whose requests commit (no rolled-back transaction), so the dispatcher sees them."""
    async with harness.client() as c:
        yield c


def decision(type_, concerns="child", **extra):
    return {"type": type_, "concerns": concerns, "legal_basis": "Penal Code art. 327",
            "decided_at": datetime.now(UTC).isoformat(), **extra}


async def refer(live, actors):
    body = {"case_id": str(actors.fake.add_case()), "target_organization_id": str(actors.prosecution_org),
            "kind": "prosecution", "reason": "Infant begging at a traffic light at night", "urgency": "immediate"}
    response = await live.post("/v1/referrals", json=body, headers=actors.police())
    assert response.status_code == 201, response.text
    return response.json()


class TestProsecutionLoop:
    async def test_refer_poll_acknowledge_decide_close_reaches_cases_in_order_once(self, live, actors, until):
        referral = await refer(live, actors)
        prosecution = actors.prosecution_system()

        polled = (await live.get("/v1/referrals?direction=incoming&status=sent", headers=prosecution)).json()
        assert [r["id"] for r in polled["items"]] == [referral["id"]]
        rid = referral["id"]
        ack = await live.post(f"/v1/referrals/{rid}/acknowledge", json={"external_reference": "PR-2026-77"},
                              headers=prosecution)
        assert ack.json()["status"] == "acknowledged"
        adult_id = str(uuid.uuid4())
        placement = await live.post(f"/v1/referrals/{rid}/decisions", json=decision("emergency_placement"),
                                    headers=prosecution | {"Idempotency-Key": f"{rid}-placement"})
        prosecute = await live.post(f"/v1/referrals/{rid}/decisions",
                                    json=decision("prosecute_adult", "adult", adult_id=adult_id),
                                    headers=prosecution | {"Idempotency-Key": f"{rid}-prosecute"})
        assert placement.status_code == prosecute.status_code == 201
        closed = await live.post(f"/v1/referrals/{rid}/close", json={"outcome": "Measures ordered"},
                                 headers=prosecution)
        assert closed.json()["status"] == "closed"

        await until(lambda: len(actors.fake.events_for(rid)) >= 5)
        await asyncio.sleep(0.5)  # a duplicate would arrive now
        events = actors.fake.events_for(rid)
        assert [e["type"] for e in events] == ["referral.sent", "referral.acknowledged",
                                               "referral.decision_recorded", "referral.decision_recorded",
                                               "referral.closed"]
        assert len({e["id"] for e in events}) == 5
        assert [e["data"]["sequence"] for e in events] == [1, 2, 3, 4, 5]
        assert all(e["organization_id"] == str(actors.prosecution_org) for e in events)
        decisions = [e["data"] for e in events if e["type"] == "referral.decision_recorded"]
        assert [(d["type"], d["concerns"], d["adult_id"]) for d in decisions] == [
            ("emergency_placement", "child", None), ("prosecute_adult", "adult", adult_id)]
        assert events[0]["data"]["kind"] == "prosecution" and events[0]["data"]["open"] is True
        assert events[-1]["data"]["open"] is False
        assert actors.fake.bad_signatures == 0

        detail = (await live.get(f"/v1/referrals/{rid}", headers=actors.police())).json()
        assert [d["type"] for d in detail["decisions"]] == ["emergency_placement", "prosecute_adult"]


class TestCasesOutage:
    async def test_decisions_recorded_while_cases_down_arrive_once_after_restart(self, live, actors, fake, until):
        referral = await refer(live, actors)
        rid = referral["id"]
        await until(lambda: len(fake.events_for(rid)) == 1)
        await fake.stop()
        try:
            prosecution = actors.prosecution_system()
            await live.post(f"/v1/referrals/{rid}/acknowledge", json={"external_reference": "PR-9"},
                            headers=prosecution)
            for i, type_ in enumerate(["emergency_placement", "medical_care_order", "dna_expertise_order"]):
                response = await live.post(f"/v1/referrals/{rid}/decisions", json=decision(type_),
                                           headers=prosecution | {"Idempotency-Key": f"{rid}-{i}"})
                assert response.status_code == 201, response.text
            await asyncio.sleep(1.0)  # the dispatcher tries, fails and backs off
            assert len(fake.events_for(rid)) == 1
        finally:
            await fake.start()
        await until(lambda: len(fake.events_for(rid)) >= 5)
        await asyncio.sleep(0.5)
        events = fake.events_for(rid)
        assert [e["data"]["sequence"] for e in events] == [1, 2, 3, 4, 5]
        assert len({e["id"] for e in events}) == 5


class TestConcurrentDecisionRetries:
    async def test_fifty_retries_with_one_key_record_one_decision(self, live, actors, until):
        referral = await refer(live, actors)
        rid = referral["id"]
        prosecution = actors.prosecution_system()
        await live.post(f"/v1/referrals/{rid}/acknowledge", json={"external_reference": "PR-50"},
                        headers=prosecution)
        body = decision("return_to_family")
        headers = prosecution | {"Idempotency-Key": f"retry-{rid}"}
        responses = await asyncio.gather(*[live.post(f"/v1/referrals/{rid}/decisions", json=body, headers=headers)
                                           for _ in range(50)])
        assert {r.status_code for r in responses} == {201}
        assert len({r.content for r in responses}) == 1  # byte-identical, first answer and replays
        detail = (await live.get(f"/v1/referrals/{rid}", headers=prosecution)).json()
        assert len(detail["decisions"]) == 1
        await until(lambda: len(actors.fake.events_for(rid)) >= 3)
        await asyncio.sleep(0.3)
        assert [e["type"] for e in actors.fake.events_for(rid)].count("referral.decision_recorded") == 1


class Receiver:
    """A partner's webhook endpoint on a free port, keeping what it received."""

    def __init__(self, port, status=200):
        self.port, self.status, self.received = port, status, []

    async def __aenter__(self):
        async def hook(request: Request):
            self.received.append((dict(request.headers), await request.body()))
            return JSONResponse({}, status_code=self.status)

        app = Starlette(routes=[Route("/hooks/himaya", hook, methods=["POST"])])
        self.server = uvicorn.Server(uvicorn.Config(app, host="127.0.0.1", port=self.port, log_level="warning",
                                                    lifespan="off"))
        self.task = asyncio.create_task(self.server.serve())
        while not self.server.started:  # noqa: ASYNC110
            await asyncio.sleep(0.02)
        return self

    async def __aexit__(self, *exc):
        self.server.should_exit = True
        await self.task


def free_port():
    import socket

    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


class TestWebhooks:
    async def test_signed_webhook_is_received_and_verifies(self, live, actors, until):
        port = free_port()
        admin = actors.prosecution_system()
        created = await live.post("/v1/webhook-subscriptions", headers=admin, json={
            "url": f"http://127.0.0.1:{port}/hooks/himaya", "events": ["referral.sent", "referral.cancelled"]})
        assert created.status_code == 201, created.text
        sub = created.json()
        assert sub["secret"].startswith("whsec_")
        shown_again = (await live.get(f"/v1/webhook-subscriptions/{sub['id']}", headers=admin)).json()
        assert "secret" not in shown_again
        async with Receiver(port) as receiver:
            referral = await refer(live, actors)
            await until(lambda: len(receiver.received) == 1)
            headers, body = receiver.received[0]
            assert signing.verify(sub["secret"].encode(), body, headers["himaya-timestamp"],
                                  headers["himaya-signature"])
            assert not signing.verify(b"another-secret", body, headers["himaya-timestamp"],
                                      headers["himaya-signature"])
            event = orjson.loads(body)
            assert event["type"] == "referral.sent" and event["referral_id"] == referral["id"]
            assert headers["himaya-event-id"] == event["id"]

            log = (await live.get(f"/v1/webhook-subscriptions/{sub['id']}/deliveries", headers=admin)).json()
            assert [(d["status"], d["event_id"]) for d in log["items"]] == [("delivered", event["id"])]
            again = await live.post(
                f"/v1/webhook-subscriptions/{sub['id']}/deliveries/{log['items'][0]['id']}/redeliver", headers=admin)
            assert again.status_code == 202
            await until(lambda: len(receiver.received) == 2)
            assert orjson.loads(receiver.received[1][1])["id"] == event["id"]

    async def test_failed_deliveries_are_retried_and_logged(self, live, actors, until):
        port = free_port()
        admin = actors.prosecution_system()
        sub = (await live.post("/v1/webhook-subscriptions", headers=admin, json={
            "url": f"http://127.0.0.1:{port}/hooks/himaya", "events": ["referral.sent"]})).json()
        async with Receiver(port, status=503) as receiver:
            await refer(live, actors)
            await until(lambda: len(receiver.received) >= 2)
            log = (await live.get(f"/v1/webhook-subscriptions/{sub['id']}/deliveries", headers=admin)).json()
            assert log["items"][0]["status"] == "pending"
            assert log["items"][0]["attempts"] >= 1
            assert log["items"][0]["last_error"] == "the subscriber answered HTTP 503"
            receiver.status = 200
            async with asyncio.timeout(15):
                while log["items"][0]["status"] != "delivered":
                    await asyncio.sleep(0.1)
                    log = (await live.get(f"/v1/webhook-subscriptions/{sub['id']}/deliveries",
                                          headers=admin)).json()
            assert log["items"][0]["attempts"] >= 3

    async def test_other_organisation_cannot_see_subscription(self, live, actors):
        sub = (await live.post("/v1/webhook-subscriptions", headers=actors.prosecution_system(), json={
            "url": "http://127.0.0.1:9/hooks", "events": ["referral.sent"]})).json()
        other = actors.partner_system(actors.ngo_org)
        assert (await live.get(f"/v1/webhook-subscriptions/{sub['id']}", headers=other)).status_code == 404
        assert (await live.get(f"/v1/webhook-subscriptions/{sub['id']}/deliveries",
                               headers=other)).status_code == 404
        # The organisation's administrator oversees its subscriptions (it cannot create one: no read scope).
        admin = actors.org_admin(actors.prosecution_org)
        assert (await live.post("/v1/webhook-subscriptions", headers=admin, json={
            "url": "http://127.0.0.1:9/hooks", "events": ["referral.sent"]})).status_code == 403
        assert (await live.delete(f"/v1/webhook-subscriptions/{sub['id']}", headers=admin)).status_code == 204


class TestPolling:
    async def test_poller_sees_every_change_once_across_concurrent_writers(self, live, actors):
        prosecution = actors.prosecution_system()
        first = await live.get("/v1/referrals", headers=prosecution)
        cursor = first.json()["poll_cursor"]
        seen: list[tuple[str, str]] = []

        async def poll_once():
            nonlocal cursor
            while True:
                page = (await live.get("/v1/referrals", params={"cursor": cursor, "limit": 3},
                                       headers=prosecution)).json()
                seen.extend((r["id"], r["status"]) for r in page["items"])
                cursor = page["poll_cursor"]
                if page["next_cursor"] is None:
                    return

        async def writer():
            referral = await refer(live, actors)
            await live.post(f"/v1/referrals/{referral['id']}/acknowledge", json={"external_reference": "X"},
                            headers=prosecution)
            return referral["id"]

        writers = asyncio.gather(*[writer() for _ in range(12)])
        while not writers.done():
            await poll_once()
            await asyncio.sleep(0.01)
        ids = await writers
        await poll_once()
        final = {}
        for rid, status in seen:
            final[rid] = status
        assert set(final) == set(ids)
        assert all(status == "acknowledged" for status in final.values())
        assert len(seen) == len(set(seen))  # no change was returned twice
