"""The referrals service's app factory: `uvicorn referrals_service.main:create_app --factory`."""

from __future__ import annotations

from fastapi import FastAPI

from himaya.app import ServiceSpec, create_service_app
from referrals_service.config import Settings
from referrals_service.db.tables import MIGRATIONS_DIR, SCHEMA


def create_app(settings: Settings | None = None) -> FastAPI:
    """Build the referrals app from settings (read from the environment when not given)."""
    settings = settings or Settings()
    spec = ServiceSpec(
        name="referrals", title="Himaya referrals", description=__doc__ or "", schema=SCHEMA,
        migrations_dir=MIGRATIONS_DIR, routers=[],
    )
    return create_service_app(spec, settings)
