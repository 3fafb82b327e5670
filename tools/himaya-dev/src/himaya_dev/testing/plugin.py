"""Pytest plugin for Himaya's services: a migrated database per test session, a rolled-back transaction
per test, an async client, and a token factory that signs test tokens.

Loaded with `-p himaya_dev.testing.plugin`. A service's conftest builds its harness with `ServiceHarness`.
"""

from __future__ import annotations

import asyncio
import contextlib
import os
import secrets
import time
import uuid
from collections.abc import AsyncIterator, Callable, Iterator, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit, urlunsplit

import asyncpg
import httpx
import jwt
import pytest
import sqlalchemy as sa
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey
from fastapi import FastAPI
from sqlalchemy.ext.asyncio import AsyncConnection, AsyncEngine, async_sessionmaker

from himaya.auth import JWKSCache, TokenVerifier
from himaya.db import Database, create_engine
from himaya.migrations import provision
from himaya.settings import to_asyncpg_url
from himaya_dev import devstack, embedded_pg

ISSUER = "himaya-identity"
AUDIENCE = "himaya"


def replace_db(url: str, database: str) -> str:
    parts = urlsplit(url)
    return urlunsplit((parts.scheme, parts.netloc, "/" + database, parts.query, parts.fragment))


def with_user(url: str, user: str, password: str) -> str:
    parts = urlsplit(url)
    host = parts.netloc.rsplit("@", 1)[-1]
    return urlunsplit((parts.scheme, f"{user}:{password}@{host}", parts.path, parts.query, parts.fragment))


_started_servers: list[embedded_pg.EmbeddedPostgres] = []


def server_admin_url() -> str:
    """The superuser URL of the server tests use: DATABASE_URL, or the embedded one (started if needed)."""
    given = os.environ.get("DATABASE_URL")
    if given:
        return given
    pg = embedded_pg.ensure_running(devstack.data_dir() / "pg", devstack.pg_port())
    if pg.started_here:
        _started_servers.append(pg)
    return pg.url("postgres")


def pytest_sessionfinish(session: pytest.Session, exitstatus: int) -> None:
    """Stop the embedded server if this session started it and nobody else (a `make run`, another test
    session) is connected to it."""

    async def others_connected(url: str) -> bool:
        conn = await asyncpg.connect(url)
        try:
            return bool(await conn.fetchval(
                "SELECT count(*) FROM pg_stat_activity WHERE backend_type = 'client backend' "
                "AND pid <> pg_backend_pid()"))
        finally:
            await conn.close()

    while _started_servers:
        pg = _started_servers.pop()
        try:
            busy = asyncio.run(others_connected(pg.url("postgres")))
        except (OSError, asyncpg.PostgresError):
            busy = False
        if not busy:
            embedded_pg.stop(pg.data_dir)


@pytest.fixture(scope="session")
def session_tag() -> str:
    """A short random tag naming this test session's database and roles."""
    return secrets.token_hex(4)


@pytest.fixture(scope="session")
def test_database_url(session_tag: str) -> Iterator[str]:
    """Superuser URL of a fresh database created for this test session and dropped after it."""
    server = server_admin_url()
    name = f"himaya_test_{session_tag}"

    async def run(sql: str) -> None:
        conn = await asyncpg.connect(replace_db(server, "postgres"))
        try:
            await conn.execute(sql)
        finally:
            await conn.close()

    asyncio.run(run(f'CREATE DATABASE "{name}"'))
    try:
        yield replace_db(server, name)
    finally:
        asyncio.run(run(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))

        async def drop_roles() -> None:
            conn = await asyncpg.connect(replace_db(server, "postgres"))
            try:
                for row in await conn.fetch("SELECT rolname FROM pg_roles WHERE rolname LIKE $1",
                                            f"%\\_t{session_tag}"):
                    await conn.execute(f'DROP ROLE IF EXISTS "{row["rolname"]}"')
            finally:
                await conn.close()

        asyncio.run(drop_roles())


@dataclass
class TokenFactory:
    """Signs access tokens the way identity does, with a key the services under test trust."""

    private_key: Ed25519PrivateKey
    kid: str
    jwks: dict[str, Any]

    @classmethod
    def generate(cls) -> TokenFactory:
        """A factory with a fresh Ed25519 key."""
        key = Ed25519PrivateKey.generate()
        kid = "test-" + secrets.token_hex(4)
        public = jwt.algorithms.OKPAlgorithm.to_jwk(key.public_key(), as_dict=True)
        public.update({"kid": kid, "use": "sig", "alg": "EdDSA"})
        return cls(key, kid, {"keys": [public]})

    def private_pem(self) -> bytes:
        """The signing key in PEM form."""
        return self.private_key.private_bytes(serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8,
                                              serialization.NoEncryption())

    def token(self, *, role: str = "admin", scopes: Sequence[str] = (), territories: Sequence[str] = ("MA",),
              org: uuid.UUID | None = None, org_type: str | None = None, sub: uuid.UUID | None = None,
              sub_type: str = "user", ttl: int = 600, **extra: Any) -> str:
        """A signed access token with the given claims."""
        now = int(time.time())
        claims: dict[str, Any] = {
            "iss": ISSUER, "aud": AUDIENCE, "sub": f"{sub_type}:{sub or uuid.uuid4()}", "iat": now,
            "exp": now + ttl, "jti": secrets.token_hex(8), "scope": " ".join(scopes), "role": role,
            "territories": list(territories), "org": str(org) if org else None, "org_type": org_type,
            "typ": "access",
        }
        claims.update(extra)
        return jwt.encode(claims, self.private_key, algorithm="EdDSA", headers={"kid": self.kid})

    def headers(self, **kwargs: Any) -> dict[str, str]:
        """An Authorization header carrying `token(**kwargs)`."""
        return {"Authorization": f"Bearer {self.token(**kwargs)}"}

    def verifier(self) -> TokenVerifier:
        """A verifier trusting only this factory's key."""
        return TokenVerifier(JWKSCache.static(self.jwks), issuer=ISSUER, audience=AUDIENCE)


