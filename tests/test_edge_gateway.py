"""Edge hygiene through the gateway, with the four real processes (decision 0108).

Repeated single-valued headers are refused; a client cannot choose its own address with X-Forwarded-For
(identity's throttling, the gateway's limits and every service's audit see the socket peer, or behind a
trusted proxy the rightmost untrusted hop); IPv6 clients are limited per /64; request logs never carry a
query string's values. The loopback network gives the test several client addresses (127.0.0.2, ...).
"""

from __future__ import annotations

import asyncio
import dataclasses
import secrets
import socket
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from typing import Any

import asyncpg
import httpx
import pytest
from authz.provision import MARRAKECH, MARRAKECH_COMMUNE, NATIONAL, Directory, expect, wait_for

from himaya_dev.devstack import Stack, StackConfig
from tests.faults_support import free_port

pytestmark = pytest.mark.stack

SPOOFED = "203.0.113.66"



def client_from(base_url: str, address: str) -> httpx.Client:
    """A client whose connections leave from `address` (any 127.x address is this machine)."""
    return httpx.Client(base_url=base_url, timeout=15.0, transport=httpx.HTTPTransport(local_address=address))


def raw_request(port: int, request: bytes) -> tuple[int, bytes]:
    """Send bytes as they are (no client library merges or drops a header) and return the status and body."""
    with socket.create_connection(("127.0.0.1", port), timeout=10) as sock:
        sock.sendall(request)
        data = b""
        while chunk := sock.recv(65536):
            data += chunk
    head, _, body = data.partition(b"\r\n\r\n")
    return int(head.split(b" ", 2)[1]), body


def rows(config: StackConfig, query: str, *args: Any) -> list[asyncpg.Record]:
    """A raw read of the database as its owner."""
    async def run() -> list[asyncpg.Record]:
        conn = await asyncpg.connect(config.admin_url)
        try:
            return list(await conn.fetch(query, *args))
        finally:
            await conn.close()
    return asyncio.run(run())


def now_iso(minutes: int = 0) -> str:
    return (datetime.now(UTC) + timedelta(minutes=minutes)).isoformat()


@pytest.fixture(scope="module")
def people(directory: Directory) -> dict[str, Any]:
    """A police officer and a prosecution system of Marrakech, and a national auditor."""
    d = directory
    d.organization("police-marrakech", type_="police", territory=MARRAKECH)
    d.organization("prosecution-marrakech", type_="prosecution_office", territory=MARRAKECH, court_code="TPI-MRK")
    d.organization("ministry", type_="ministry", territory=NATIONAL)
    return {
        "police": d.user("police@edge", role="police_officer", org="police-marrakech", territories=[MARRAKECH]),
        "office": d.client("prosecution-system@edge", org="prosecution-marrakech", territories=[MARRAKECH]),
        "auditor": d.user("auditor@edge", role="auditor", org="ministry", territories=[NATIONAL]),
    }


class TestRepeatedHeaders:
    def test_two_authorization_headers_are_refused_whatever_their_order(self, gateway, admin_token):
        valid, other = f"Bearer {admin_token}", "Bearer not-a-token"
        assert expect(gateway.get("/v1/me", headers={"Authorization": valid}), 200)["username"] == "admin"
        for pair in ((valid, other), (other, valid), (valid, valid)):
            response = gateway.get("/v1/me", headers=[("Authorization", pair[0]), ("Authorization", pair[1])])
            assert response.status_code == 400, response.text
            assert response.headers["content-type"].startswith("application/problem+json")
            body = response.json()
            assert body["code"] == "repeated_header" and "authorization" in body["detail"]
            assert "admin" not in response.text  # nothing of the caller's account came back

    def test_two_idempotency_keys_or_content_types_on_a_write_are_refused(self, gateway, admin_token):
        auth = ("Authorization", f"Bearer {admin_token}")
        name = f"Edge org {secrets.token_hex(3)}"
        body = f'{{"name": "{name}", "type": "ngo", "territory_code": "{MARRAKECH}"}}'
        json_type = ("Content-Type", "application/json")
        for headers in ([auth, json_type, ("Idempotency-Key", "k-1-" + name), ("Idempotency-Key", "k-2-" + name)],
                        [auth, json_type, ("Content-Type", "text/plain")]):
            response = gateway.post("/v1/organizations", content=body, headers=headers)
            assert response.status_code == 400 and response.json()["code"] == "repeated_header", response.text
        # Neither request reached identity: no organisation by that name exists.
        listed = expect(gateway.get("/v1/organizations", params={"limit": 200},
                                    headers={"Authorization": f"Bearer {admin_token}"}), 200)
        assert name not in str(listed)

    def test_two_host_headers_are_refused(self, stack, admin_token):
        port = stack.config.ports["gateway"]
        status, body = raw_request(port, (
            f"GET /v1/me HTTP/1.1\r\nHost: 127.0.0.1:{port}\r\nHost: identity:8001\r\n"
            f"Authorization: Bearer {admin_token}\r\nConnection: close\r\n\r\n").encode())
        assert status == 400 and b"repeated_header" in body and b"admin" not in body

    def test_two_content_lengths_never_reach_a_service(self, stack, admin_token):
        # The HTTP parser itself refuses a request whose length is ambiguous (request smuggling).
        port = stack.config.ports["gateway"]
        payload = b'{"name": "x", "type": "ngo", "territory_code": "07.351"}'
        status, _ = raw_request(port, (
            f"POST /v1/organizations HTTP/1.1\r\nHost: 127.0.0.1:{port}\r\nAuthorization: Bearer {admin_token}\r\n"
            f"Content-Type: application/json\r\nContent-Length: {len(payload)}\r\nContent-Length: 5\r\n"
            "Connection: close\r\n\r\n").encode() + payload)
        assert status == 400


