"""Webhook SSRF guard (decision 0105): every non-public form of an address is refused, the delivery connects
to the very address that was checked (a name is resolved once), and failures reach the subscriber only as
fixed sentences. The rebinding tests use a resolver seam and real sockets."""

import asyncio
import contextlib
import uuid
from datetime import UTC, datetime

import orjson
import pytest
import sqlalchemy as sa

from himaya.outbox import OutboxEvent, PermanentDeliveryError
from referrals_service.core.tables import webhook_subscriptions
from referrals_service.core.urlguard import UnsafeWebhookUrl, check_webhook_url, system_resolver, url_guard
from referrals_service.delivery.dispatcher import (
    ADDRESS_REFUSED,
    NOT_ENTITLED,
    REDIRECTED,
    UNREACHABLE,
    WebhookDelivery,
    WebhookFailure,
    webhook_http_client,
)
from referrals_service.webhooks.service import GENERIC_DELIVERY_ERROR, public_error

from .conftest import free_port

BLOCKED = [
    "https://127.0.0.1/hook", "https://127.1/hook", "https://2130706433/hook", "https://0x7f000001/hook",
    "https://0177.0.0.1/hook", "https://0x7f.0.0.1/hook", "https://017700000001/hook",
    "https://[::1]/hook", "https://[::]/hook", "https://0.0.0.0/hook",
    "https://[::ffff:127.0.0.1]/hook", "https://[::ffff:7f00:1]/hook", "https://[::ffff:8.8.8.8]/hook",
    "https://[::127.0.0.1]/hook", "https://[::ffff:0:127.0.0.1]/hook",
    "https://[64:ff9b::7f00:1]/hook", "https://[64:ff9b::808:808]/hook", "https://[64:ff9b:1::a00:1]/hook",
    "https://[2002:7f00:1::]/hook", "https://[2002:808:808::1]/hook",
    "https://[2001:0:4136:e378:8000:63bf:3fff:fdd2]/hook",
    "https://10.0.0.1/hook", "https://172.16.5.4/hook", "https://192.168.1.1/hook", "https://169.254.169.254/hook",
    "https://100.64.0.1/hook", "https://198.18.0.1/hook", "https://192.0.0.8/hook", "https://224.0.0.1/hook",
    "https://239.255.255.250/hook", "https://255.255.255.255/hook", "https://240.0.0.1/hook",
    "https://[fe80::1]/hook", "https://[fc00::1]/hook", "https://[fd12:3456::1]/hook", "https://[ff02::1]/hook",
    "https://[fec0::1]/hook", "https://[2001:db8::1]/hook", "https://[fe80::1%25eth0]/hook",
    "http://93.184.215.14/hook", "ftp://93.184.215.14/hook", "https://user:pw@93.184.215.14/hook",
]


async def no_dns(host, port):
    raise AssertionError(f"a literal address was resolved: {host}")


class TestAddressForms:
    @pytest.mark.parametrize("url", BLOCKED)
    async def test_a_non_public_form_is_refused(self, url):
        with pytest.raises(UnsafeWebhookUrl):
            await check_webhook_url(url, allow_private=False, resolver=no_dns)

    async def test_a_public_literal_passes_and_is_what_we_connect_to(self):
        target = await check_webhook_url("https://93.184.215.14/hook?x=1", allow_private=False, resolver=no_dns)
        assert target.connect_url == "https://93.184.215.14:443/hook?x=1"
        assert target.host_header == "93.184.215.14"

    async def test_a_name_is_refused_if_any_of_its_addresses_is_not_public(self):
        async def mixed(host, port):
            return ["93.184.215.14", "10.1.2.3"]

        with pytest.raises(UnsafeWebhookUrl):
            await check_webhook_url("https://hooks.example.org/x", allow_private=False, resolver=mixed)

    async def test_a_name_resolving_to_a_translated_address_is_refused(self):
        async def nat64(host, port):
            return ["64:ff9b::a9fe:a9fe"]  # 169.254.169.254 through NAT64

        with pytest.raises(UnsafeWebhookUrl):
            await check_webhook_url("https://hooks.example.org/x", allow_private=False, resolver=nat64)

    async def test_a_name_that_passes_keeps_its_name_for_host_and_tls(self):
        async def public(host, port):
            return ["93.184.215.14"]

        target = await check_webhook_url("https://hooks.example.org:8443/x", allow_private=False, resolver=public)
        assert (target.connect_url, target.host_header, target.hostname) == (
            "https://93.184.215.14:8443/x", "hooks.example.org:8443", "hooks.example.org")

    async def test_an_allowed_network_admits_only_itself(self):
        guard = url_guard(allow_private=False, allowed_networks=["127.0.0.1/32"], resolver=no_dns)
        assert str((await guard("http://127.0.0.1:9/x")).address) == "127.0.0.1"
        for url in ("http://127.0.0.2:9/x", "http://[::ffff:127.0.0.1]:9/x", "http://10.0.0.1/x"):
            with pytest.raises(UnsafeWebhookUrl):
                await guard(url)


