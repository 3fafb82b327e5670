"""The identity service's app factory: `uvicorn identity_service.main:create_app --factory`.

Organisations, users, machine clients, territories, field teams, and the tokens every service trusts.
"""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

from fastapi import FastAPI

from himaya.app import ServiceSpec, create_service_app
from himaya.auth import JWKSCache
from himaya.db import Database
from himaya.idempotency import IdempotencyProtection
from himaya.retention import delivered_outbox_rule, idempotency_rule
from himaya.revocation import FeedFetcher
from identity_service.api import auth, directory, reference
from identity_service.config import Settings
from identity_service.db.tables import (
    MIGRATIONS_DIR,
    SCHEMA,
    audit_checkpoints,
    audit_events,
    idempotency_keys,
    outbox_events,
)
from identity_service.domain import keys, revocations
from identity_service.domain.crypto import KeyEncryption

TAGS = [
    {"name": "authentication", "description": "OAuth2 tokens, revocation, JWKS and the caller."},
    {"name": "organizations", "description": "Organisations of the programme."},
    {"name": "users", "description": "People who log in; one role, one organisation, a territory scope."},
    {"name": "clients", "description": "Machine clients of partner systems (client credentials)."},
    {"name": "field teams", "description": "Each prefecture's multidisciplinary field team and its focal points."},
    {"name": "reference data", "description": "Territories and roles."},
    {"name": "signing keys", "description": "Token signing keys and their rotation."},
]


def own_jwks_cache(database: Any) -> JWKSCache:
    """A JWKS cache over identity's own published keys, read from its database (never over HTTP to itself).

    `database` returns the app's current Database; an unknown kid is looked up again at once (one indexed
    query), since a key published a moment ago must verify."""

    async def fetch() -> dict[str, Any]:
        db: Database = database()
        async with db.sessionmaker() as session:
            return await keys.jwks(session, now=datetime.now(UTC))

    return JWKSCache(fetch, cooldown_seconds=0.0, max_age_seconds=60.0)


def own_revocations_feed(database: Any) -> FeedFetcher:
    """Identity's verifier reads the revocation feed from its own database (never over HTTP to itself)."""

    async def fetch(after: int | None) -> dict[str, Any]:
        db: Database = database()
        async with db.sessionmaker() as session:
            return await revocations.feed(session, after=after, limit=revocations.FEED_PAGE_MAX,
                                          now=datetime.now(UTC))

    return fetch


def create_app(settings: Settings | None = None) -> FastAPI:
    """Build the identity app from settings (read from the environment when not given)."""
    settings = settings or Settings()
    spec = ServiceSpec(
        name="identity", title="Himaya identity", description=__doc__ or "", schema=SCHEMA,
        migrations_dir=MIGRATIONS_DIR, routers=[auth.router, directory.router, reference.router],
        audit_tables=(audit_events, audit_checkpoints),
        openapi_tags=TAGS,
        purge_rules=[idempotency_rule(idempotency_keys, settings.idempotency_retention),
                     delivered_outbox_rule(outbox_events, settings.outbox_retention)],
    )
    app: FastAPI | None = None
    jwks = own_jwks_cache(lambda: app.state.db if app is not None else None)
    feed = own_revocations_feed(lambda: app.state.db if app is not None else None)
    app = create_service_app(spec, settings, jwks=jwks, revocations_feed=feed)
    app.state.own_jwks = jwks
    app.state.key_encryption = KeyEncryption(settings.kek)
    app.state.idempotency = IdempotencyProtection.from_own_secret(settings.kek, service="identity",
                                                                  retention=settings.idempotency_retention)
    return app