class TestForwardedForFromUntrustedPeers:
    def test_identity_throttles_the_real_source_not_the_spoofed_ones(self, stack, admin_token):
        base = stack.config.base_url("gateway")
        password = stack.config.secrets["admin_password"]
        with client_from(base, "127.0.0.3") as outsider:
            for i in range(30):  # identity's per-source threshold; every attempt claims another address
                response = outsider.post("/v1/auth/token", data={
                    "grant_type": "password", "username": f"ghost-{i}-{secrets.token_hex(3)}",
                    "password": "wrong-password-xyz"}, headers={"X-Forwarded-For": f"198.51.100.{i + 1}"})
                assert response.status_code == 401, response.text
            # The failures were counted against 127.0.0.3: even the right password is now refused from there.
            blocked = outsider.post("/v1/auth/token", data={
                "grant_type": "password", "username": "admin", "password": password},
                headers={"X-Forwarded-For": "198.51.100.250"})
            assert blocked.status_code == 429 and "access_token" not in blocked.text
        with client_from(base, "127.0.0.1") as neighbour:
            assert neighbour.post("/v1/auth/token", data={
                "grant_type": "password", "username": "admin", "password": password}).status_code == 200
        events = rows(stack.config, "SELECT DISTINCT source_ip FROM identity.audit_events WHERE action = 'login' "
                                    "AND actor LIKE 'username:ghost-%'")
        assert {r["source_ip"] for r in events} == {"127.0.0.3"}

    def test_identity_reached_directly_ignores_a_forwarded_address(self, stack):
        # Only the gateway (127.0.0.1) is a trusted proxy of identity; another peer cannot claim an address.
        with client_from(stack.config.base_url("identity"), "127.0.0.4") as direct:
            username = f"phantom-{secrets.token_hex(3)}"
            direct.post("/v1/auth/token", data={"grant_type": "password", "username": username,
                                                 "password": "wrong-password-xyz"},
                        headers={"X-Forwarded-For": SPOOFED})
        events = rows(stack.config, "SELECT source_ip FROM identity.audit_events WHERE actor = $1",
                      f"username:{username}")
        assert [r["source_ip"] for r in events] == ["127.0.0.4"]


