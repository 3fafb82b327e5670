"""The app factory every service uses: lifespan-owned resources, problem errors, health, metrics."""

from __future__ import annotations

import contextlib
from collections.abc import AsyncIterator, Callable, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import httpx
import sqlalchemy as sa
from fastapi import APIRouter, FastAPI, Request, Response
from fastapi.responses import JSONResponse
from prometheus_client import CONTENT_TYPE_LATEST, generate_latest

from himaya.audit import Checkpointer, signer_from_settings
from himaya.auth import JWKSCache, TokenVerifier
from himaya.db import create_database, database_ready
from himaya.errors import Problem, install_problem_handlers
from himaya.forwarded import TrustedProxies
from himaya.logging import configure_logging
from himaya.middleware import Metrics, RequestContextMiddleware
from himaya.retention import Purger, PurgeRule
from himaya.revisions import head_revision
from himaya.revocation import FeedFetcher, RevocationList, RevocationSync, http_feed
from himaya.settings import DataServiceSettings, ServiceSettings

Lifespan = Callable[[FastAPI], contextlib.AbstractAsyncContextManager[None]]
QUIET_PATHS = frozenset({"/healthz", "/readyz", "/metrics"})


@dataclass
class ServiceSpec:
    """What distinguishes one service: its name, schema, routers and extra resources."""

    name: str
    title: str
    description: str
    schema: str
    migrations_dir: Path
    routers: Sequence[APIRouter]
    version: str = "1.0.0"
    lifespan: Lifespan | None = None
    # The service's audit log and its signed checkpoints (himaya.audit): checkpointed on a schedule.
    audit_tables: tuple[sa.Table, sa.Table] | None = None
    openapi_tags: list[dict[str, Any]] = field(default_factory=list)
    # Technical rows the service purges itself on a schedule (needs DataServiceSettings).
    purge_rules: Sequence[PurgeRule] = ()


def create_service_app(spec: ServiceSpec, settings: ServiceSettings, *, jwks: JWKSCache | None = None,
                       revocations_feed: FeedFetcher | None = None) -> FastAPI:
    """Build a service's FastAPI app; every resource is created in the lifespan, nothing at import.

    The token verifier checks identity's revocations, read with `revocations_feed` (identity reads its
    own database) or else over HTTP from `settings.revocations_url`."""

    @contextlib.asynccontextmanager
    async def lifespan(app: FastAPI) -> AsyncIterator[None]:
        configure_logging(service=spec.name, level=settings.log_level, json=settings.log_json)
        app.state.settings = settings
        app.state.expected_head = head_revision(spec.migrations_dir)
        if getattr(app.state, "db", None) is None:  # a test may have provided its own
            app.state.db = create_database(settings, application_name=f"himaya-{spec.name}")
        http = httpx.AsyncClient(timeout=httpx.Timeout(5.0, connect=2.0))
        app.state.http = http
        sync: RevocationSync | None = None
        if getattr(app.state, "token_verifier", None) is None:
            cache = jwks or JWKSCache.from_url(settings.jwks_url, http)
            sync = revocation_sync(settings, http, feed=revocations_feed)
            app.state.token_verifier = TokenVerifier(cache, issuer=settings.token_issuer,
                                                     audience=settings.token_audience,
                                                     algorithms=settings.token_algorithms,
                                                     revocations=sync.revocations)
            revocations = sync.revocations
            metrics.revocations_staleness.set_function(lambda: revocations.staleness)
            await sync.start()
        checkpointer = None
        if spec.audit_tables is not None:
            app.state.audit_signer = signer_from_settings(spec.name, settings)
            checkpointer = Checkpointer(app.state.db.engine, *spec.audit_tables, app.state.audit_signer,
                                        interval=settings.audit_checkpoint_interval_seconds)
            checkpointer.start()
        purger = None
        if spec.purge_rules and isinstance(settings, DataServiceSettings):
            purger = Purger(app.state.db.engine, spec.purge_rules, interval_seconds=settings.purge_interval_seconds,
                            batch_size=settings.purge_batch_size, max_batches=settings.purge_max_batches)
            purger.start()
        app.state.purger = purger
        try:
            if spec.lifespan is not None:
                async with spec.lifespan(app):
                    yield
            else:
                yield
        finally:
            if checkpointer is not None:
                await checkpointer.stop()
            if purger is not None:
                await purger.stop()
            if sync is not None:
                await sync.stop()
            await http.aclose()
            await app.state.db.dispose()

    app = FastAPI(
        title=spec.title, description=spec.description, version=spec.version, lifespan=lifespan,
        openapi_tags=spec.openapi_tags or None,
        swagger_ui_init_oauth={"clientId": "docs-ui"},
        # FastAPI's telemetry hook runs per request; metrics and logs are ours (measured ~10% CPU per request).
        telemetry={"tracing": False, "metrics": False, "logs": False},
    )
    app.state.db = None
    app.state.token_verifier = None
    install_problem_handlers(app)
    metrics = Metrics(spec.name)
    app.state.metrics = metrics
    app.add_middleware(RequestContextMiddleware, metrics=metrics, quiet_paths=QUIET_PATHS,
                       trusted_proxies=TrustedProxies(settings.trusted_proxies))

    ops = APIRouter(tags=["operations"])

    @ops.get("/healthz", summary="Process is up")
    async def healthz() -> dict[str, str]:
        """Liveness: the process answers."""
        return {"status": "ok", "service": spec.name}

    @ops.get("/readyz", summary="Ready to serve", responses={503: {"model": Problem}})
    async def readyz(request: Request) -> Response:
        """Readiness: the database is reachable and this service's migrations are at head."""
        ok, detail = await database_ready(request.app.state.db, schema=spec.schema,
                                          expected_head=request.app.state.expected_head)
        body = {"status": "ready" if ok else "not_ready", "service": spec.name, "database": detail}
        return JSONResponse(body, status_code=200 if ok else 503)

    @ops.get("/metrics", summary="Prometheus metrics", response_class=Response)
    async def metrics_endpoint() -> Response:
        """Prometheus exposition of this process's request counters and latencies."""
        return Response(generate_latest(metrics.registry), media_type=CONTENT_TYPE_LATEST)

    app.include_router(ops)
    for router in spec.routers:
        app.include_router(router)
    _register_problem_schema(app)
    return app