class Receiver:
    """A real HTTP server on 127.0.0.1 recording each request's Host header and body."""

    def __init__(self, status=200, headers=None):
        self.port = free_port()
        self.status = status
        self.headers = headers or {}
        self.requests: list[tuple[str, bytes]] = []
        self._server = None

    async def _handle(self, reader, writer):
        head = await reader.readuntil(b"\r\n\r\n")
        lines = head.decode().split("\r\n")
        fields = {k.strip().lower(): v.strip() for k, v in (line.split(":", 1) for line in lines[1:] if ":" in line)}
        body = await reader.readexactly(int(fields.get("content-length", "0")))
        self.requests.append((fields.get("host", ""), body))
        extra = "".join(f"{k}: {v}\r\n" for k, v in self.headers.items())
        writer.write(f"HTTP/1.1 {self.status} X\r\nContent-Length: 0\r\n{extra}Connection: close\r\n\r\n".encode())
        await writer.drain()
        writer.close()

    async def __aenter__(self):
        self._server = await asyncio.start_server(self._handle, "127.0.0.1", self.port)
        return self

    async def __aexit__(self, *exc):
        self._server.close()
        await self._server.wait_closed()


class FlippingResolver:
    """Answers the checked address the first time and an internal one afterwards (a rebinding DNS server)."""

    def __init__(self, first, then):
        self.answers = [first, then]
        self.calls = 0

    async def __call__(self, host, port):
        self.calls += 1
        return [self.answers[min(self.calls - 1, 1)]]


@pytest.fixture
async def subscription(harness, actors):
    """A committed subscription of the prosecution office whose owner could read referrals (not offences)."""
    sid = uuid.uuid4()

    async def make(url, scopes=("referrals:read",)):
        async with harness.engine.begin() as conn:
            await conn.execute(sa.insert(webhook_subscriptions).values(
                id=sid, organization_id=actors.prosecution_org, url=url, events=["referral.sent"], secret="whsec_t",
                description=None, active=True, created_by="client:test", created_at=datetime.now(UTC),
                owner_scopes=list(scopes)))
        return sid

    yield make
    async with harness.engine.begin() as conn:
        await conn.execute(sa.update(webhook_subscriptions).where(webhook_subscriptions.c.id == sid)
                           .values(active=False))


@contextlib.asynccontextmanager
async def delivery_to(harness, resolver=system_resolver):
    """The webhook delivery as the dispatcher runs it, allowing only 127.0.0.1 (where the receivers listen)."""
    http = webhook_http_client(5.0)
    try:
        yield WebhookDelivery(http, harness.engine, cipher=harness.app.state.field_cipher,
                              guard=url_guard(allow_private=False, allowed_networks=["127.0.0.1/32"],
                                              resolver=resolver))
    finally:
        await http.aclose()


def event_for(sid, org, *, data=None):
    payload = {"id": str(uuid.uuid4()), "type": "referral.sent", "referral_id": str(uuid.uuid4()),
               "data": {"sender_organization_id": str(uuid.uuid4()), "target_organization_id": str(org),
                        "sequence": 1, **(data or {})}}
    return OutboxEvent(id=uuid.uuid4(), event_type="referral.sent", destination=f"webhook:{sid}",
                       aggregate_id=uuid.UUID(payload["referral_id"]), payload=payload, attempts=0,
                       created_at=datetime.now(UTC))


