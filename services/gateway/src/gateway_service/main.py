"""The gateway's app factory: `uvicorn gateway_service.main:create_app --factory`.

One `/v1` surface: each path prefix is proxied to the service that owns it. The operational endpoints
(`/healthz`, `/readyz`, `/metrics`) are the gateway's own.
"""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import AsyncIterator

import aiohttp
from fastapi import FastAPI, Response
from fastapi.responses import JSONResponse
from prometheus_client import CONTENT_TYPE_LATEST, generate_latest
from starlette.types import ASGIApp, Receive, Scope, Send

from gateway_service.config import Settings
from gateway_service.proxy import Upstreams, proxy
from gateway_service.routing import UPSTREAMS, route
from himaya.errors import install_problem_handlers
from himaya.logging import configure_logging
from himaya.middleware import Metrics, RequestContextMiddleware

OWN_PATHS = frozenset({"/healthz", "/readyz", "/metrics"})


class ProxyRouter:
    """Sends routed paths straight to the proxy, everything else to the gateway's own app."""

    def __init__(self, app: ASGIApp, upstreams: Upstreams) -> None:
        self.app = app
        self.upstreams = upstreams

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] == "http":
            service = route(scope["path"])
            if service is not None:
                await proxy(self.upstreams, service, scope, receive, send)
                return
        await self.app(scope, receive, send)


def create_app(settings: Settings | None = None) -> FastAPI:
    """Build the gateway from settings (read from the environment when not given)."""
    settings = settings or Settings()
    upstreams = Upstreams(
        {"identity": settings.identity_url, "cases": settings.cases_url, "referrals": settings.referrals_url},
        pool_size=settings.upstream_pool_size, connect_timeout=settings.upstream_connect_timeout,
        timeout=settings.upstream_timeout)

    @contextlib.asynccontextmanager
    async def lifespan(app: FastAPI) -> AsyncIterator[None]:
        configure_logging(service="gateway", level=settings.log_level, json=settings.log_json)
        await upstreams.open()
        try:
            yield
        finally:
            await upstreams.close()

    app = FastAPI(title="Himaya gateway", description=__doc__ or "", version="1.0.0", lifespan=lifespan)
    app.state.settings = settings
    app.state.upstreams = upstreams
    install_problem_handlers(app)
    metrics = Metrics("gateway")

    @app.get("/healthz", tags=["operations"])
    async def healthz() -> dict[str, str]:
        """Liveness: the gateway process answers."""
        return {"status": "ok", "service": "gateway"}

    @app.get("/readyz", tags=["operations"])
    async def readyz() -> JSONResponse:
        """Readiness of each upstream service, as each reports it."""

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

    @app.get("/metrics", tags=["operations"], response_class=Response)
    async def metrics_endpoint() -> Response:
        """Prometheus exposition of the gateway's request counters and latencies."""
        return Response(generate_latest(metrics.registry), media_type=CONTENT_TYPE_LATEST)

    app.add_middleware(ProxyRouter, upstreams=upstreams)
    app.add_middleware(RequestContextMiddleware, metrics=metrics, quiet_paths=OWN_PATHS)
    return app
