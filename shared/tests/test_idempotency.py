"""Idempotency-Key: replay, 422 on another body, concurrent retries get one object and one answer."""

import asyncio

import httpx
import pytest
import sqlalchemy as sa
from fastapi import FastAPI
from pydantic import BaseModel
from sqlalchemy.ext.asyncio import async_sessionmaker

from himaya.db import Database, SessionDep
from himaya.errors import install_problem_handlers
from himaya.idempotency import Idempotency, idempotency_dependency


class WidgetCreate(BaseModel):
    name: str


def build_app(engine, tables, *, required: bool = False) -> FastAPI:
    idempotency = tables.tables["libtest.idempotency_keys"]
    widgets = tables.tables["libtest.widgets"]
    app = FastAPI()
    install_problem_handlers(app)
    app.state.db = Database(engine=engine, sessionmaker=async_sessionmaker(engine, expire_on_commit=False))

    @app.post("/widgets", status_code=201)
    async def create_widget(body: WidgetCreate, session: SessionDep,
                            idem: Idempotency = idempotency_dependency(idempotency, required=required)):
        async def produce():
            await asyncio.sleep(0.05)  # work that takes a moment, so retries overlap it
            wid = (await session.execute(sa.insert(widgets).values(name=body.name).returning(widgets.c.id))).scalar()
            return {"name": body.name, "id": wid, "tags": {"z": 1, "a": [1.5, None]}}

        return await idem.run(session, caller="user:1", request_body=body, produce=produce,
                              headers=lambda r: {"Location": f"/widgets/{r['id']}"})

    return app


@pytest.fixture
async def client(clean, tables):
    async with httpx.AsyncClient(transport=httpx.ASGITransport(app=build_app(clean, tables)), base_url="http://t") as c:
        yield c


async def widget_count(engine) -> int:
    widgets = sa.table("widgets", schema="libtest")
    async with engine.connect() as conn:
        return (await conn.execute(sa.select(sa.func.count()).select_from(widgets))).scalar()


class TestIdempotency:
    async def test_same_key_same_body_replays(self, client, clean):
        first = await client.post("/widgets", json={"name": "a"}, headers={"Idempotency-Key": "k-1"})
        second = await client.post("/widgets", json={"name": "a"}, headers={"Idempotency-Key": "k-1"})
        assert first.status_code == second.status_code == 201
        assert first.content == second.content
        assert second.headers["location"] == first.headers["location"]
        assert second.headers["idempotent-replayed"] == "true"
        assert await widget_count(clean) == 1

    async def test_same_key_other_body_is_422(self, client, clean):
        await client.post("/widgets", json={"name": "a"}, headers={"Idempotency-Key": "k-2"})
        other = await client.post("/widgets", json={"name": "b"}, headers={"Idempotency-Key": "k-2"})
        assert other.status_code == 422 and other.json()["code"] == "idempotency_key_reused"
        assert await widget_count(clean) == 1

    async def test_without_key_each_post_creates(self, client, clean):
        await client.post("/widgets", json={"name": "a"})
        await client.post("/widgets", json={"name": "a"})
        assert await widget_count(clean) == 2

    async def test_malformed_key_is_422(self, client):
        response = await client.post("/widgets", json={"name": "a"}, headers={"Idempotency-Key": "bad key!"})
        assert response.status_code == 422

    async def test_fifty_concurrent_retries_make_one_object(self, client, clean):
        responses = await asyncio.gather(*(
            client.post("/widgets", json={"name": "c"}, headers={"Idempotency-Key": "k-50"}) for _ in range(50)))
        assert {r.status_code for r in responses} == {201}
        assert len({r.text for r in responses}) == 1
        assert await widget_count(clean) == 1

    async def test_required_key_is_enforced(self, clean, tables):
        app = build_app(clean, tables, required=True)
        async with httpx.AsyncClient(transport=httpx.ASGITransport(app=app), base_url="http://t") as c:
            response = await c.post("/widgets", json={"name": "a"})
        assert response.status_code == 422 and response.json()["code"] == "idempotency_key_required"
