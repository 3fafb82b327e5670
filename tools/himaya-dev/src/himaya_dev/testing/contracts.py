"""Tests every database-backed service must pass; a service's test module subclasses them.

    class TestOperations(OperationsContract):
        service = "cases"
"""

from __future__ import annotations

from typing import Any, ClassVar

import pytest
import sqlalchemy as sa

from himaya.db import create_engine
from himaya.settings import to_asyncpg_url

SERVICE_SCHEMAS = ("identity", "cases", "referrals")


class OperationsContract:
    """Health, readiness, metrics, problems for unknown routes, OpenAPI, and the database role's limits."""

    service: ClassVar[str]

    async def test_healthz_answers(self, client: Any) -> None:
        response = await client.get("/healthz")
        assert response.status_code == 200
        assert response.json()["service"] == self.service

    async def test_readyz_reports_migrations_at_head(self, client: Any) -> None:
        response = await client.get("/readyz")
        assert response.status_code == 200, response.text
        assert response.json()["status"] == "ready"

    async def test_metrics_are_prometheus_text(self, client: Any) -> None:
        await client.get("/healthz")
        response = await client.get("/metrics")
        assert response.status_code == 200
        assert "http_requests_total" in response.text

    async def test_unknown_route_is_a_problem(self, client: Any) -> None:
        response = await client.get("/v1/nothing-here", headers={"Accept-Language": "fr"})
        assert response.status_code == 404
        assert response.headers["content-type"].startswith("application/problem+json")
        assert response.json()["code"] == "not_found"
        assert response.json()["title"] == "Introuvable"
        assert response.headers["x-request-id"]

    async def test_openapi_is_served(self, client: Any) -> None:
        response = await client.get("/openapi.json")
        assert response.status_code == 200
        assert "/healthz" in response.json()["paths"]

    async def test_role_cannot_read_other_schemas(self, harness: Any) -> None:
        admin = create_engine(to_asyncpg_url(harness.admin_url))
        others = [s for s in SERVICE_SCHEMAS if s != self.service]
        async with admin.begin() as conn:
            for other in others:
                await conn.execute(sa.text(f'CREATE SCHEMA IF NOT EXISTS "{other}"'))
                await conn.execute(sa.text(f'CREATE TABLE IF NOT EXISTS "{other}".probe (x int)'))
        await admin.dispose()
        for other in others:
            async with harness.engine.connect() as conn:
                with pytest.raises(sa.exc.DBAPIError, match="permission denied"):
                    await conn.execute(sa.text(f'SELECT * FROM "{other}".probe'))  # noqa: S608

    async def test_role_cannot_alter_audit_rows(self, harness: Any) -> None:
        async with harness.engine.connect() as conn:
            with pytest.raises(sa.exc.DBAPIError, match="permission denied"):
                await conn.execute(sa.text(f'DELETE FROM "{self.service}".audit_events'))  # noqa: S608
