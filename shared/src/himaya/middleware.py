"""Pure ASGI middleware: request id, client address, access log and Prometheus metrics, cheap on the hot path."""

from __future__ import annotations

import re
import time
import uuid
from typing import Any

import orjson
import structlog
from prometheus_client import CollectorRegistry, Counter, Histogram
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from himaya.errors import PROBLEM_MEDIA_TYPE, problem_body
from himaya.forwarded import TrustedProxies, client_address, client_address_var
from himaya.i18n import negotiate_language
from himaya.logging import request_id_var

REQUEST_ID_HEADER = b"x-request-id"
FORWARDED_FOR_HEADER = b"x-forwarded-for"
_REQUEST_ID_RE = re.compile(r"^[A-Za-z0-9._:\-]{8,128}$")

access_log = structlog.get_logger("himaya.access")


def valid_request_id(value: str | None) -> bool:
    """A client-supplied request id is kept only if it is short and made of safe characters."""
    return bool(value) and _REQUEST_ID_RE.match(value or "") is not None


class Metrics:
    """The per-process Prometheus collectors of a service."""

    def __init__(self, service: str) -> None:
        self.registry = CollectorRegistry(auto_describe=True)
        self.requests = Counter("http_requests_total", "HTTP requests", ["service", "method", "route", "status"],
                                registry=self.registry)
        self.latency = Histogram("http_request_duration_seconds", "HTTP request latency",
                                 ["service", "method", "route"], registry=self.registry,
                                 buckets=(0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10))
        self.service = service


class RequestContextMiddleware:
    """Assigns the request id, returns it, and records an access-log line and metrics per request.

    It also replaces the scope's client with the client's address computed from the trusted proxies
    (himaya.forwarded), so everything after it (rate limits, lockout, audit) sees the client, not a proxy.
    """

    def __init__(self, app: ASGIApp, *, metrics: Metrics, quiet_paths: frozenset[str] = frozenset(),
                 trusted_proxies: TrustedProxies | None = None) -> None:
        self.app = app
        self.metrics = metrics
        self.quiet_paths = quiet_paths
        self.trusted_proxies = trusted_proxies or TrustedProxies(())

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        rid = None
        forwarded_for: list[str] = []
        for name, value in scope["headers"]:
            if name == REQUEST_ID_HEADER:
                if rid is None:
                    candidate = value.decode("latin-1")
                    rid = candidate if valid_request_id(candidate) else ""
            elif name == FORWARDED_FOR_HEADER:
                forwarded_for.append(value.decode("latin-1"))
        if not rid:
            rid = uuid.uuid4().hex
        scope.setdefault("state", {})["request_id"] = rid
        token = request_id_var.set(rid)
        peer = scope.get("client")
        address = client_address(peer[0] if peer else None, forwarded_for, self.trusted_proxies)
        if peer and address != peer[0]:
            scope["client"] = (address, peer[1])
        address_token = client_address_var.set(address)
        started = time.perf_counter()
        status_holder = [500]
        response_started = [False]
        rid_bytes = rid.encode()

        async def send_wrapper(message: Message) -> None:
            if message["type"] == "http.response.start":
                response_started[0] = True
                status_holder[0] = message["status"]
                message.setdefault("headers", [])
                message["headers"] = [*message["headers"], (REQUEST_ID_HEADER, rid_bytes)]
            await send(message)

        try:
            await self.app(scope, receive, send_wrapper)
        except Exception:
            # Answer here rather than in Starlette's outermost error middleware, so that the 500 problem
            # still carries the request id; internals go to the log only.
            access_log.exception("unhandled_error", path=scope["path"])
            if status_holder[0] == 500 and not response_started[0]:
                await self._send_internal_error(scope, send_wrapper, rid)
        finally:
            elapsed = time.perf_counter() - started
            route = _route_template(scope)
            method = scope["method"]
            self.metrics.requests.labels(self.metrics.service, method, route, str(status_holder[0])).inc()
            self.metrics.latency.labels(self.metrics.service, method, route).observe(elapsed)
            if scope["path"] not in self.quiet_paths:
                state: dict[str, Any] = scope.get("state", {})
                access_log.info("request", method=method, route=route, status=status_holder[0],
                                duration_ms=round(elapsed * 1000, 2), caller=state.get("caller_id"))
            request_id_var.reset(token)
            client_address_var.reset(address_token)


    @staticmethod
    async def _send_internal_error(scope: Scope, send: Send, rid: str) -> None:
        language = negotiate_language(next(
            (v.decode("latin-1") for k, v in scope["headers"] if k == b"accept-language"), None))
        body = orjson.dumps(problem_body(status=500, code="internal_error", title="Internal server error",
                                         detail="An unexpected error occurred; it has been logged.",
                                         language=language, request_id=rid, instance=scope["path"]))
        await send({"type": "http.response.start", "status": 500,
                    "headers": [(b"content-type", PROBLEM_MEDIA_TYPE.encode()),
                                (b"content-length", str(len(body)).encode())]})
        await send({"type": "http.response.body", "body": body})


def _route_template(scope: Scope) -> str:
    route = scope.get("route")
    path = getattr(route, "path", None)
    return path if isinstance(path, str) else "unmatched"
