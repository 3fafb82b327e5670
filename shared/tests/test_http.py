"""The typed client retries only idempotent calls and propagates the request id and caller."""

import httpx
import pytest

from himaya.http import ServiceClient
from himaya.logging import request_id_var


def flaky_transport(failures: int, seen: list[httpx.Request]) -> httpx.MockTransport:
    def handler(request: httpx.Request) -> httpx.Response:
        seen.append(request)
        if len(seen) <= failures:
            return httpx.Response(503)
        return httpx.Response(200, json={"ok": True})

    return httpx.MockTransport(handler)


def client_with(transport: httpx.MockTransport) -> ServiceClient:
    return ServiceClient("http://svc", backoff=0.0, client=httpx.AsyncClient(transport=transport))


class TestRetries:
    async def test_get_is_retried_until_success(self):
        seen: list[httpx.Request] = []
        response = await client_with(flaky_transport(2, seen)).request("GET", "/x")
        assert response.status_code == 200 and len(seen) == 3

    async def test_post_without_key_is_not_retried(self):
        seen: list[httpx.Request] = []
        response = await client_with(flaky_transport(2, seen)).request("POST", "/x", json={})
        assert response.status_code == 503 and len(seen) == 1

    async def test_post_with_idempotency_key_is_retried(self):
        seen: list[httpx.Request] = []
        response = await client_with(flaky_transport(1, seen)).request("POST", "/x", json={},
                                                                      idempotency_key="k1")
        assert response.status_code == 200 and len(seen) == 2
        assert {r.headers["idempotency-key"] for r in seen} == {"k1"}

    async def test_gives_up_after_max_retries(self):
        seen: list[httpx.Request] = []
        response = await client_with(flaky_transport(10, seen)).request("GET", "/x")
        assert response.status_code == 503 and len(seen) == 4

    async def test_transport_errors_are_raised_for_non_idempotent_calls(self):
        def handler(request):
            raise httpx.ConnectError("refused")

        with pytest.raises(httpx.ConnectError):
            await client_with(httpx.MockTransport(handler)).request("POST", "/x")


class TestPropagation:
    async def test_request_id_and_caller_are_forwarded(self):
        seen: list[httpx.Request] = []
        token = request_id_var.set("req-12345678")
        try:
            await client_with(flaky_transport(0, seen)).request("GET", "/x", authorization="Bearer abc")
        finally:
            request_id_var.reset(token)
        assert seen[0].headers["x-request-id"] == "req-12345678"
        assert seen[0].headers["authorization"] == "Bearer abc"
