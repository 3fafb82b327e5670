"""The proxy hot path: a pure ASGI handler streaming to and from an aiohttp keep-alive pool per upstream."""

from __future__ import annotations

import time
from collections.abc import AsyncIterator, Mapping

import aiohttp
import orjson
import structlog
from prometheus_client import CollectorRegistry, Counter, Histogram
from starlette.types import Receive, Scope, Send
from yarl import URL

from himaya.errors import problem_body, status_code_and_title
from himaya.i18n import negotiate_language

log = structlog.get_logger(__name__)

HOP_BY_HOP = frozenset({
    b"connection", b"keep-alive", b"proxy-authenticate", b"proxy-authorization", b"te", b"trailer",
    b"transfer-encoding", b"upgrade", b"host", b"content-length",
})
# Never taken from the client: the gateway sets them itself.
REQUEST_DROPPED = HOP_BY_HOP | {b"x-request-id", b"x-forwarded-for", b"x-forwarded-host",
                                b"x-forwarded-proto", b"x-forwarded-port", b"x-forwarded-prefix", b"forwarded",
                                b"x-real-ip"}
# The gateway's own server adds date and server; the middleware adds the request id.
RESPONSE_DROPPED = HOP_BY_HOP | {b"date", b"server", b"x-request-id"}

# Bodies up to this size are read whole and sent in one ASGI message; larger ones are streamed.
SMALL_BODY = 64 * 1024


class RequestBody:
    """The client's request body streamed to the upstream, cut off once it exceeds `limit` bytes."""

    __slots__ = ("limit", "receive", "too_large")

    def __init__(self, receive: Receive, limit: int) -> None:
        self.receive = receive
        self.limit = limit
        self.too_large = False

    async def chunks(self) -> AsyncIterator[bytes]:
        """The body's chunks as they arrive."""
        received = 0
        while True:
            message = await self.receive()
            if message["type"] == "http.disconnect":
                return
            chunk = message.get("body", b"")
            if chunk:
                received += len(chunk)
                if received > self.limit:
                    # aiohttp wraps whatever the body raises in a ClientError: the flag says why.
                    self.too_large = True
                    raise ValueError("request body too large")
                yield chunk
            if not message.get("more_body", False):
                return


class UpstreamMetrics:
    """Requests and latency per upstream service, on the gateway's Prometheus registry."""

    def __init__(self, registry: CollectorRegistry) -> None:
        self.requests = Counter("gateway_upstream_requests_total", "Requests proxied to each upstream",
                                ["upstream", "status"], registry=registry)
        self.latency = Histogram("gateway_upstream_duration_seconds",
                                 "Time to the upstream's response headers", ["upstream"], registry=registry,
                                 buckets=(0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30))
        self._counters: dict[tuple[str, int], Counter] = {}
        self._histograms: dict[str, Histogram] = {}

    def observe(self, upstream: str, status: int, seconds: float) -> None:
        """Count one proxied request (label children are cached: no lookups on the hot path)."""
        counter = self._counters.get((upstream, status))
        if counter is None:
            counter = self._counters[(upstream, status)] = self.requests.labels(upstream, str(status))
        counter.inc()
        histogram = self._histograms.get(upstream)
        if histogram is None:
            histogram = self._histograms[upstream] = self.latency.labels(upstream)
        histogram.observe(seconds)


class Upstreams:
    """One aiohttp session (keep-alive pool) per upstream service, created in the lifespan."""

    def __init__(self, urls: Mapping[str, str], *, pool_size: int, connect_timeout: float, timeout: float,
                 timeouts: Mapping[str, float] | None = None, metrics: UpstreamMetrics | None = None) -> None:
        self.urls = {k: v.rstrip("/") for k, v in urls.items()}
        self.sessions: dict[str, aiohttp.ClientSession] = {}
        self.pool_size = pool_size
        self.timeouts = {
            name: aiohttp.ClientTimeout(total=None, connect=connect_timeout,
                                        sock_read=(timeouts or {}).get(name, timeout))
            for name in self.urls
        }
        self.metrics = metrics

    async def open(self) -> None:
        """Create the pools."""
        for name in self.urls:
            # Idle upstream connections are dropped before uvicorn's own 5 s keep-alive closes them, so a
            # request never lands on a connection the service is closing (seen as a 502 under load).
            connector = aiohttp.TCPConnector(limit=self.pool_size, ttl_dns_cache=300, keepalive_timeout=4)
            self.sessions[name] = aiohttp.ClientSession(
                connector=connector, timeout=self.timeouts[name], auto_decompress=False,
                skip_auto_headers=("User-Agent", "Accept", "Accept-Encoding"), trust_env=False)

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


