"""A typed HTTP client base for calls between services: timeouts, jittered retries, propagated identity."""

from __future__ import annotations

import asyncio
import random
from collections.abc import Mapping
from typing import Any

import httpx

from himaya.logging import request_id_var

IDEMPOTENT_METHODS = frozenset({"GET", "HEAD", "OPTIONS", "PUT", "DELETE"})
RETRY_STATUSES = frozenset({502, 503, 504})


class ServiceClient:
    """Base of the typed clients a service uses to call another one."""

    def __init__(self, base_url: str, *, timeout: float = 5.0, max_retries: int = 3, backoff: float = 0.1,
                 client: httpx.AsyncClient | None = None) -> None:
        self.base_url = base_url.rstrip("/")
        self.max_retries = max_retries
        self.backoff = backoff
        self._client = client or httpx.AsyncClient(
            timeout=httpx.Timeout(timeout, connect=min(2.0, timeout)),
            limits=httpx.Limits(max_connections=50, max_keepalive_connections=20),
        )

    async def aclose(self) -> None:
        """Close the underlying connection pool."""
        await self._client.aclose()

    async def request(self, method: str, path: str, *, authorization: str | None = None,
                      json: Any = None, headers: Mapping[str, str] | None = None,
                      content: bytes | None = None, idempotency_key: str | None = None,
                      params: Mapping[str, Any] | None = None) -> httpx.Response:
        """Send a request; retries transport errors and 502/503/504 only when the call is idempotent."""
        out: dict[str, str] = dict(headers or {})
        rid = request_id_var.get()
        if rid:
            out["X-Request-ID"] = rid
        if authorization:
            out["Authorization"] = authorization
        if idempotency_key:
            out["Idempotency-Key"] = idempotency_key
        retryable = method.upper() in IDEMPOTENT_METHODS or idempotency_key is not None
        attempts = self.max_retries + 1 if retryable else 1
        url = self.base_url + path
        for attempt in range(attempts):
            try:
                response = await self._client.request(method, url, json=json, content=content, headers=out,
                                                      params=params)
            except httpx.TransportError:
                if attempt + 1 >= attempts:
                    raise
            else:
                if response.status_code not in RETRY_STATUSES or attempt + 1 >= attempts:
                    return response
            # Full jitter: spread retries of many callers so they do not arrive together.
            await asyncio.sleep(random.uniform(0, self.backoff * (2**attempt)))  # noqa: S311
        raise AssertionError("unreachable")
