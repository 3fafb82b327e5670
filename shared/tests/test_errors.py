"""Every error path answers RFC 9457 problem+json, in the caller's language, without internals."""

import httpx
import pytest
from fastapi import FastAPI
from pydantic import BaseModel, ConfigDict

from himaya.errors import Conflict, TooManyRequests, install_problem_handlers
from himaya.i18n import negotiate_language
from himaya.middleware import Metrics, RequestContextMiddleware


class Body(BaseModel):
    model_config = ConfigDict(extra="forbid")
    name: str
    age: int


def build_app() -> FastAPI:
    app = FastAPI()
    install_problem_handlers(app)
    app.add_middleware(RequestContextMiddleware, metrics=Metrics("test"))

    @app.post("/things")
    async def create(body: Body) -> dict[str, str]:
        return {"name": body.name}

    @app.get("/conflict")
    async def conflict() -> None:
        raise Conflict("The thing is busy.")

    @app.get("/limited")
    async def limited() -> None:
        raise TooManyRequests("Slow down.", retry_after=7)

    @app.get("/boom")
    async def boom() -> None:
        raise RuntimeError("secret internals: password=hunter2")

    return app


@pytest.fixture
async def client():
    transport = httpx.ASGITransport(app=build_app(), raise_app_exceptions=False)
    async with httpx.AsyncClient(transport=transport, base_url="http://t") as c:
        yield c


def assert_problem(response: httpx.Response, status: int, code: str) -> dict:
    assert response.status_code == status
    assert response.headers["content-type"] == "application/problem+json"
    body = response.json()
    assert body["status"] == status and body["code"] == code
    assert body["type"].endswith("/" + code)
    assert body["title"]
    return body


class TestProblems:
    async def test_domain_error(self, client):
        body = assert_problem(await client.get("/conflict"), 409, "conflict")
        assert body["detail"] == "The thing is busy."

    async def test_rate_limit_carries_retry_after(self, client):
        response = await client.get("/limited")
        assert_problem(response, 429, "too_many_requests")
        assert response.headers["retry-after"] == "7"

    async def test_validation_lists_fields_without_echoing_input(self, client):
        response = await client.post("/things", json={"name": "Karima<script>", "age": "old", "role": "admin"})
        body = assert_problem(response, 422, "validation_failed")
        locs = {tuple(e["loc"]) for e in body["errors"]}
        assert ("body", "age") in locs and ("body", "role") in locs
        assert "Karima" not in response.text

    async def test_invalid_json_is_422(self, client):
        response = await client.post("/things", content=b"{not json", headers={"content-type": "application/json"})
        assert_problem(response, 422, "validation_failed")

    async def test_unknown_route_and_method(self, client):
        assert_problem(await client.get("/nope"), 404, "not_found")
        assert_problem(await client.delete("/things"), 405, "method_not_allowed")

    async def test_unhandled_error_hides_internals(self, client):
        response = await client.get("/boom")
        body = assert_problem(response, 500, "internal_error")
        assert "hunter2" not in response.text and "RuntimeError" not in response.text
        assert body["request_id"] == response.headers["x-request-id"]

    @pytest.mark.parametrize(("header", "title"), [
        ("ar", "تعارض"), ("fr-MA,fr;q=0.9", "Conflit"), ("en-GB", "Conflict"), (None, "Conflict"),
        ("de", "Conflict"),
    ])
    async def test_title_language(self, client, header, title):
        headers = {"Accept-Language": header} if header else {}
        assert (await client.get("/conflict", headers=headers)).json()["title"] == title


class TestRequestId:
    async def test_well_formed_client_id_is_kept(self, client):
        response = await client.get("/conflict", headers={"X-Request-ID": "abc-123-def-456"})
        assert response.headers["x-request-id"] == "abc-123-def-456"

    async def test_malformed_client_id_is_replaced(self, client):
        response = await client.get("/conflict", headers={"X-Request-ID": "bad id\twith spaces"})
        assert response.headers["x-request-id"] != "bad id\twith spaces"
        assert len(response.headers["x-request-id"]) == 32


def test_language_negotiation_prefers_quality():
    assert negotiate_language("en;q=0.4, ar;q=0.9") == "ar"
    assert negotiate_language("zz, fr;q=0.1") == "fr"
    assert negotiate_language("") == "en"


class TestDatabaseErrors:
    """Errors of a real Postgres become problems: down → 503 (retry), refused value → 422, a bug → 500."""

    @pytest.fixture
    async def db_client(self, test_database_url):
        import socket

        import sqlalchemy as sa
        from sqlalchemy.ext.asyncio import create_async_engine

        from himaya.settings import to_asyncpg_url

        with socket.socket() as s:
            s.bind(("127.0.0.1", 0))
            closed_port = s.getsockname()[1]
        engine = create_async_engine(to_asyncpg_url(test_database_url))
        nowhere = create_async_engine(f"postgresql+asyncpg://nobody:x@127.0.0.1:{closed_port}/none")
        app = build_app()

        @app.get("/echo")
        async def echo(text: str) -> dict[str, str]:
            async with engine.connect() as conn:
                return {"text": str((await conn.execute(sa.text("SELECT CAST(:t AS text)"), {"t": text})).scalar())}

        @app.get("/bug")
        async def bug() -> None:
            async with engine.connect() as conn:
                await conn.execute(sa.text("SELEC 1"))

        @app.get("/down")
        async def down() -> None:
            async with nowhere.connect() as conn:
                await conn.execute(sa.text("SELECT 1"))

        transport = httpx.ASGITransport(app=app, raise_app_exceptions=False)
        async with httpx.AsyncClient(transport=transport, base_url="http://t") as c:
            yield c
        await engine.dispose()
        await nowhere.dispose()

    async def test_a_nul_character_postgres_refuses_is_422_not_500(self, db_client):
        assert (await db_client.get("/echo", params={"text": "fine"})).json() == {"text": "fine"}
        body = assert_problem(await db_client.get("/echo", params={"text": "a\x00b"}), 422, "invalid_input")
        assert "\x00" not in body["detail"]

    async def test_an_unreachable_database_is_503_with_retry_after(self, db_client):
        response = await db_client.get("/down")
        assert_problem(response, 503, "service_unavailable")
        assert response.headers["retry-after"] == "2"

    async def test_any_other_database_error_stays_a_500_without_internals(self, db_client):
        response = await db_client.get("/bug")
        assert_problem(response, 500, "internal_error")
        assert "SELEC" not in response.text