def _forward_headers(scope: Scope) -> list[tuple[str, str]]:
    headers: list[tuple[str, str]] = []
    host = None
    for name, value in scope["headers"]:
        if name in REQUEST_DROPPED:
            if name == b"host":
                host = value
            continue
        headers.append((name.decode("latin-1"), value.decode("latin-1")))
    state = scope.get("state", {})
    headers.append(("x-request-id", state.get("request_id", "")))
    client = scope.get("client")
    if client:
        # The client's address as the gateway computed it (himaya.forwarded: the peer, or behind a trusted load
        # balancer the rightmost untrusted hop). What a client wrote in X-Forwarded-For is replaced, never passed on.
        headers.append(("x-forwarded-for", client[0]))
    if host:
        headers.append(("x-forwarded-host", host.decode("latin-1")))
    headers.append(("x-forwarded-proto", scope.get("scheme", "http")))
    return headers


async def proxy(upstreams: Upstreams, service: str, scope: Scope, receive: Receive, send: Send, *,
                max_body: int) -> None:
    """Forward one request to `service`, streaming the body both ways; failures become 413/502/503/504."""
    session = upstreams.sessions[service]
    url = upstreams.urls[service] + scope["raw_path"].decode("latin-1")
    if scope.get("query_string"):
        url += "?" + scope["query_string"].decode("latin-1")
    method = scope["method"]
    has_body = method not in ("GET", "HEAD", "DELETE", "OPTIONS")
    body = RequestBody(receive, max_body) if has_body else None
    started = False
    status = 502
    began = time.perf_counter()
    try:
        async with session.request(
            # encoded=True: the client's path and query go upstream byte for byte (a cursor's %2F stays).
            method, URL(url, encoded=True), headers=_forward_headers(scope),
            data=body.chunks() if body is not None else None,
            allow_redirects=False, compress=None,
        ) as upstream:
            status = upstream.status
            if upstreams.metrics is not None:
                upstreams.metrics.observe(service, status, time.perf_counter() - began)
            headers = [(k.lower(), v) for k, v in upstream.raw_headers if k.lower() not in RESPONSE_DROPPED]
            length = upstream.content_length
            if length is not None:
                headers.append((b"content-length", str(length).encode()))
            if length is not None and length <= SMALL_BODY:
                content = await upstream.read()
                await send({"type": "http.response.start", "status": status, "headers": headers})
                started = True
                await send({"type": "http.response.body", "body": content})
                return
            await send({"type": "http.response.start", "status": status, "headers": headers})
            started = True
            async for chunk in upstream.content.iter_any():
                await send({"type": "http.response.body", "body": chunk, "more_body": True})
            await send({"type": "http.response.body", "body": b""})
    except (TimeoutError, aiohttp.ServerTimeoutError):
        status = 504
        if not started:
            await send_problem(scope, send, 504, f"The {service} service did not answer in time.")
    except aiohttp.ClientConnectorError:
        status = 503
        if not started:
            await send_problem(scope, send, 503, f"The {service} service is unavailable.",
                               headers=[(b"retry-after", b"5")])
    except aiohttp.ClientError as exc:
        if body is not None and body.too_large:
            if not started:
                await send_problem(scope, send, 413, f"The request body exceeds {max_body} bytes.")
            return
        log.warning("upstream_error", upstream=service, error=type(exc).__name__)
        if not started:
            await send_problem(scope, send, 502, f"The {service} service gave no valid answer.")
    if not started and upstreams.metrics is not None:
        upstreams.metrics.observe(service, status, time.perf_counter() - began)
