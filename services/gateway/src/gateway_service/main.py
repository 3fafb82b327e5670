"""The gateway's app factory: `uvicorn gateway_service.main:create_app --factory`.

One `/v1` surface: each path prefix is proxied to the service that owns it, after the edge checks
(bearer token, rate limits, body size). The gateway's own endpoints are the merged OpenAPI document,
the docs UI and the operational endpoints (`/healthz`, `/readyz`, `/metrics`).
"""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import AsyncIterator
from dataclasses import dataclass
from typing import Any

import aiohttp
import httpx
import structlog
from fastapi import FastAPI, Request, Response
from fastapi.openapi.docs import get_swagger_ui_html, get_swagger_ui_oauth2_redirect_html
from fastapi.openapi.utils import get_openapi
from fastapi.responses import HTMLResponse, JSONResponse
from prometheus_client import CONTENT_TYPE_LATEST, generate_latest
from starlette.staticfiles import StaticFiles
from starlette.types import ASGIApp, Message, Receive, Scope, Send
from swagger_ui_bundle import swagger_ui_path

from gateway_service.config import Settings
from gateway_service.edge_auth import EdgeAuthenticator, RepeatedHeader, bearer_token, edge_headers, is_public
from gateway_service.limits import Limit, Limiter, LocalLimiter, RedisLimiter, retry_after, source_key
from gateway_service.openapi import MergedOpenAPI
from gateway_service.proxy import UpstreamMetrics, Upstreams, proxy, send_problem
from gateway_service.routing import ROUTES, UPSTREAMS, route
from himaya.auth import JWKSCache, TokenVerifier
from himaya.errors import DomainError, install_problem_handlers, problem_responses
from himaya.forwarded import TrustedProxies
from himaya.logging import configure_logging
from himaya.middleware import Metrics, RequestContextMiddleware

log = structlog.get_logger(__name__)

OWN_PATHS = frozenset({"/healthz", "/readyz", "/metrics"})
TOKEN_ENDPOINT = "/v1/auth/token"
TITLE = "Himaya API"
VERSION = "1.0.0"
API_DESCRIPTION = (
    "The whole Himaya API under one origin. Authorize with the password flow (an administrator's "
    "username and password) or client credentials; every operation except the token endpoint, the key "
    "set and the operational endpoints needs a bearer token."
)


@dataclass(frozen=True, slots=True)
class RouteLabel:
    """The route name logs and metrics use for a proxied path (its routing prefix: bounded cardinality)."""

    path: str


ROUTE_LABELS = {prefix: RouteLabel(prefix + "/…") for prefix, _ in ROUTES}


