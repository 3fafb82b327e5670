"""A slow upstream gives 504, a dead one 503 (refused connection) or 502 (broken answer), as problems."""

from __future__ import annotations

import asyncio
import contextlib
import socket
from typing import Any

import httpx

from himaya_dev.testing.plugin import TokenFactory


class TestSlowUpstream:
    async def test_slow_upstream_gives_504_problem(self, make_stack: Any, tokens: TokenFactory) -> None:
        async with make_stack(upstream_timeouts={"cases": 0.3}) as s, s.client() as c:
            r = await c.get("/v1/stats/slow?seconds=3", headers=tokens.headers())
            assert r.status_code == 504
            assert r.headers["content-type"] == "application/problem+json"
            assert r.json()["code"] == "gateway_timeout"
            # The timeout is per upstream: identity's default timeout is untouched.
            assert (await c.get("/v1/me", headers=tokens.headers())).status_code == 200


class TestDeadUpstream:
    async def test_refused_connection_gives_503_with_retry_after(self, make_stack: Any,
                                                                 tokens: TokenFactory) -> None:
        with socket.socket() as sock:
            sock.bind(("127.0.0.1", 0))
            dead = f"http://127.0.0.1:{sock.getsockname()[1]}"  # bound, never listening: refused
            async with make_stack(referrals_url=dead) as s, s.client() as c:
                r = await c.get("/v1/referrals", headers=tokens.headers())
                assert r.status_code == 503
                assert r.json()["code"] == "service_unavailable"
                assert r.headers["retry-after"] == "5"
                ready = await c.get("/readyz")
                assert ready.status_code == 503
                assert ready.json()["upstreams"] == {"identity": "ready", "cases": "ready",
                                                     "referrals": "unreachable"}

    async def test_upstream_closing_the_connection_gives_502(self, make_stack: Any,
                                                             tokens: TokenFactory) -> None:
        async def slam(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
            await reader.readuntil(b"\r\n\r\n")
            writer.write(b"garbage that is not HTTP\r\n\r\n")
            await writer.drain()
            writer.close()

        server = await asyncio.start_server(slam, "127.0.0.1", 0)
        port = server.sockets[0].getsockname()[1]
        try:
            async with make_stack(cases_url=f"http://127.0.0.1:{port}") as s, s.client() as c:
                r = await c.get("/v1/cases", headers=tokens.headers())
                assert r.status_code == 502
                assert r.json()["code"] == "bad_gateway"
        finally:
            server.close()
            with contextlib.suppress(Exception):
                await server.wait_closed()


class TestReadiness:
    async def test_all_upstreams_ready(self, gw: httpx.AsyncClient) -> None:
        r = await gw.get("/readyz")
        assert r.status_code == 200
        assert r.json()["upstreams"] == {"identity": "ready", "cases": "ready", "referrals": "ready"}
