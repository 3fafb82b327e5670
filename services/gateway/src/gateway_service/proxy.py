"""The proxy hot path: a pure ASGI handler streaming to and from an aiohttp keep-alive pool per upstream."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
import aiohttp
import orjson
import structlog
from starlette.types import Receive, Scope, Send

from himaya.errors import problem_body, status_code_and_title
from himaya.i18n import negotiate_language

log = structlog.get_logger(__name__)

HOP_BY_HOP = frozenset({
    b"connection", b"keep-alive", b"proxy-authenticate", b"proxy-authorization", b"te", b"trailer",
    b"transfer-encoding", b"upgrade", b"host", b"content-length",
})

# The gateway's own server adds date and server; the middleware adds the request id.
RESPONSE_DROPPED = HOP_BY_HOP | {b"date", b"server", b"x-request-id"}


class Upstreams:
    """One aiohttp session (keep-alive pool) per upstream service, created in the lifespan."""

    def __init__(self, urls: dict[str, str], *, pool_size: int, connect_timeout: float, timeout: float) -> None:
        self.urls = {k: v.rstrip("/") for k, v in urls.items()}
        self.sessions: dict[str, aiohttp.ClientSession] = {}
        self.pool_size = pool_size
        self.timeout = aiohttp.ClientTimeout(total=None, connect=connect_timeout, sock_read=timeout)

    async def open(self) -> None:
        """Create the pools."""
        for name in self.urls:
            connector = aiohttp.TCPConnector(limit=self.pool_size, ttl_dns_cache=300, keepalive_timeout=30)
            self.sessions[name] = aiohttp.ClientSession(
                connector=connector, timeout=self.timeout, auto_decompress=False, skip_auto_headers=("User-Agent",))

    async def close(self) -> None:
        """Close the pools."""
        for session in self.sessions.values():
            await session.close()
        self.sessions.clear()


async def send_problem(scope: Scope, send: Send, status: int, detail: str, *, code: str | None = None,
                       headers: list[tuple[bytes, bytes]] | None = None) -> None:
    """Answer with a problem+json document (the request id header is added by the middleware)."""
    default_code, title = status_code_and_title(status)
    accept_language = None
    for name, value in scope["headers"]:
        if name == b"accept-language":
            accept_language = value.decode("latin-1")
    body = orjson.dumps(problem_body(
        status=status, code=code or default_code, title=title, detail=detail,
        language=negotiate_language(accept_language), request_id=scope.get("state", {}).get("request_id"),
        instance=scope["path"]))
    await send({"type": "http.response.start", "status": status, "headers": [
        (b"content-type", b"application/problem+json"), (b"content-length", str(len(body)).encode()),
        *(headers or [])]})
    await send({"type": "http.response.body", "body": body})


async def _request_body(receive: Receive) -> AsyncIterator[bytes]:
    while True:
        message = await receive()
        if message["type"] == "http.disconnect":
            return
        chunk = message.get("body", b"")
        if chunk:
            yield chunk
        if not message.get("more_body", False):
            return


def _forward_headers(scope: Scope) -> dict[str, str]:
    headers: dict[str, str] = {}
    for name, value in scope["headers"]:
        if name in HOP_BY_HOP or name == b"x-request-id" or name.startswith(b"x-forwarded-"):
            continue
        key = name.decode("latin-1")
        val = value.decode("latin-1")
        headers[key] = headers[key] + ", " + val if key in headers else val
    state = scope.get("state", {})
    headers["x-request-id"] = state.get("request_id", "")
    client = scope.get("client")
    if client:
        headers["x-forwarded-for"] = client[0]
    host = next((v.decode("latin-1") for n, v in scope["headers"] if n == b"host"), None)
    if host:
        headers["x-forwarded-host"] = host
    headers["x-forwarded-proto"] = scope.get("scheme", "http")
    return headers


async def proxy(upstreams: Upstreams, service: str, scope: Scope, receive: Receive, send: Send) -> None:
    """Forward one request to `service`, streaming the body both ways; failures become 502/503/504."""
    session = upstreams.sessions[service]
    url = upstreams.urls[service] + scope["raw_path"].decode("latin-1")
    if scope.get("query_string"):
        url += "?" + scope["query_string"].decode("latin-1")
    method = scope["method"]
    has_body = method not in ("GET", "HEAD", "DELETE", "OPTIONS")
    started = False
    try:
        async with session.request(
            method, url, headers=_forward_headers(scope), data=_request_body(receive) if has_body else None,
            allow_redirects=False, compress=None,
        ) as upstream:
            headers = [(k.lower(), v) for k, v in upstream.raw_headers if k.lower() not in RESPONSE_DROPPED]
            if upstream.content_length is not None:
                headers.append((b"content-length", str(upstream.content_length).encode()))
            await send({"type": "http.response.start", "status": upstream.status, "headers": headers})
            started = True
            async for chunk in upstream.content.iter_any():
                await send({"type": "http.response.body", "body": chunk, "more_body": True})
            await send({"type": "http.response.body", "body": b""})
    except (TimeoutError, asyncio.TimeoutError, aiohttp.ServerTimeoutError):
        if not started:
            await send_problem(scope, send, 504, f"The {service} service did not answer in time.")
    except aiohttp.ClientConnectorError:
        if not started:
            await send_problem(scope, send, 503, f"The {service} service is unavailable.",
                               headers=[(b"retry-after", b"5")])
    except aiohttp.ClientError as exc:
        log.warning("upstream_error", service=service, error=type(exc).__name__)
        if not started:
            await send_problem(scope, send, 502, f"The {service} service gave no valid answer.")