class Edge:
    """The edge checks and the proxy, as one pure ASGI layer in front of the gateway's own app."""

    def __init__(self, app: ASGIApp, *, settings: Settings, upstreams: Upstreams, state: Any) -> None:
        self.app = app
        self.upstreams = upstreams
        self.state = state  # app.state: holds the authenticator and limiter once the lifespan ran
        self.max_body = settings.max_body_bytes
        self.ip_limit = Limit("ip", settings.rate_limit_per_ip)
        self.client_limit = Limit("client", settings.rate_limit_per_client)
        self.token_limit = Limit("token", settings.rate_limit_token_endpoint)

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        started = False

        async def tracking_send(message: Message) -> None:
            nonlocal started
            started = True
            await send(message)

        try:
            await self.handle(scope, receive, tracking_send)
        except Exception:
            # Outside FastAPI's error handlers here: an unexpected failure still answers a problem.
            log.exception("edge_error", path=scope["path"])
            if not started:
                await send_problem(scope, send, 500, "An unexpected error occurred; it has been logged.")

    async def handle(self, scope: Scope, receive: Receive, send: Send) -> None:
        """Edge checks, then the proxy or the gateway's own app."""
        path: str = scope["path"]
        if path in OWN_PATHS:
            await self.app(scope, receive, send)
            return
        method: str = scope["method"]
        service = route(path)
        if service is not None:
            scope["route"] = _label(path)
        # The client's address (the request middleware computed it from the trusted proxies), grouped as the
        # limits count it: per address for IPv4, per /64 for IPv6.
        client = scope.get("client")
        source = source_key(client[0]) if client else "unknown"
        checks: list[tuple[Limit, str]] = [(self.ip_limit, "ip:" + source)]
        if method == "POST" and path == TOKEN_ENDPOINT:
            checks.append((self.token_limit, "token:" + source))
        headers = edge_headers(scope["headers"])
        content_length = headers.content_length
        refusal: DomainError | None = None
        if headers.repeated is not None:
            refusal = RepeatedHeader(f"The {headers.repeated} header may appear only once.")
        elif not is_public(method, path):
            authenticator: EdgeAuthenticator = self.state.authenticator
            try:
                caller = await authenticator.authenticate(bearer_token(headers.authorization))
            except DomainError as exc:
                refusal = exc
            else:
                scope.setdefault("state", {})["caller_id"] = caller.actor
                checks.append((self.client_limit, "client:" + caller.actor))
        limiter: Limiter = self.state.limiter
        wait = await limiter.hit(checks)
        if wait:
            seconds = retry_after(wait)
            await send_problem(scope, send, 429, f"Too many requests; try again in {seconds} s.",
                               headers=[(b"retry-after", str(seconds).encode())])
            return
        if refusal is not None:
            await send_problem(scope, send, refusal.status, refusal.detail or refusal.title, code=refusal.code,
                               headers=[(k.lower().encode(), v.encode()) for k, v in refusal.headers.items()])
            return
        if content_length is not None and (not content_length.isdigit() or int(content_length) > self.max_body):
            await send_problem(scope, send, 413, f"The request body exceeds {self.max_body} bytes.")
            return
        if service is None:
            await self.app(scope, receive, send)
            return
        await proxy(self.upstreams, service, scope, receive, send, max_body=self.max_body)


class GatewayApp(FastAPI):
    """FastAPI for the gateway's own endpoints; HTTP requests enter through the edge layers first, so a
    proxied request skips Starlette's middleware stack and router entirely (measured on the hot path)."""

    edge: ASGIApp | None = None

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if self.edge is not None and scope["type"] == "http":
            await self.edge(scope, receive, send)
        else:
            await super().__call__(scope, receive, send)

    async def own(self, scope: Scope, receive: Receive, send: Send) -> None:
        """The gateway's own endpoints (FastAPI's full stack: error handlers, routing)."""
        await super().__call__(scope, receive, send)


def _label(path: str) -> RouteLabel:
    for prefix, label in ROUTE_LABELS.items():
        if path == prefix or path.startswith(prefix + "/"):
            return label
    return RouteLabel("unmatched")