class TestDeliveryConnectsToTheCheckedAddress:
    async def test_a_rebinding_name_is_resolved_once_and_the_checked_address_is_used(self, harness, actors,
                                                                                     subscription):
        async with Receiver() as receiver:
            resolver = FlippingResolver("127.0.0.1", "10.20.30.40")
            sid = await subscription(f"http://rebind.invalid:{receiver.port}/hook")
            async with delivery_to(harness, resolver) as delivery:
                await delivery(event_for(sid, actors.prosecution_org))
                # `rebind.invalid` does not resolve anywhere: the request reached the receiver only because the
                # client connected to the checked address, with the registered name as Host.
                assert resolver.calls == 1
                assert [host for host, _ in receiver.requests] == [f"rebind.invalid:{receiver.port}"]
                with pytest.raises(PermanentDeliveryError) as refused:  # the next resolution is internal
                    await delivery(event_for(sid, actors.prosecution_org))
                assert str(refused.value) == ADDRESS_REFUSED
                assert resolver.calls == 2 and len(receiver.requests) == 1

    async def test_redirects_are_not_followed(self, harness, actors, subscription):
        async with Receiver() as inside, Receiver(status=302, headers={"Location": "http://127.0.0.1:1/"}) as hook:
            inside_url = f"http://127.0.0.1:{inside.port}/metadata"
            hook.headers["Location"] = inside_url
            sid = await subscription(f"http://127.0.0.1:{hook.port}/hook")
            async with delivery_to(harness) as delivery:
                with pytest.raises(PermanentDeliveryError) as refused:
                    await delivery(event_for(sid, actors.prosecution_org))
            assert str(refused.value) == REDIRECTED
            assert len(hook.requests) == 1 and inside.requests == []

    async def test_an_unreachable_subscriber_fails_with_a_generic_sentence(self, harness, actors, subscription):
        port = free_port()
        sid = await subscription(f"http://127.0.0.1:{port}/hook")
        async with delivery_to(harness) as delivery:
            with pytest.raises(WebhookFailure) as failed:
                await delivery(event_for(sid, actors.prosecution_org))
        assert str(failed.value) == UNREACHABLE and "127.0.0.1" not in str(failed.value)

    async def test_an_event_of_another_organisation_is_not_delivered(self, harness, actors, subscription):
        async with Receiver() as receiver:
            sid = await subscription(f"http://127.0.0.1:{receiver.port}/hook")
            async with delivery_to(harness) as delivery:
                with pytest.raises(PermanentDeliveryError) as refused:
                    await delivery(event_for(sid, actors.ngo_org))
            assert str(refused.value) == NOT_ENTITLED and receiver.requests == []

    async def test_a_decision_about_an_adult_reaches_a_subscriber_without_offences_without_its_details(
            self, harness, actors, subscription):
        async with Receiver() as receiver:
            sid = await subscription(f"http://127.0.0.1:{receiver.port}/hook")
            adult = str(uuid.uuid4())
            event = event_for(sid, actors.prosecution_org, data={
                "status": "decided", "decision_id": str(uuid.uuid4()), "type": "prosecute_adult",
                "concerns": "adult", "adult_id": adult, "legal_basis": "Basis-secret art. 327",
                "decided_at": datetime.now(UTC).isoformat()})
            event.payload["type"] = "referral.decision_recorded"
            async with delivery_to(harness) as delivery:
                await delivery(event)
            body = receiver.requests[0][1]
            data = orjson.loads(body)["data"]
            assert data["status"] == "decided"
            assert not {"type", "concerns", "adult_id", "legal_basis", "decision_id"} & set(data)
            assert b"prosecute_adult" not in body and adult.encode() not in body and b"Basis-secret" not in body


class TestPublicErrors:
    def test_stored_errors_show_only_fixed_sentences(self):
        assert public_error("WebhookFailure: the subscriber could not be reached") == UNREACHABLE
        assert public_error("the subscriber answered HTTP 503") == "the subscriber answered HTTP 503"
        assert public_error("ConnectError: [Errno 111] Connect call failed ('10.0.0.7', 443)") == \
            GENERIC_DELIVERY_ERROR
        assert public_error("the subscriber answered HTTP 503 from 10.0.0.7") == GENERIC_DELIVERY_ERROR
        assert public_error(None) is None
