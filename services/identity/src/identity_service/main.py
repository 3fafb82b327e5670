"""The identity service's app factory: `uvicorn identity_service.main:create_app --factory`.

Organisations, users, machine clients, territories, field teams, and the tokens every service trusts.
"""

from __future__ import annotations

import dataclasses
from typing import Any

from fastapi import FastAPI

from himaya import clock
from himaya.app import ServiceSpec, create_service_app
from himaya.auth import JWKSCache
from himaya.db import Database
from himaya.idempotency import IdempotencyProtection
from himaya.retention import delivered_outbox_rule, idempotency_rule
from himaya.revocation import FeedFetcher
from identity_service.clients.router import router as clients_router
from identity_service.config import Settings
from identity_service.core.context import Context
from identity_service.core.crypto import KeyEncryption
from identity_service.core.tables import (
    MIGRATIONS_DIR,
    SCHEMA,
    audit_checkpoints,
    audit_events,
    idempotency_keys,
    outbox_events,
)
from identity_service.field_teams.router import router as field_teams_router
from identity_service.keys import service as keys
from identity_service.keys.router import router as keys_router
from identity_service.organizations.router import router as organizations_router
from identity_service.revocations import service as revocations
from identity_service.revocations.router import router as revocations_router
from identity_service.territories.router import router as territories_router
from identity_service.tokens.router import router as tokens_router
from identity_service.users.router import router as users_router

TAGS = [
    {"name": "authentication", "description": "OAuth2 tokens, revocation, JWKS and the caller."},
    {"name": "organizations", "description": "Organisations of the programme."},
    {"name": "users", "description": "People who log in; one role, one organisation, a territory scope."},
    {"name": "clients", "description": "Machine clients of partner systems (client credentials)."},
    {"name": "field teams", "description": "Each prefecture's multidisciplinary field team and its focal points."},
    {"name": "reference data", "description": "Territories and roles."},
    {"name": "signing keys", "description": "Token signing keys and their rotation."},
]


def own_jwks_cache(database: Any, encryption: KeyEncryption) -> JWKSCache:
    """A JWKS cache over identity's own published keys, read from its database (never over HTTP to itself).

    `database` returns the app's current Database; an unknown kid is looked up again at once (one indexed
    query), since a key published a moment ago must verify."""

    async def fetch() -> dict[str, Any]:
        db: Database = database()
        async with db.sessionmaker() as session:
            return await keys.jwks(Context(session, None, encryption), now=clock.now())

    return JWKSCache(fetch, cooldown_seconds=0.0, max_age_seconds=60.0)


def own_revocations_feed(database: Any, encryption: KeyEncryption) -> FeedFetcher:
    """Identity's verifier reads the revocation feed from its own database (never over HTTP to itself)."""

    async def fetch(after: int | None) -> dict[str, Any]:
        db: Database = database()
        async with db.sessionmaker() as session:
            page = await revocations.feed(Context(session, None, encryption), after=after,
                                          limit=revocations.FEED_PAGE_MAX, now=clock.now())
            return dataclasses.asdict(page)

    return fetch


def create_app(settings: Settings | None = None) -> FastAPI:
    """Build the identity app from settings (read from the environment when not given)."""
    settings = settings or Settings()
    spec = ServiceSpec(
        name="identity", title="Himaya identity", description=__doc__ or "", schema=SCHEMA,
        migrations_dir=MIGRATIONS_DIR,
        routers=[tokens_router, keys_router, revocations_router, users_router, organizations_router, clients_router,
                 field_teams_router, territories_router],
        audit_tables=(audit_events, audit_checkpoints),
        openapi_tags=TAGS,
        purge_rules=[idempotency_rule(idempotency_keys, settings.idempotency_retention),
                     delivered_outbox_rule(outbox_events, settings.outbox_retention)],
    )
    app: FastAPI | None = None
    encryption = KeyEncryption(settings.kek)
    jwks = own_jwks_cache(lambda: app.state.db if app is not None else None, encryption)
    feed = own_revocations_feed(lambda: app.state.db if app is not None else None, encryption)
    app = create_service_app(spec, settings, jwks=jwks, revocations_feed=feed)
    app.state.own_jwks = jwks
    app.state.key_encryption = encryption
    app.state.idempotency = IdempotencyProtection.from_own_secret(settings.kek, service="identity",
                                                                  retention=settings.idempotency_retention)
    return app
