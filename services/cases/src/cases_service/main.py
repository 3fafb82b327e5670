"""The cases service's app factory: `uvicorn cases_service.main:create_app --factory`.

Intakes, children and adults, cases and their path, casework, the timeline, and events from referrals.
"""

from __future__ import annotations

import contextlib
from collections.abc import AsyncIterator

from fastapi import FastAPI

from cases_service.audit.router import router as audit_router
from cases_service.cases.router import router as cases_router
from cases_service.casework.router import router as casework_router
from cases_service.config import PROCESSED_EVENTS_MARGIN, Settings
from cases_service.core.identity_client import IdentityDirectory
from cases_service.core.protection import Protector
from cases_service.core.reference import ReferenceData
from cases_service.core.tables import (
    MIGRATIONS_DIR,
    SCHEMA,
    audit_checkpoints,
    audit_events,
    idempotency_keys,
    outbox_events,
    processed_events,
)
from cases_service.decisions.router import router as decisions_router
from cases_service.duplicates.router import router as duplicates_router
from cases_service.intakes.router import router as intakes_router
from cases_service.stats.router import router as stats_router
from cases_service.stats.suppression import Perturbation
from himaya.app import ServiceSpec, create_service_app
from himaya.idempotency import IdempotencyProtection
from himaya.retention import PurgeRule, delivered_outbox_rule, idempotency_rule


def create_app(settings: Settings | None = None) -> FastAPI:
    """Build the cases app from settings (read from the environment when not given)."""
    settings = settings or Settings()

    @contextlib.asynccontextmanager
    async def lifespan(app: FastAPI) -> AsyncIterator[None]:
        keys = settings.field_key_map()
        index_key = settings.blind_index_key.get_secret_value() if settings.blind_index_key else ""
        if not keys or not index_key:
            raise RuntimeError("CASES_FIELD_KEYS and CASES_BLIND_INDEX_KEY are required to store identifying data")
        app.state.protector = Protector.from_settings(field_keys=keys, active_kid=settings.field_active_key,
                                                      blind_index_key=index_key)
        app.state.idempotency = IdempotencyProtection.from_secret(
            app.state.protector.cipher, index_key, service="cases", retention=settings.idempotency_retention)
        app.state.reference = ReferenceData.load()
        stats_key = settings.stats_perturbation_key.get_secret_value() if settings.stats_perturbation_key else ""
        if not stats_key:
            raise RuntimeError("CASES_STATS_PERTURBATION_KEY is required to publish protected statistics")
        app.state.stats_perturbation = Perturbation(stats_key.encode())
        app.state.identity = IdentityDirectory(settings.identity_url)
        try:
            yield
        finally:
            await app.state.identity.aclose()

    spec = ServiceSpec(
        name="cases", title="Himaya cases", description=__doc__ or "", schema=SCHEMA,
        migrations_dir=MIGRATIONS_DIR, audit_tables=(audit_events, audit_checkpoints),
        routers=[intakes_router, cases_router, duplicates_router, casework_router, decisions_router, stats_router,
                 audit_router],
        lifespan=lifespan,
        purge_rules=[idempotency_rule(idempotency_keys, settings.idempotency_retention),
                     delivered_outbox_rule(outbox_events, settings.outbox_retention),
                     PurgeRule(processed_events, "processed_at",
                               settings.processed_events_retention + PROCESSED_EVENTS_MARGIN)],
        openapi_tags=[{"name": "cases", "description": "Intakes, cases, their path and timeline."},
                      {"name": "casework", "description": "Records of the work done for a child."},
                      {"name": "audit", "description": "The audit log, for data-protection auditors."},
                      {"name": "internal", "description": "Service-to-service events (not routed by the gateway)."}],
    )
    return create_service_app(spec, settings)