def create_app(settings: Settings | None = None, *, verifier: TokenVerifier | None = None) -> FastAPI:
    """Build the gateway from settings (read from the environment when not given)."""
    settings = settings or Settings()
    metrics = Metrics("gateway")
    urls = {"identity": settings.identity_url, "cases": settings.cases_url, "referrals": settings.referrals_url}
    upstreams = Upstreams(
        urls, pool_size=settings.upstream_pool_size, connect_timeout=settings.upstream_connect_timeout,
        timeout=settings.upstream_timeout, timeouts=settings.upstream_timeouts,
        metrics=UpstreamMetrics(metrics.registry))

    @contextlib.asynccontextmanager
    async def lifespan(app: FastAPI) -> AsyncIterator[None]:
        configure_logging(service="gateway", level=settings.log_level, json=settings.log_json)
        http = httpx.AsyncClient(timeout=httpx.Timeout(5.0, connect=2.0))
        app.state.http = http
        token_verifier = verifier or TokenVerifier(
            JWKSCache.from_url(settings.jwks_url, http, cooldown_seconds=30.0), issuer=settings.token_issuer,
            audience=settings.token_audience, algorithms=settings.token_algorithms)
        app.state.authenticator = EdgeAuthenticator(token_verifier, cache_size=settings.token_cache_size)
        limiter: Limiter = RedisLimiter(settings.redis_url) if settings.redis_url else LocalLimiter()
        app.state.limiter = limiter
        await upstreams.open()
        prefetch = asyncio.create_task(openapi.refresh(http))
        try:
            yield
        finally:
            await asyncio.gather(prefetch, return_exceptions=True)
            await openapi.close()
            await upstreams.close()
            if isinstance(limiter, RedisLimiter):
                await limiter.close()
            await http.aclose()

    # FastAPI's native OpenTelemetry hook checks three providers on every request (measured: a sixth of
    # the gateway's CPU per proxied request); the gateway exports Prometheus metrics instead.
    app = GatewayApp(title=TITLE, description=API_DESCRIPTION, version=VERSION, lifespan=lifespan,
                  openapi_url=None, docs_url=None, redoc_url=None,
                  telemetry={"tracing": False, "metrics": False, "logs": False})
    app.state.settings = settings
    app.state.upstreams = upstreams
    install_problem_handlers(app)

    def own_openapi() -> dict[str, Any]:
        return get_openapi(title=TITLE, version=VERSION, routes=app.routes)

    openapi = MergedOpenAPI(urls, own=own_openapi, owns_path=lambda svc, path: route(path) == svc,
                            refresh_seconds=settings.openapi_refresh_seconds, title=TITLE, version=VERSION,
                            description=API_DESCRIPTION)
    app.state.openapi = openapi

    @app.get("/healthz", tags=["operations"], summary="Gateway is up")
    async def healthz() -> dict[str, str]:
        """Liveness: the gateway process answers."""
        return {"status": "ok", "service": "gateway"}

    @app.get("/readyz", tags=["operations"], summary="Upstreams are ready", responses=problem_responses(503))
    async def readyz() -> JSONResponse:
        """Readiness of each upstream service, as each reports it; 503 unless all are ready."""

        async def check(name: str) -> tuple[str, str]:
            try:
                async with upstreams.sessions[name].get(upstreams.urls[name] + "/readyz",
                                                        timeout=aiohttp.ClientTimeout(total=3)) as r:
                    return name, "ready" if r.status == 200 else "not_ready"
            except (aiohttp.ClientError, TimeoutError):
                return name, "unreachable"

        results = dict(await asyncio.gather(*(check(n) for n in UPSTREAMS)))
        ready = all(v == "ready" for v in results.values())
        return JSONResponse({"status": "ready" if ready else "not_ready", "upstreams": results},
                            status_code=200 if ready else 503)

    @app.get("/metrics", tags=["operations"], summary="Prometheus metrics", response_class=Response)
    async def metrics_endpoint() -> Response:
        """Prometheus exposition of the gateway's request counters and latencies, per route and upstream."""
        return Response(generate_latest(metrics.registry), media_type=CONTENT_TYPE_LATEST)

    @app.get("/openapi.json", include_in_schema=False)
    async def openapi_document(request: Request) -> Response:
        """The merged OpenAPI 3.1 document of the whole API."""
        body = await openapi.body(request.app.state.http)
        return Response(body, media_type="application/json")

    @app.get("/docs", include_in_schema=False)
    async def docs_ui() -> HTMLResponse:
        """Swagger UI over the merged document, with the OAuth2 password flow behind "Authorize"."""
        return get_swagger_ui_html(
            openapi_url="/openapi.json", title=TITLE + " — docs",
            swagger_js_url="/docs/assets/swagger-ui-bundle.js", swagger_css_url="/docs/assets/swagger-ui.css",
            swagger_favicon_url="/docs/assets/favicon-32x32.png", oauth2_redirect_url="/docs/oauth2-redirect",
            init_oauth={"clientId": "docs-ui", "usePkceWithAuthorizationCodeGrant": False},
            swagger_ui_parameters={"persistAuthorization": True, "displayRequestDuration": True})

    @app.get("/docs/oauth2-redirect", include_in_schema=False)
    async def docs_oauth2_redirect() -> HTMLResponse:
        """Swagger UI's OAuth2 redirect page."""
        return get_swagger_ui_oauth2_redirect_html()

    app.mount("/docs/assets", StaticFiles(directory=str(swagger_ui_path)), name="docs-assets")

    app.edge = RequestContextMiddleware(Edge(app.own, settings=settings, upstreams=upstreams, state=app.state),
                                        metrics=metrics, quiet_paths=OWN_PATHS,
                                        trusted_proxies=TrustedProxies(settings.trusted_proxies))
    return app