def revocation_sync(settings: ServiceSettings, http: httpx.AsyncClient, *,
                    feed: FeedFetcher | None = None) -> RevocationSync:
    """The deny-list of a process's token verifier and the task that keeps it current (not started)."""
    revocations = RevocationList(max_staleness_seconds=settings.revocations_max_staleness_seconds)
    return RevocationSync(revocations, feed or http_feed(settings.revocations_url, http),
                          interval=settings.revocations_refresh_seconds)


def _register_problem_schema(app: FastAPI) -> None:
    """Make `#/components/schemas/Problem` exist in the OpenAPI document even if no route names it."""
    original = app.openapi

    def openapi() -> dict[str, Any]:
        if app.openapi_schema:
            return app.openapi_schema
        schema = original()
        components = schema.setdefault("components", {}).setdefault("schemas", {})
        if "Problem" not in components:
            components["Problem"] = Problem.model_json_schema(ref_template="#/components/schemas/{model}")
            for name, sub in components["Problem"].pop("$defs", {}).items():
                components.setdefault(name, sub)
        _document_validation_problems(schema)
        app.openapi_schema = schema
        return schema

    app.openapi = openapi  # type: ignore[method-assign]


def _document_validation_problems(schema: dict[str, Any]) -> None:
    """Document the 422 every validated operation really answers: FastAPI adds its own `HTTPValidationError`
    as application/json where a route did not list 422, but the validation handler answers a problem."""
    validation_ref = "#/components/schemas/HTTPValidationError"
    problem = {"schema": {"$ref": "#/components/schemas/Problem"}}
    for item in schema.get("paths", {}).values():
        for operation in item.values():
            response = operation.get("responses", {}).get("422") if isinstance(operation, dict) else None
            if not isinstance(response, dict):
                continue
            content = response.get("content", {})
            if content.get("application/json", {}).get("schema", {}).get("$ref") == validation_ref:
                response["description"] = "Validation failed"
                response["content"] = {"application/problem+json": problem, "application/json": problem}
    components = schema.get("components", {}).get("schemas", {})
    if not any(validation_ref in str(item) for item in schema.get("paths", {}).values()):
        components.pop("HTTPValidationError", None)
        components.pop("ValidationError", None)
