"""The operational endpoints every service exposes."""

import pytest
import sqlalchemy as sa
from sqlalchemy.ext.asyncio import create_async_engine

from himaya.settings import to_asyncpg_url


class TestOperations:
    async def test_healthz_answers(self, client):
        response = await client.get("/healthz")
        assert response.status_code == 200
        assert response.json()["service"] == "cases"

    async def test_readyz_reports_migrations_at_head(self, client):
        response = await client.get("/readyz")
        assert response.status_code == 200, response.text
        assert response.json()["status"] == "ready"

    async def test_metrics_are_prometheus_text(self, client):
        await client.get("/healthz")
        response = await client.get("/metrics")
        assert response.status_code == 200
        assert "http_requests_total" in response.text

    async def test_unknown_route_is_a_problem(self, client):
        response = await client.get("/v1/nothing-here", headers={"Accept-Language": "fr"})
        assert response.status_code == 404
        assert response.headers["content-type"].startswith("application/problem+json")
        assert response.json()["code"] == "not_found"
        assert response.json()["title"] == "Introuvable"
        assert response.headers["x-request-id"]

    async def test_openapi_is_served(self, client):
        response = await client.get("/openapi.json")
        assert response.status_code == 200
        assert "/healthz" in response.json()["paths"]


class TestDatabaseRole:
    async def test_role_cannot_read_other_schemas(self, harness):
        admin = create_async_engine(to_asyncpg_url(harness.admin_url))
        others = [s for s in ("identity", "cases", "referrals") if s != "cases"]
        async with admin.begin() as conn:
            for other in others:
                await conn.execute(sa.text(f'CREATE SCHEMA IF NOT EXISTS "{other}"'))
                await conn.execute(sa.text(f'CREATE TABLE IF NOT EXISTS "{other}".probe (x int)'))
        await admin.dispose()
        for other in others:
            async with harness.engine.connect() as conn:
                with pytest.raises(sa.exc.DBAPIError, match="permission denied"):
                    await conn.execute(sa.text(f'SELECT * FROM "{other}".probe'))

    async def test_role_cannot_alter_audit_rows(self, harness):
        async with harness.engine.connect() as conn:
            try:
                await conn.execute(sa.text('DELETE FROM "cases".audit_events'))
            except sa.exc.DBAPIError as exc:
                assert "permission denied" in str(exc)
            else:
                raise AssertionError("the service role could delete audit rows")
