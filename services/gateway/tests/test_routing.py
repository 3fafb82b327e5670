"""Routing: every prefix reaches the service that owns it, with the request id and forwarded headers."""

from __future__ import annotations

import uuid

import httpx
import pytest

from gateway_service.routing import ROUTES, route
from himaya_dev.testing.plugin import TokenFactory


class TestRouteTable:
    def test_whole_segments_only(self) -> None:
        assert route("/v1/cases") == "cases"
        assert route("/v1/cases/123/timeline") == "cases"
        assert route("/v1/casesx") is None
        assert route("/internal/v1/events") is None

    def test_every_public_operation_of_the_services_is_routed_to_its_owner(self) -> None:
        # EPS capacity (cases), signing keys (identity) and dead letters (referrals) were unreachable
        # through the gateway: the one /v1 surface must reach every public operation.
        assert route("/v1/institutions") == "cases"
        assert route("/v1/institutions/5c8a/") == "cases"
        assert route("/v1/signing-keys/rotate") == "identity"
        assert route("/v1/dead-letters/5c8a/replay") == "referrals"


class TestEveryPrefix:
    @pytest.mark.parametrize(("prefix", "service"), ROUTES)
    async def test_prefix_reaches_its_owner(self, gw: httpx.AsyncClient, tokens: TokenFactory, prefix: str,
                                            service: str) -> None:
        path = prefix + "/jwks.json" if prefix == "/.well-known" else prefix + "/" + str(uuid.uuid4())
        r = await gw.get(path + "?limit=5&cursor=a%2Fb", headers=tokens.headers())
        assert r.status_code == 200, r.text
        body = r.json()
        assert body["service"] == service
        assert body["path"] == path
        assert body["query"] == "limit=5&cursor=a%2Fb"
        assert r.headers["x-upstream"] == service


class TestForwardedHeaders:
    async def test_well_formed_request_id_reaches_upstream_and_comes_back(
            self, gw: httpx.AsyncClient, tokens: TokenFactory) -> None:
        rid = "partner-req-0001"
        r = await gw.get("/v1/me", headers={**tokens.headers(), "X-Request-ID": rid})
        assert r.headers["x-request-id"] == rid
        assert r.json()["headers"]["x-request-id"] == rid

    async def test_malformed_request_id_is_replaced(self, gw: httpx.AsyncClient, tokens: TokenFactory) -> None:
        r = await gw.get("/v1/me", headers={**tokens.headers(), "X-Request-ID": "bad id <script>"})
        rid = r.headers["x-request-id"]
        assert rid != "bad id <script>" and len(rid) == 32
        assert r.json()["headers"]["x-request-id"] == rid

    async def test_forwarded_headers_are_set_and_client_claims_replaced(
            self, gw: httpx.AsyncClient, tokens: TokenFactory) -> None:
        r = await gw.get("/v1/me", headers={**tokens.headers(), "X-Forwarded-For": "203.0.113.9",
                                            "Forwarded": "for=1.2.3.4"})
        seen = r.json()["headers"]
        assert seen["x-forwarded-for"] == "127.0.0.1"
        assert seen["x-forwarded-proto"] == "http"
        assert seen["x-forwarded-host"].startswith("127.0.0.1:")
        assert "forwarded" not in seen
        assert seen["authorization"].startswith("Bearer ")  # services verify the token again

    async def test_upstream_server_and_date_headers_are_not_doubled(self, gw: httpx.AsyncClient,
                                                                    tokens: TokenFactory) -> None:
        r = await gw.get("/v1/me", headers=tokens.headers())
        assert len(r.headers.get_list("date")) == 1
        assert len(r.headers.get_list("server")) == 1
        assert len(r.headers.get_list("x-request-id")) == 1

    async def test_request_body_reaches_upstream(self, gw: httpx.AsyncClient, tokens: TokenFactory) -> None:
        r = await gw.post("/v1/intakes", headers=tokens.headers(), content=b"{" + b" " * 100_000 + b"}")
        assert r.status_code == 200
        assert r.json()["body_length"] == 100_002
        assert r.json()["method"] == "POST"

    async def test_unrouted_path_is_not_proxied(self, gw: httpx.AsyncClient, tokens: TokenFactory,
                                                stack: object) -> None:
        r = await gw.post("/internal/v1/events", headers=tokens.headers(), json={"code": "x"})
        assert r.status_code in (404, 405)
        assert r.headers["content-type"] == "application/problem+json"