@pytest.fixture(scope="session")
def tokens() -> TokenFactory:
    """The test token factory."""
    return TokenFactory.generate()


@dataclass
class ServiceHarness:
    """A service's app on a migrated schema of the session database, for in-process tests."""

    app: FastAPI
    engine: AsyncEngine
    admin_url: str
    app_url: str
    schema: str
    _lifespan: Any = field(default=None, repr=False)

    @classmethod
    def provision(cls, *, admin_url: str, service: str, tag: str, schema: str, migrations_dir: Path,
                  append_only: Sequence[str], app_factory: Callable[[Any], FastAPI],
                  settings_factory: Callable[[str], Any], tokens: TokenFactory) -> ServiceHarness:
        """Create the service's role and schema in the session database and build its app."""
        password = secrets.token_urlsafe(16)
        app_url = with_user(admin_url, f"himaya_{service}_t{tag}", password)
        provision(admin_url=admin_url, app_url=app_url, schema=schema, migrations_dir=migrations_dir,
                  append_only=append_only)
        settings = settings_factory(app_url)
        app = app_factory(settings)
        engine = create_engine(to_asyncpg_url(app_url), pool_size=5, max_overflow=20)
        app.state.db = Database(engine=engine, sessionmaker=async_sessionmaker(engine, expire_on_commit=False))
        app.state.token_verifier = tokens.verifier()
        return cls(app=app, engine=engine, admin_url=admin_url, app_url=app_url, schema=schema)

    async def start(self) -> None:
        """Run the app's lifespan startup."""
        self._lifespan = self.app.router.lifespan_context(self.app)
        await self._lifespan.__aenter__()

    async def stop(self) -> None:
        """Run the app's lifespan shutdown."""
        if self._lifespan is not None:
            await self._lifespan.__aexit__(None, None, None)
            self._lifespan = None

    @contextlib.asynccontextmanager
    async def rolled_back(self) -> AsyncIterator[AsyncConnection]:
        """Bind the app to one connection in a transaction that is rolled back at the end."""
        async with self.engine.connect() as conn:
            trans = await conn.begin()
            previous = self.app.state.db
            self.app.state.db = Database(engine=self.engine, sessionmaker=async_sessionmaker(
                bind=conn, join_transaction_mode="create_savepoint", expire_on_commit=False))
            try:
                yield conn
            finally:
                self.app.state.db = previous
                await trans.rollback()

    def client(self, **kwargs: Any) -> httpx.AsyncClient:
        """An async HTTP client talking to the app in process."""
        return httpx.AsyncClient(transport=httpx.ASGITransport(app=self.app), base_url="http://testserver",
                                 **kwargs)


class QueryCounter:
    """Counts the SQL statements an engine executes (to assert there is no N+1)."""

    def __init__(self, engine: AsyncEngine) -> None:
        self.engine = engine
        self.statements: list[str] = []

    def _on_execute(self, conn: Any, cursor: Any, statement: str, *args: Any) -> None:
        self.statements.append(statement)

    def __enter__(self) -> QueryCounter:
        sa.event.listen(self.engine.sync_engine, "before_cursor_execute", self._on_execute)
        return self

    def __exit__(self, *exc: Any) -> None:
        sa.event.remove(self.engine.sync_engine, "before_cursor_execute", self._on_execute)

    @property
    def count(self) -> int:
        """How many statements ran (savepoint bookkeeping excluded)."""
        return sum(1 for s in self.statements if not s.lstrip().upper().startswith(("SAVEPOINT", "RELEASE")))


def service_fixtures(*, service: str, schema: str, migrations_dir: Path, append_only: Sequence[str],
                     app_factory: Callable[[Any], FastAPI], settings_factory: Callable[[str], Any]) -> tuple[Any, ...]:
    """The standard fixtures of a service's tests: `harness`, `db` (rolled back per test) and `client`.

    Use in a conftest: `harness, db, client = service_fixtures(...)`.
    """

    @pytest.fixture(scope="session")
    async def harness(test_database_url: str, session_tag: str, tokens: TokenFactory
                      ) -> AsyncIterator[ServiceHarness]:
        built = await asyncio.to_thread(
            ServiceHarness.provision, admin_url=test_database_url, service=service, tag=session_tag,
            schema=schema, migrations_dir=migrations_dir, append_only=append_only, app_factory=app_factory,
            settings_factory=settings_factory, tokens=tokens)
        await built.start()
        try:
            yield built
        finally:
            await built.stop()

    @pytest.fixture
    async def db(harness: ServiceHarness) -> AsyncIterator[AsyncConnection]:
        async with harness.rolled_back() as conn:
            yield conn

    @pytest.fixture
    async def client(harness: ServiceHarness, db: AsyncConnection) -> AsyncIterator[httpx.AsyncClient]:
        async with harness.client() as c:
            yield c

    return harness, db, client
