"""Fixtures of the cases service's tests: a migrated schema, a rolled-back transaction per test, a client,
and builders for the callers and records the tests need."""

import json
import uuid
from dataclasses import dataclass, field
from datetime import UTC, datetime

import pytest
import sqlalchemy as sa

from cases_service.config import Settings
from cases_service.core.directory import OrganizationEntry, UserEntry
from cases_service.core.tables import APPEND_ONLY_TABLES, MIGRATIONS_DIR, SCHEMA
from cases_service.main import create_app
from himaya import signing
from himaya.scopes import scopes_for
from himaya_dev.testing.plugin import service_fixtures

EVENTS_SECRET = "test-events-" + "e" * 32
FIELD_KEYS = {"k1": "test-field-key-" + "f" * 32}
BLIND_INDEX_KEY = "test-blind-index-" + "b" * 32
STATS_PERTURBATION_KEY = "test-stats-perturbation-" + "s" * 32

RABAT = "04.421"
RABAT_COMMUNE = "04.421.01"
SALE = "04.441"
SALE_COMMUNE = "04.441.01"
MARRAKECH_COMMUNE = "07.351.01"


def settings_factory(url: str) -> Settings:
    return Settings(database_url=url, environment="test", log_json=False, field_keys=json.dumps(FIELD_KEYS),
                    blind_index_key=BLIND_INDEX_KEY, events_secret=EVENTS_SECRET,
                    stats_perturbation_key=STATS_PERTURBATION_KEY)


harness, db, client = service_fixtures(
    service="cases", schema=SCHEMA, migrations_dir=MIGRATIONS_DIR, append_only=APPEND_ONLY_TABLES,
    app_factory=create_app, settings_factory=settings_factory,
)

class StandInDirectory:
    """Identity's directory for the in-process tests (identity is not running here; the cross-service tests
    under tests/ ask the real one): the organisations and users a test registers, nothing else."""

    def __init__(self) -> None:
        self.orgs: dict[uuid.UUID, OrganizationEntry] = {}
        self.users: dict[uuid.UUID, UserEntry] = {}

    def add_org(self, type_: str, territory: str = RABAT, org_id: uuid.UUID | None = None) -> uuid.UUID:
        org_id = org_id or uuid.uuid4()
        self.orgs[org_id] = OrganizationEntry(id=org_id, type=type_, territory_code=territory)
        return org_id

    def add_user(self, org_id: uuid.UUID, role: str = "case_manager", territories=(RABAT,),
                 active: bool = True) -> uuid.UUID:
        user_id = uuid.uuid4()
        self.users[user_id] = UserEntry(id=user_id, organization_id=org_id, organization_type=self.orgs[org_id].type,
                                        role=role, territories=tuple(territories), active=active)
        return user_id

    async def organization(self, organization_id, *, authorization):
        return self.orgs.get(organization_id)

    async def user(self, user_id, *, authorization):
        return self.users.get(user_id)


@pytest.fixture(autouse=True)
def directory(request):
    """A stand-in directory on the app for each test that uses the service's app."""
    if "harness" not in request.fixturenames:
        yield None
        return
    app = request.getfixturevalue("harness").app
    stand_in = StandInDirectory()
    previous = getattr(app.state, "identity", None)
    app.state.identity = stand_in
    yield stand_in
    app.state.identity = previous


ORG_TYPES = {"police_officer": "police", "case_manager": "cape", "team_coordinator": "cape",
             "prosecutor": "prosecution_office", "ngo_worker": "ngo", "eps_staff": "eps",
             "court_social_worker": "prosecution_office", "focal_point": "health",
             "steering_viewer": "ministry", "auditor": "ministry", "admin": "ministry"}


@dataclass
class Callers:
    """Authorization headers of the usual callers, one organisation per role."""

    tokens: object
    orgs: dict[str, uuid.UUID] = field(default_factory=dict)

    def org(self, role: str) -> uuid.UUID:
        return self.orgs.setdefault(role, uuid.uuid4())

    def __call__(self, role: str, territories=(RABAT,), org: uuid.UUID | None = None) -> dict[str, str]:
        return self.tokens.headers(role=role, scopes=sorted(scopes_for(role)), territories=list(territories),
                                   org=org or self.org(role), org_type=ORG_TYPES.get(role))


@pytest.fixture
def as_(tokens) -> Callers:
    return Callers(tokens)


def intake_body(*, commune=RABAT_COMMUNE, children=None, adults=None, **extra):
    body = {
        "reported_at": "2026-03-02T21:30:00Z", "source": "field_patrol", "commune_code": commune,
        "place_type": "traffic_light", "night": True, "exploitation_pattern": "with_adult",
        "narrative": "Seen with a woman at the Bab Rouah lights, late evening.",
        "children": children if children is not None else [
            {"first_name": "Mohamed", "last_name": "Alaoui", "first_name_ar": "محمد", "sex": "male",
             "estimated_age_years": 4}],
        "adults": adults if adults is not None else [
            {"first_name": "Fatima", "last_name": "Alaoui", "sex": "female", "age": 31, "cnie": "AB123456",
             "claimed_relationship": "mother"}],
    }
    body.update(extra)
    return body


def signed(event: dict, secret: str = EVENTS_SECRET) -> tuple[bytes, dict[str, str]]:
    body = json.dumps(event).encode()
    return body, {**signing.signed_headers(secret.encode(), body), "Content-Type": "application/json"}


