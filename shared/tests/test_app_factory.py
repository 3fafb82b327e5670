"""The app factory: one transaction per request, committed before the response, rolled back on error."""

import uuid
from pathlib import Path

import httpx
import pytest
import sqlalchemy as sa
from fastapi import APIRouter
from sqlalchemy.ext.asyncio import async_sessionmaker

from himaya.app import ServiceSpec, create_service_app
from himaya.db import Database, SessionDep
from himaya.errors import Conflict
from himaya.settings import ServiceSettings

widgets = sa.table("widgets", sa.column("id"), sa.column("name"), schema="libtest")


def build(engine, tokens):
    router = APIRouter()

    @router.post("/widgets")
    async def create(session: SessionDep, fail: bool = False) -> dict[str, str]:
        name = uuid.uuid4().hex
        await session.execute(sa.insert(widgets).values(name=name))
        if fail:
            raise Conflict("refused after writing")
        return {"name": name}

    spec = ServiceSpec(name="demo", title="Demo", description="", schema="libtest",
                       migrations_dir=Path(__file__).parent / "no-migrations", routers=[router])
    app = create_service_app(spec, ServiceSettings(environment="test", log_json=False))
    app.state.db = Database(engine=engine, sessionmaker=async_sessionmaker(engine, expire_on_commit=False))
    app.state.token_verifier = tokens.verifier()
    return app


async def names(engine) -> set[str]:
    async with engine.connect() as conn:
        return set((await conn.execute(sa.select(widgets.c.name))).scalars())


@pytest.fixture
async def client(clean, tokens, monkeypatch):
    monkeypatch.setattr("himaya.app.head_revision", lambda *a, **k: None)
    app = build(clean, tokens)
    async with app.router.lifespan_context(app):
        async with httpx.AsyncClient(transport=httpx.ASGITransport(app=app), base_url="http://t") as c:
            yield c


class TestTransactions:
    async def test_success_is_committed_before_the_response(self, client, clean):
        response = await client.post("/widgets")
        assert response.status_code == 200
        assert response.json()["name"] in await names(clean)

    async def test_domain_error_rolls_back(self, client, clean):
        response = await client.post("/widgets", params={"fail": "true"})
        assert response.status_code == 409
        assert await names(clean) == set()


class TestOpenAPIValidationProblems:
    def test_the_documented_422_is_the_problem_the_validation_handler_answers(self):
        spec = ServiceSpec(name="demo", title="Demo", description="", schema="libtest",
                           migrations_dir=Path(__file__).parent / "no-migrations", routers=[build_router()])
        doc = create_service_app(spec, ServiceSettings(environment="test", log_json=False)).openapi()
        response = doc["paths"]["/widgets/{widget_id}"]["get"]["responses"]["422"]
        assert response["content"]["application/problem+json"]["schema"] == {"$ref": "#/components/schemas/Problem"}
        assert "HTTPValidationError" not in doc["components"]["schemas"]


def build_router() -> APIRouter:
    router = APIRouter()

    @router.get("/widgets/{widget_id}")
    async def get_widget(widget_id: uuid.UUID) -> dict[str, str]:
        return {"id": str(widget_id)}

    return router
