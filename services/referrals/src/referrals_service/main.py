"""The referrals service: referrals of a case to a prosecution office or a service provider, prosecutor
decisions, and events to cases and to partners' webhooks. Factory: `uvicorn referrals_service.main:create_app
--factory`."""

from __future__ import annotations

import contextlib
from collections.abc import AsyncIterator

import httpx
from fastapi import FastAPI

from himaya.app import ServiceSpec, create_service_app
from himaya.crypto import FieldCipher
from himaya.idempotency import IdempotencyProtection
from himaya.retention import delivered_outbox_rule, idempotency_rule
from referrals_service.config import Settings
from referrals_service.core.clients import CasesClient, IdentityClient
from referrals_service.core.tables import (
    MIGRATIONS_DIR,
    SCHEMA,
    audit_checkpoints,
    audit_events,
    idempotency_keys,
    outbox_events,
)
from referrals_service.core.urlguard import url_guard
from referrals_service.delivery.dispatcher import CasesDelivery, OrderedDispatcher, WebhookDelivery, webhook_http_client
from referrals_service.referrals.router import router as referrals_router
from referrals_service.webhooks.router import admin_router as dead_letters_router
from referrals_service.webhooks.router import router as webhooks_router


def create_app(settings: Settings | None = None) -> FastAPI:
    """Build the referrals app from settings (read from the environment when not given)."""
    settings = settings or Settings()

    @contextlib.asynccontextmanager
    async def lifespan(app: FastAPI) -> AsyncIterator[None]:
        keys = settings.field_key_map()
        if not keys:
            raise RuntimeError("REFERRALS_FIELD_KEYS is required to store the referrals' free texts")
        if settings.events_secret is None:
            raise RuntimeError("REFERRALS_EVENTS_SECRET is required to sign events and key idempotency fingerprints")
        cipher = FieldCipher.from_secrets(keys, settings.field_active_key)
        app.state.field_cipher = cipher
        app.state.idempotency = IdempotencyProtection.from_secret(
            cipher, settings.events_secret.get_secret_value(), service="referrals",
            retention=settings.idempotency_retention)
        app.state.cases_client = CasesClient(settings.cases_url)
        app.state.identity_client = IdentityClient(settings.identity_url)
        delivery_http = httpx.AsyncClient(timeout=httpx.Timeout(settings.webhook_timeout_seconds, connect=5.0),
                                          follow_redirects=False)
        webhook_http = webhook_http_client(settings.webhook_timeout_seconds)
        guard = url_guard(allow_private=settings.webhook_allow_private,
                          allowed_networks=settings.webhook_allowed_networks)
        app.state.url_guard = guard
        dispatcher = None
        if settings.dispatcher_enabled:
            secret = settings.events_secret.get_secret_value().encode() if settings.events_secret else b""
            dispatcher = OrderedDispatcher(
                app.state.db.engine, outbox_events,
                {"cases": CasesDelivery(delivery_http, cases_url=settings.cases_url, secret=secret,
                                            cipher=cipher),
                 "webhook": WebhookDelivery(webhook_http, app.state.db.engine, guard=guard, cipher=cipher)},
                listen_dsn=settings.dsn, base_backoff=settings.outbox_base_backoff_seconds,
                max_backoff=settings.outbox_max_backoff_seconds, poll_interval=settings.outbox_poll_interval_seconds,
                max_attempts=settings.outbox_max_attempts)
            dispatcher.start()
        app.state.dispatcher = dispatcher
        try:
            yield
        finally:
            if dispatcher is not None:
                await dispatcher.stop()
            await delivery_http.aclose()
            await webhook_http.aclose()
            await app.state.cases_client.aclose()
            await app.state.identity_client.aclose()

    spec = ServiceSpec(
        name="referrals", title="Himaya referrals", description=__doc__ or "", schema=SCHEMA,
        migrations_dir=MIGRATIONS_DIR, routers=[referrals_router, webhooks_router, dead_letters_router],
        audit_tables=(audit_events, audit_checkpoints),
        lifespan=lifespan,
        purge_rules=[idempotency_rule(idempotency_keys, settings.idempotency_retention),
                     delivered_outbox_rule(outbox_events, settings.outbox_retention)],
        openapi_tags=[{"name": "referrals", "description": "Referrals and prosecutor decisions."},
                      {"name": "webhooks", "description": "Signed event deliveries to partners' systems."}],
    )
    return create_service_app(spec, settings)