REFERRAL_VERSIONS: dict[str, int] = {}


async def send_event(client, event_type, case_id, *, org, referral_id=None, data=None, event_id=None,
                     occurred_at=None):
    """A signed event, dated now unless `occurred_at` says otherwise; a referral's events carry its next version
    as `data.sequence` unless `data` names one."""
    referral = str(referral_id or uuid.uuid4())
    data = dict(data or {})
    if event_type.startswith("referral.") and "sequence" not in data:
        REFERRAL_VERSIONS[referral] = data["sequence"] = REFERRAL_VERSIONS.get(referral, 0) + 1
    occurred_at = occurred_at or datetime.now(UTC)
    event = {"id": str(event_id or uuid.uuid4()), "type": event_type, "occurred_at": occurred_at.isoformat(),
             "case_id": str(case_id), "referral_id": referral,
             "organization_id": str(org), "actor": f"user:{uuid.uuid4()}", "data": data}
    body, headers = signed(event)
    return await client.post("/internal/v1/events", content=body, headers=headers)


class Api:
    """Small async builders over the in-process client (tests import nothing from each other)."""

    RABAT, RABAT_COMMUNE, SALE, SALE_COMMUNE, MARRAKECH_COMMUNE = (RABAT, RABAT_COMMUNE, SALE, SALE_COMMUNE,
                                                                  MARRAKECH_COMMUNE)
    intake_body = staticmethod(intake_body)

    def __init__(self, client, as_: Callers, directory: StandInDirectory | None = None) -> None:
        self.client = client
        self.as_ = as_
        self.directory = directory

    async def intake(self, headers=None, **kwargs) -> dict:
        response = await self.client.post("/v1/intakes", json=intake_body(**kwargs),
                                          headers=headers or self.as_("case_manager"))
        assert response.status_code == 201, response.text
        return response.json()

    async def case_id(self, headers=None, **kwargs) -> str:
        return (await self.intake(headers, **kwargs))["cases"][0]["id"]

    async def get(self, case_id, headers=None):
        return await self.client.get(f"/v1/cases/{case_id}", headers=headers or self.as_("case_manager"))

    async def move(self, case_id, to, headers=None, **body):
        return await self.client.post(f"/v1/cases/{case_id}/transitions", json={"to": to, **body},
                                      headers=headers or self.as_("case_manager"))

    async def event(self, event_type, case_id, *, org, referral_id=None, data=None, event_id=None,
                    occurred_at=None):
        return await send_event(self.client, event_type, case_id, org=org, referral_id=referral_id, data=data,
                                event_id=event_id, occurred_at=occurred_at)

    signed = staticmethod(signed)


@pytest.fixture
def api(client, as_, directory) -> Api:
    return Api(client, as_, directory)


@pytest.fixture
async def committed(harness):
    """A client whose requests commit on the service's real engine; everything is truncated afterwards
    (as the owner: the service's role may not touch append-only tables)."""
    from sqlalchemy.ext.asyncio import async_sessionmaker, create_async_engine

    from himaya.db import Database
    from himaya.settings import to_asyncpg_url

    app = harness.app
    previous = app.state.db
    app.state.db = Database(engine=harness.engine,
                            sessionmaker=async_sessionmaker(harness.engine, expire_on_commit=False))
    admin = create_async_engine(to_asyncpg_url(harness.admin_url))
    try:
        async with harness.client() as c:
            c.admin = admin
            yield c
    finally:
        app.state.db = previous
        async with admin.begin() as conn:
            tables = (await conn.execute(sa.text(
                "SELECT tablename FROM pg_tables WHERE schemaname = 'cases' AND tablename <> 'alembic_version'"
            ))).scalars().all()
            await conn.execute(sa.text("TRUNCATE " + ", ".join(f'cases."{t}"' for t in tables) + " CASCADE"))
        await admin.dispose()


async def _plaintext_hits(db, schema: str, values: list[str]) -> list[str]:
    """Every (table.column, value) of `schema` whose text, varchar, jsonb, array or bytea content holds a value."""
    columns = (await db.execute(sa.text(
        "SELECT c.table_name, c.column_name, c.data_type FROM information_schema.columns c "
        "JOIN information_schema.tables t USING (table_schema, table_name) "
        "WHERE c.table_schema = :s AND t.table_type = 'BASE TABLE' "
        "AND c.data_type IN ('text', 'character varying', 'character', 'jsonb', 'json', 'bytea', 'ARRAY')"),
        {"s": schema})).all()
    assert columns, schema
    hits = []
    for table, column, kind in columns:
        ref = f'"{schema}"."{table}"'
        col = f'"{column}"'
        for value in values:
            if kind == "bytea":
                where = f"position(convert_to(:v, 'UTF8') in {col}) > 0"
            else:
                where = f"{col}::text ILIKE '%' || :v || '%'"
            found = (await db.execute(sa.text(f"SELECT count(*) FROM {ref} WHERE {where}"), {"v": value})).scalar()
            if found:
                hits.append(f"{table}.{column}: {value}")
    return hits


@pytest.fixture
def plaintext_hits():
    """`await plaintext_hits(conn, schema, values)`: every column of every table holding one of the values."""
    return _plaintext_hits
