"""Fixtures of the identity service's tests: a migrated schema, a rolled-back transaction per test, a client.

identity verifies tokens with its own keys (read from its database), so the tests get real tokens from
its token endpoint instead of the plugin's test token factory.
"""

from __future__ import annotations

import dataclasses
import uuid
from collections.abc import Awaitable, Callable
from datetime import UTC, datetime
from typing import Any, TypeVar

import pytest

from himaya.auth import TokenVerifier
from himaya_dev.testing.plugin import ServiceHarness, service_fixtures
from identity_service.config import Settings
from identity_service.core.context import Context
from identity_service.core.tables import APPEND_ONLY_TABLES, MIGRATIONS_DIR, SCHEMA
from identity_service.main import create_app
from identity_service.organizations import service as organizations
from identity_service.seed import seed_base
from identity_service.users import service as users

ADMIN_PASSWORD = "bootstrap-Root-pass-2026"
PASSWORD = "Sufficiently-long-9"
SETTINGS = dict(environment="test", log_json=False, key_encryption_key="test-kek-" + "k" * 32,
                bootstrap_admin_username="admin", bootstrap_admin_password=ADMIN_PASSWORD,
                lockout_threshold=5, source_failure_threshold=12)

harness, db, client = service_fixtures(
    service="identity", schema=SCHEMA, migrations_dir=MIGRATIONS_DIR, append_only=APPEND_ONLY_TABLES,
    app_factory=create_app,
    settings_factory=lambda url: Settings(database_url=url, **SETTINGS),
)

T = TypeVar("T")


@pytest.fixture(scope="session", autouse=True)
def own_verifier(harness: ServiceHarness) -> None:
    """Make the app verify tokens against its own keys, as in production."""
    settings = harness.app.state.settings
    harness.app.state.token_verifier = TokenVerifier(harness.app.state.own_jwks, issuer=settings.token_issuer,
                                                     audience=settings.token_audience)


@pytest.fixture
def settings(harness: ServiceHarness) -> Settings:
    """The app's settings."""
    return harness.app.state.settings  # type: ignore[no-any-return]


@pytest.fixture
def tx(harness: ServiceHarness, db: Any) -> Callable[[Callable[[Context], Awaitable[T]]], Awaitable[T]]:
    """Run a service function in a context of its own transaction (no caller: as the service's commands do)."""

    async def run(fn: Callable[[Context], Awaitable[T]]) -> T:
        async with harness.app.state.db.sessionmaker() as session, session.begin():
            return await fn(Context(session=session, principal=None, encryption=harness.app.state.key_encryption))

    return run


@pytest.fixture
async def seeded(tx: Any, settings: Settings, harness: ServiceHarness) -> None:
    """Reference data, a signing key and the bootstrap admin."""
    await tx(lambda c: seed_base(c, settings=settings, now=datetime.now(UTC)))


async def _login(client: Any, username: str, password: str, *, ip: str = "198.51.100.1") -> dict[str, Any]:
    response = await client.post("/v1/auth/token", data={"grant_type": "password", "username": username,
                                                         "password": password},
                                 headers={"X-Forwarded-For": ip})
    assert response.status_code == 200, response.text
    return response.json()  # type: ignore[no-any-return]


@pytest.fixture
def login(client: Any) -> Callable[..., Awaitable[dict[str, Any]]]:
    """`await login(username, password)`: the token response of a password grant (asserting success)."""
    return lambda username, password=PASSWORD, **kw: _login(client, username, password, **kw)


@pytest.fixture
def admin_password() -> str:
    """The bootstrap administrator's password."""
    return ADMIN_PASSWORD


@pytest.fixture
def user_password() -> str:
    """The password of users made by `make_user`."""
    return PASSWORD


def bearer(token: str) -> dict[str, str]:
    """An Authorization header."""
    return {"Authorization": f"Bearer {token}"}


@pytest.fixture
def auth_header() -> Callable[[str], dict[str, str]]:
    """`auth_header(token)`: an Authorization header."""
    return bearer


@pytest.fixture
async def admin(client: Any, seeded: None) -> dict[str, str]:
    """Headers of the bootstrap administrator."""
    return bearer((await _login(client, "admin", ADMIN_PASSWORD))["access_token"])


@pytest.fixture
def make_org(tx: Any) -> Callable[..., Awaitable[Any]]:
    """Create an organisation directly (no caller: as the seed command does); its fields as a dict."""

    async def make(type_: str = "police", territory_code: str = "04.421", court_code: str | None = None,
                   name: str | None = None) -> Any:
        return dataclasses.asdict(await tx(lambda c: organizations.create_organization(
            c, name=name or f"{type_} {uuid.uuid4().hex[:6]}", type_=type_, territory_code=territory_code,
            court_code=court_code)))

    return make


@pytest.fixture
def make_user(tx: Any) -> Callable[..., Awaitable[Any]]:
    """Create a user directly (no caller: as the seed command does); its fields as a dict."""

    async def make(org_id: uuid.UUID, role: str, territories: list[str] | None = None,
                   username: str | None = None) -> Any:
        return dataclasses.asdict(await tx(lambda c: users.create_user(
            c, username=username or f"u{uuid.uuid4().hex[:10]}", full_name="Test User", email=None,
            organization_id=org_id, role=role, territories=territories or ["04.421"], password=PASSWORD)))

    return make


@pytest.fixture
async def as_user(client: Any, make_org: Any, make_user: Any, seeded: None) -> Callable[..., Awaitable[Any]]:
    """Create a user of a new organisation and log them in; returns (user, org, headers)."""

    async def make(role: str, org_type: str, territories: list[str] | None = None,
                   org_territory: str = "04.421") -> tuple[Any, Any, dict[str, str]]:
        org = await make_org(org_type, org_territory,
                             court_code="TPI-RAB" if org_type == "prosecution_office" else None)
        user = await make_user(org["id"], role, territories)
        tokens = await _login(client, user["username"], PASSWORD)
        return user, org, bearer(tokens["access_token"])

    return make

