"""Idempotency-Key: replay, 422 on another body, concurrent retries get one object and one answer."""

import asyncio

import httpx
import pytest
import sqlalchemy as sa
from fastapi import FastAPI, Request
from pydantic import BaseModel
from sqlalchemy.ext.asyncio import async_sessionmaker

from himaya.crypto import FieldCipher
from himaya.db import Database, SessionDep
from himaya.errors import install_problem_handlers
from himaya.idempotency import Idempotency, IdempotencyProtection, idempotency_dependency, reseal_answers

PROTECTION = IdempotencyProtection.from_secret(FieldCipher.from_secrets({"k1": "library-test-field-key-0001"}),
                                               "library-test-fingerprint-secret", service="libtest")


class WidgetCreate(BaseModel):
    name: str


def build_app(engine, tables, *, required: bool = False) -> FastAPI:
    idempotency = tables.tables["libtest.idempotency_keys"]
    widgets = tables.tables["libtest.widgets"]
    app = FastAPI()
    install_problem_handlers(app)
    app.state.db = Database(engine=engine, sessionmaker=async_sessionmaker(engine, expire_on_commit=False))
    app.state.idempotency = PROTECTION

    @app.post("/widgets", status_code=201)
    async def create_widget(body: WidgetCreate, session: SessionDep, request: Request,
                            idem: Idempotency = idempotency_dependency(idempotency, required=required)):
        caller = request.headers.get("x-caller", "user:1")
        async def produce():
            await asyncio.sleep(0.05)  # work that takes a moment, so retries overlap it
            wid = (await session.execute(sa.insert(widgets).values(name=body.name).returning(widgets.c.id))).scalar()
            return {"name": body.name, "id": wid, "tags": {"z": 1, "a": [1.5, None]}}

        return await idem.run(session, caller=caller, request_body=body, produce=produce,
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


class TestStoredAnswers:
    async def test_the_table_holds_no_request_or_answer_text(self, client, clean):
        key = "key-with-Zoubida-in-it"
        first = await client.post("/widgets", json={"name": "Zoubida Benslimane"}, headers={"Idempotency-Key": key})
        assert first.status_code == 201
        async with clean.connect() as conn:
            rows = (await conn.execute(sa.text("SELECT t::text AS row, response_sealed, request_hash "
                                               "FROM libtest.idempotency_keys t"))).mappings().all()
        assert len(rows) == 1
        row = rows[0]
        assert "zoubida" not in row["row"].lower() and "benslimane" not in row["row"].lower()
        assert b"Zoubida" not in bytes(row["response_sealed"]) and len(bytes(row["request_hash"])) == 32
        replay = await client.post("/widgets", json={"name": "Zoubida Benslimane"}, headers={"Idempotency-Key": key})
        assert replay.content == first.content and replay.headers["idempotent-replayed"] == "true"

    async def test_another_caller_with_the_same_key_gets_its_own_answer(self, client, clean):
        first = await client.post("/widgets", json={"name": "a"}, headers={"Idempotency-Key": "shared"})
        other = await client.post("/widgets", json={"name": "a"},
                                  headers={"Idempotency-Key": "shared", "X-Caller": "user:2"})
        assert first.status_code == other.status_code == 201
        assert "idempotent-replayed" not in other.headers
        assert other.json()["id"] != first.json()["id"]
        assert await widget_count(clean) == 2

    async def test_an_answer_moved_to_another_caller_is_not_replayed(self, client, clean):
        first = await client.post("/widgets", json={"name": "a"}, headers={"Idempotency-Key": "moved"})
        # Someone with write access to the table files the first caller's row under another caller and the
        # keyed hash of that caller's key: the fingerprint is bound to the caller, so nothing is replayed.
        moved = PROTECTION.mac(b"key", b"user:2", b"moved").hex()
        async with clean.begin() as conn:
            await conn.execute(sa.text("UPDATE libtest.idempotency_keys SET caller = 'user:2', key = :k"),
                               {"k": moved})
        other = await client.post("/widgets", json={"name": "a"},
                                  headers={"Idempotency-Key": "moved", "X-Caller": "user:2"})
        assert other.status_code == 422 and other.json()["code"] == "idempotency_key_reused"
        assert str(first.json()["id"]) not in other.text

    def test_the_fingerprint_is_keyed(self):
        other = IdempotencyProtection.from_secret(PROTECTION.cipher, "another-fingerprint-secret", service="libtest")
        assert PROTECTION.mac(b"request", b"body") != other.mac(b"request", b"body")
        assert PROTECTION.mac(b"ab", b"c") != PROTECTION.mac(b"a", b"bc")

    async def test_rotation_reseals_stored_answers_under_the_new_key(self, clean, tables):
        old = PROTECTION
        app = build_app(clean, tables)
        async with httpx.AsyncClient(transport=httpx.ASGITransport(app=app), base_url="http://t") as c:
            first = await c.post("/widgets", json={"name": "rotated"}, headers={"Idempotency-Key": "rot"})
            both = FieldCipher.from_secrets({"k1": "library-test-field-key-0001", "k2": "library-test-field-key-0002"})
            assert await reseal_answers(clean, tables.tables["libtest.idempotency_keys"], both) == 1
            only_new = FieldCipher.from_secrets({"k2": "library-test-field-key-0002"})
            app.state.idempotency = IdempotencyProtection(only_new, old.fingerprint_key, old.retention)
            replay = await c.post("/widgets", json={"name": "rotated"}, headers={"Idempotency-Key": "rot"})
        assert replay.content == first.content and replay.headers["idempotent-replayed"] == "true"
