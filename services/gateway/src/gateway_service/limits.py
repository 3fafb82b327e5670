"""Rate limits by the generic cell rate algorithm (GCRA): in process, or shared by replicas through Redis.

Each key keeps one number, its theoretical arrival time (TAT). A limit of `count` requests per `period`
spaces requests `period / count` apart and tolerates a burst of `count`. A request is allowed when
`TAT - now <= period - interval`; otherwise the caller must wait `TAT - now - (period - interval)`.
Several keys (source address, client) are checked together: the request is admitted only if every key
allows it, and only then are the keys charged.
"""

from __future__ import annotations

import functools
import ipaddress
import math
import time
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

import structlog

log = structlog.get_logger(__name__)


@functools.lru_cache(maxsize=65536)
def source_key(address: str) -> str:
    """The rate-limit key of a client address: the address for IPv4, its /64 for IPv6 (one subscriber's
    allocation, within which an address costs nothing to change). IPv4-mapped IPv6 counts as the IPv4."""
    try:
        ip = ipaddress.ip_address(address)
    except ValueError:
        return address
    if isinstance(ip, ipaddress.IPv6Address):
        if ip.ipv4_mapped is not None:
            return str(ip.ipv4_mapped)
        return str(ipaddress.IPv6Network((int(ip) >> 64 << 64, 64)))
    return str(ip)


@dataclass(frozen=True, slots=True)
class Limit:
    """`count` requests per `period` seconds, with a burst of `count`."""

    name: str
    count: int
    period: float = 60.0

    @property
    def interval(self) -> float:
        """Seconds between requests at the sustained rate."""
        return self.period / self.count


class LocalLimiter:
    """GCRA state in this process's memory (the default; each replica counts alone)."""

    def __init__(self, *, max_keys: int = 100_000) -> None:
        self._tat: dict[str, float] = {}
        self._max_keys = max_keys

    def _prune(self, now: float) -> None:
        expired = [k for k, tat in self._tat.items() if tat <= now]
        for k in expired:
            del self._tat[k]
        if len(self._tat) >= self._max_keys:  # still full: forget the oldest half rather than grow
            for k in list(self._tat)[: self._max_keys // 2]:
                del self._tat[k]

    async def hit(self, checks: Sequence[tuple[Limit, str]]) -> float:
        """Charge every key if all allow the request and return 0, else return the seconds to wait."""
        now = time.monotonic()
        tat = self._tat
        wait = 0.0
        new: list[tuple[str, float]] = []
        for limit, key in checks:
            current = tat.get(key, now)
            if current < now:
                current = now
            excess = current - now - (limit.period - limit.interval)
            if excess > 0:
                wait = max(wait, excess)
            else:
                new.append((key, current + limit.interval))
        if wait:
            return wait
        if len(tat) >= self._max_keys:
            self._prune(now)
        for key, value in new:
            tat[key] = value
        return 0.0


# KEYS: the keys; ARGV: interval_1, period_1, interval_2, period_2, ... (seconds). Redis's own clock is
# used so replicas with skewed clocks agree. Returns the wait in milliseconds (0 = admitted).
_GCRA_LUA = """
local t = redis.call('TIME')
local now = tonumber(t[1]) + tonumber(t[2]) / 1000000
local wait = 0
local tats = {}
for i, key in ipairs(KEYS) do
  local interval = tonumber(ARGV[2 * i - 1])
  local period = tonumber(ARGV[2 * i])
  local tat = tonumber(redis.call('GET', key) or now)
  if tat < now then tat = now end
  local excess = tat - now - (period - interval)
  if excess > wait then wait = excess end
  tats[i] = tat + interval
end
if wait > 0 then return math.ceil(wait * 1000) end
for i, key in ipairs(KEYS) do
  redis.call('SET', key, tostring(tats[i]), 'PX', math.ceil((tats[i] - now) * 1000) + 1)
end
return 0
"""


class RedisLimiter:
    """GCRA state in Redis, so every gateway replica enforces one limit; falls back to local if Redis fails."""

    def __init__(self, url: str, *, prefix: str = "himaya:gw:rl:") -> None:
        import redis.asyncio as redis

        self._redis: Any = redis.Redis.from_url(url, socket_timeout=0.25, socket_connect_timeout=0.5)
        self._script: Any = self._redis.register_script(_GCRA_LUA)
        self._prefix = prefix
        self._fallback = LocalLimiter()
        self._failing_since = 0.0

    async def ping(self) -> bool:
        """Whether Redis answers."""
        try:
            return bool(await self._redis.ping())
        except Exception:
            return False

    async def hit(self, checks: Sequence[tuple[Limit, str]]) -> float:
        """Like `LocalLimiter.hit`, counted in Redis; on a Redis failure, counted in process for 5 s."""
        now = time.monotonic()
        if self._failing_since and now - self._failing_since < 5.0:
            return await self._fallback.hit(checks)
        keys = [self._prefix + key for _, key in checks]
        args: list[float] = []
        for limit, _ in checks:
            args += [limit.interval, limit.period]
        try:
            wait_ms = int(await self._script(keys=keys, args=args))
        except Exception as exc:
            if not self._failing_since:
                log.warning("rate_limit_redis_unavailable", error=type(exc).__name__)
            self._failing_since = now
            return await self._fallback.hit(checks)
        self._failing_since = 0.0
        return wait_ms / 1000.0

    async def close(self) -> None:
        """Close the connection pool."""
        await self._redis.aclose()


Limiter = LocalLimiter | RedisLimiter


def retry_after(wait: float) -> int:
    """Whole seconds for a Retry-After header (at least 1)."""
    return max(1, math.ceil(wait))