class TestAuditRecordsTheClient:
    def test_a_case_read_is_audited_with_the_clients_address(self, stack, gateway, people):
        police, auditor = people["police"], people["auditor"]
        intake = expect(gateway.post("/v1/intakes", headers=police.headers, json={
            "reported_at": now_iso(-30), "source": "field_patrol", "commune_code": MARRAKECH_COMMUNE,
            "place_type": "market", "night": False, "exploitation_pattern": "with_adult",
            "children": [{"description": "A boy selling tissues", "sex": "male", "estimated_age_years": 8}],
            "adults": []}), 201)
        case_id = intake["cases"][0]["id"]
        with client_from(stack.config.base_url("gateway"), "127.0.0.2") as remote:
            expect(remote.get(f"/v1/cases/{case_id}", headers={**police.headers, "X-Forwarded-For": SPOOFED}), 200)
        events = expect(gateway.get("/v1/audit", params={"case_id": case_id, "limit": 200},
                                    headers=auditor.headers), 200)["items"]
        reads = [e for e in events if e["action"] == "case.read" and e["actor"] == police.subject]
        assert reads and {e["source_ip"] for e in reads} == {"127.0.0.2"}
        assert SPOOFED not in str(events)

    def test_a_referral_read_and_an_administrators_change_are_audited_with_the_clients_address(
            self, stack, gateway, people, admin_token):
        police, office = people["police"], people["office"]
        intake = expect(gateway.post("/v1/intakes", headers=police.headers, json={
            "reported_at": now_iso(-30), "source": "field_patrol", "commune_code": MARRAKECH_COMMUNE,
            "place_type": "traffic_light", "night": True, "exploitation_pattern": "with_adult",
            "children": [{"description": "A girl at the lights at night", "sex": "female",
                          "estimated_age_years": 5}], "adults": []}), 201)
        case_id = intake["cases"][0]["id"]
        expect(gateway.post(f"/v1/cases/{case_id}/transitions", headers=police.headers, json={"to": "screened"}), 200)
        referral = expect(gateway.post("/v1/referrals", headers=police.headers, json={
            "case_id": case_id, "target_organization_id": str(office.organization_id), "kind": "prosecution",
            "urgency": "urgent", "reason": "A young girl begging at night at the lights."}), 201)
        base = stack.config.base_url("gateway")
        with client_from(base, "127.0.0.2") as remote:
            expect(remote.get(f"/v1/referrals/{referral['id']}",
                              headers={**police.headers, "X-Forwarded-For": SPOOFED}), 200)
            org = expect(remote.post("/v1/organizations", headers={
                "Authorization": f"Bearer {admin_token}", "X-Forwarded-For": SPOOFED}, json={
                "name": f"Edge NGO {secrets.token_hex(3)}", "type": "ngo", "territory_code": MARRAKECH}), 201)
        reads = rows(stack.config, "SELECT source_ip FROM referrals.audit_events WHERE action = 'referral.read' "
                                   "AND object_id = $1", referral["id"])
        assert [r["source_ip"] for r in reads] == ["127.0.0.2"]
        created = rows(stack.config, "SELECT source_ip FROM identity.audit_events "
                                     "WHERE action = 'organization.create' AND object_id = $1", org["id"])
        assert [r["source_ip"] for r in created] == ["127.0.0.2"]
        spoofed = rows(stack.config, "SELECT count(*) AS n FROM (SELECT source_ip FROM identity.audit_events "
                                     "UNION ALL SELECT source_ip FROM cases.audit_events UNION ALL "
                                     "SELECT source_ip FROM referrals.audit_events) a WHERE source_ip = $1", SPOOFED)
        assert spoofed[0]["n"] == 0


@pytest.fixture(scope="module")
def fronted_gateway(stack: Stack) -> Iterator[str]:
    """A second gateway process behind a (pretend) load balancer at 127.0.0.1, with a small per-source limit."""
    ports = {**stack.config.ports, "gateway": free_port()}
    config = dataclasses.replace(stack.config, ports=ports, extra={
        **stack.config.extra, "GATEWAY_TRUSTED_PROXIES": '["127.0.0.1/32"]', "GATEWAY_RATE_LIMIT_PER_IP": "3"})
    second = Stack(config, log_dir=stack.log_dir)
    second.start("gateway")
    try:
        second.wait_ready(("gateway",))
        yield config.base_url("gateway")
    finally:
        second.stop("gateway")


class TestSourceLimits:
    PATH = "/.well-known/jwks.json"  # public and proxied: only the per-source limit applies

    def statuses(self, client: httpx.Client, forwarded: list[str]) -> list[int]:
        return [client.get(self.PATH, headers={"X-Forwarded-For": f}).status_code for f in forwarded]

    def test_ipv6_clients_are_limited_per_64(self, fronted_gateway):
        with client_from(fronted_gateway, "127.0.0.1") as balancer:
            block = f"{secrets.randbelow(65536):x}"
            same_64 = [f"2001:db8:{block}:7::{i}" for i in range(1, 4)] + [f"2001:db8:{block}:7:ffff:ffff:ffff:ffff"]
            assert self.statuses(balancer, same_64) == [200, 200, 200, 429]
            # Another /64 of the same /48 is another client.
            assert self.statuses(balancer, [f"2001:db8:{block}:8::1"]) == [200]

    def test_ipv4_clients_are_limited_per_address(self, fronted_gateway):
        with client_from(fronted_gateway, "127.0.0.1") as balancer:
            assert self.statuses(balancer, ["192.0.2.10"] * 4) == [200, 200, 200, 429]
            assert self.statuses(balancer, ["192.0.2.11"]) == [200]

    def test_an_untrusted_peer_cannot_spread_its_requests_over_forwarded_addresses(self, fronted_gateway):
        with client_from(fronted_gateway, "127.0.0.5") as outsider:
            assert self.statuses(outsider, [f"192.0.2.{i}" for i in range(100, 104)]) == [200, 200, 200, 429]


class TestLogs:
    def test_request_logs_carry_neither_the_query_string_nor_the_name_searched(self, stack, gateway, people):
        name = f"Zineb{secrets.token_hex(3)}"
        expect(gateway.get("/v1/children", params={"q": f"{name} Tazi", "sex": "female", "age": 7},
                           headers=people["police"].headers), 200)
        # The access line of that request is written once the response is sent: wait for it, then scan.
        logs = list(stack.log_dir.glob("*.log"))
        wait_for(lambda: any('"route":"/v1/children"' in p.read_text(errors="replace") for p in logs),
                 what="the children search's access-log line")
        for path in logs:
            text = path.read_text(errors="replace")
            assert name not in text, path.name
