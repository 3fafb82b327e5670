"""Limits at the edge: per-client and per-source rate limits (stricter on the token endpoint), 429 with
Retry-After, 413 for large bodies; shared by replicas through Redis when one is configured."""

from __future__ import annotations

import asyncio
import uuid
from typing import Any

import pytest

from gateway_service.limits import Limit, LocalLimiter, RedisLimiter, source_key
from himaya_dev.testing.plugin import TokenFactory

REDIS_URL = "redis://127.0.0.1:6379/15"


async def redis_available() -> bool:
    limiter = RedisLimiter(REDIS_URL)
    try:
        return await limiter.ping()
    finally:
        await limiter.close()


class TestClientRateLimit:
    async def test_client_over_its_limit_gets_429_with_retry_after(self, make_stack: Any,
                                                                   tokens: TokenFactory) -> None:
        async with make_stack(rate_limit_per_client=3) as s, s.client() as c:
            alice = tokens.headers(sub=uuid.uuid4())
            statuses = [(await c.get("/v1/cases", headers=alice)).status_code for _ in range(4)]
            assert statuses == [200, 200, 200, 429]
            r = await c.get("/v1/cases", headers=alice)
            assert r.headers["content-type"] == "application/problem+json"
            assert r.json()["code"] == "too_many_requests"
            assert 1 <= int(r.headers["retry-after"]) <= 20
            assert s.hits() == 3
            # Another client from the same address is not affected.
            assert (await c.get("/v1/cases", headers=tokens.headers(sub=uuid.uuid4()))).status_code == 200


class TestSourceRateLimit:
    async def test_address_over_its_limit_gets_429_even_without_token(self, make_stack: Any) -> None:
        async with make_stack(rate_limit_per_ip=2) as s, s.client() as c:
            statuses = [(await c.get("/v1/cases")).status_code for _ in range(3)]
            assert statuses == [401, 401, 429]
            assert s.hits() == 0

    async def test_health_probes_are_not_limited(self, make_stack: Any) -> None:
        async with make_stack(rate_limit_per_ip=1) as s, s.client() as c:
            assert {(await c.get("/healthz")).status_code for _ in range(5)} == {200}


class TestSourceKey:
    def test_ipv4_is_counted_per_address(self) -> None:
        assert source_key("203.0.113.5") == "203.0.113.5"
        assert source_key("203.0.113.5") != source_key("203.0.113.6")

    def test_ipv6_is_counted_per_64(self) -> None:
        # Every address of one /64 (one subscriber's allocation) is one key; the next /64 is another.
        assert source_key("2001:db8:1:2::1") == source_key("2001:db8:1:2:ffff:ffff:ffff:ffff") == "2001:db8:1:2::/64"
        assert source_key("2001:db8:1:3::1") != source_key("2001:db8:1:2::1")

    def test_ipv4_mapped_ipv6_counts_as_the_ipv4_address(self) -> None:
        assert source_key("::ffff:203.0.113.5") == "203.0.113.5"


class TestTokenEndpointLimit:
    async def test_token_endpoint_is_stricter_than_the_rest(self, make_stack: Any, tokens: TokenFactory) -> None:
        async with make_stack(rate_limit_token_endpoint=2) as s, s.client() as c:
            form = {"grant_type": "password", "username": "admin", "password": "guess"}
            statuses = [(await c.post("/v1/auth/token", data=form)).status_code for _ in range(3)]
            assert statuses == [200, 200, 429]
            assert (await c.get("/v1/me", headers=tokens.headers())).status_code == 200


class TestBodyLimit:
    async def test_declared_large_body_is_413_before_reaching_the_service(self, make_stack: Any,
                                                                          tokens: TokenFactory) -> None:
        async with make_stack(max_body_bytes=1000) as s, s.client() as c:
            r = await c.post("/v1/intakes", headers=tokens.headers(), content=b"x" * 1001)
            assert r.status_code == 413
            assert r.json()["code"] == "payload_too_large"
            assert s.hits() == 0
            assert (await c.post("/v1/intakes", headers=tokens.headers(), content=b"x" * 1000)).status_code == 200

    async def test_streamed_body_without_length_is_cut_off_with_413(self, make_stack: Any,
                                                                    tokens: TokenFactory) -> None:
        async def chunks() -> Any:
            for _ in range(50):
                yield b"y" * 1000

        async with make_stack(max_body_bytes=10_000) as s, s.client() as c:
            r = await c.post("/v1/intakes", headers=tokens.headers(), content=chunks())
            assert r.status_code == 413
            assert s.hits() == 0


class TestLocalLimiter:
    async def test_burst_then_steady_rate(self) -> None:
        limiter = LocalLimiter()
        limit = Limit("t", count=5, period=60)
        waits = [await limiter.hit([(limit, "k")]) for _ in range(6)]
        assert waits[:5] == [0.0] * 5
        assert 0 < waits[5] <= 12.0

    async def test_refused_request_charges_no_key(self) -> None:
        limiter = LocalLimiter()
        tight, loose = Limit("a", count=1), Limit("b", count=2)
        assert await limiter.hit([(tight, "a"), (loose, "b")]) == 0
        assert await limiter.hit([(tight, "a"), (loose, "b")]) > 0
        # "b" was not charged by the refused request: it still has one of its two.
        assert await limiter.hit([(loose, "b")]) == 0
        assert await limiter.hit([(loose, "b")]) > 0


class TestSharedThroughRedis:
    async def test_two_replicas_enforce_one_limit(self, make_stack: Any, tokens: TokenFactory) -> None:
        if not await redis_available():
            pytest.skip("no Redis on 127.0.0.1:6379")
        alice = tokens.headers(sub=uuid.uuid4())
        async with make_stack(rate_limit_per_client=4, redis_url=REDIS_URL) as one, \
                make_stack(rate_limit_per_client=4, redis_url=REDIS_URL) as two, \
                one.client() as c1, two.client() as c2:
            statuses = []
            for i in range(6):
                client = c1 if i % 2 == 0 else c2
                statuses.append((await client.get("/v1/cases", headers=alice)).status_code)
            assert statuses.count(200) == 4
            assert statuses[-2:] == [429, 429]

    async def test_unreachable_redis_falls_back_to_local_limits(self) -> None:
        limiter = RedisLimiter("redis://127.0.0.1:1/0")
        try:
            limit = Limit("t", count=2)
            waits = [await limiter.hit([(limit, "k-" + str(uuid.uuid4())[:0])]) for _ in range(3)]
            assert waits[:2] == [0.0, 0.0]
            assert waits[2] > 0
        finally:
            await limiter.close()

    async def test_concurrent_hits_never_exceed_the_limit(self) -> None:
        if not await redis_available():
            pytest.skip("no Redis on 127.0.0.1:6379")
        limiter = RedisLimiter(REDIS_URL)
        try:
            key = "test:" + uuid.uuid4().hex
            limit = Limit("t", count=10)
            waits = await asyncio.gather(*(limiter.hit([(limit, key)]) for _ in range(30)))
            assert sum(1 for w in waits if w == 0) == 10
        finally:
            await limiter.close()
