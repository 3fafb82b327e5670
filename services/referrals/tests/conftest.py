"""Fixtures of the referrals service's tests: a migrated schema, a rolled-back transaction per test, a client,
and a stand-in for the cases and identity services running over HTTP on a free port (uvicorn)."""

from __future__ import annotations

import asyncio
import socket
import uuid
from dataclasses import dataclass, field
from typing import Any

import jwt
import orjson
import pytest
import uvicorn
from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import JSONResponse, Response
from starlette.routing import Route

from himaya import signing
from himaya.auth import territory_covers
from himaya.scopes import ROLE_SCOPES, Role
from himaya_dev.testing.plugin import service_fixtures
from referrals_service.config import Settings
from referrals_service.core.tables import APPEND_ONLY_TABLES, MIGRATIONS_DIR, SCHEMA
from referrals_service.main import create_app

EVENTS_SECRET = "test-events-secret-" + uuid.uuid4().hex
FIELD_KEYS = {"k1": "test-referrals-field-key-" + uuid.uuid4().hex}


def free_port() -> int:
    """A TCP port nobody listens on right now."""
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


FAKE_PORT = free_port()
FAKE_URL = f"http://127.0.0.1:{FAKE_PORT}"

harness, db, client = service_fixtures(
    service="referrals", schema=SCHEMA, migrations_dir=MIGRATIONS_DIR, append_only=APPEND_ONLY_TABLES,
    app_factory=create_app,
    settings_factory=lambda url: Settings(
        database_url=url, environment="test", log_json=False, cases_url=FAKE_URL, identity_url=FAKE_URL,
        events_secret=EVENTS_SECRET, field_keys=orjson.dumps(FIELD_KEYS).decode(), webhook_allow_private=True,
        outbox_base_backoff_seconds=0.1,
        outbox_max_backoff_seconds=1.0, outbox_poll_interval_seconds=0.2),
)


@dataclass
class FakeDirectory:
    """Stand-in for the cases and identity services: cases by territory, organisations, received events."""

    port: int
    cases: dict[str, dict[str, Any]] = field(default_factory=dict)
    organizations: dict[str, dict[str, Any]] = field(default_factory=dict)
    events: list[dict[str, Any]] = field(default_factory=list)
    bad_signatures: int = 0
    _server: uvicorn.Server | None = None
    _task: asyncio.Task[None] | None = None

    def app(self) -> Starlette:
        async def get_case(request: Request) -> Response:
            token = request.headers.get("authorization", "").removeprefix("Bearer ")
            claims = jwt.decode(token, options={"verify_signature": False})
            case = self.cases.get(request.path_params["case_id"])
            if case is None or not any(territory_covers(t, case["commune_code"]) for t in claims["territories"]):
                return JSONResponse({"code": "not_found"}, status_code=404)
            return JSONResponse(case)

        async def get_org(request: Request) -> Response:
            org = self.organizations.get(request.path_params["org_id"])
            return JSONResponse(org) if org else JSONResponse({"code": "not_found"}, status_code=404)

        async def receive_event(request: Request) -> Response:
            body = await request.body()
            if not signing.verify(EVENTS_SECRET.encode(), body, request.headers.get(signing.TIMESTAMP_HEADER),
                                  request.headers.get(signing.SIGNATURE_HEADER)):
                self.bad_signatures += 1
                return JSONResponse({"code": "unauthorized"}, status_code=401)
            self.events.append(orjson.loads(body))
            return JSONResponse({"status": "processed"})

        return Starlette(routes=[Route("/v1/cases/{case_id}", get_case),
                                 Route("/v1/organizations/{org_id}", get_org),
                                 Route("/internal/v1/events", receive_event, methods=["POST"])])

    async def start(self) -> None:
        """Listen on the fixed port (again)."""
        config = uvicorn.Config(self.app(), host="127.0.0.1", port=self.port, log_level="warning", lifespan="off")
        self._server = uvicorn.Server(config)
        self._task = asyncio.create_task(self._server.serve())
        await wait_for(lambda: self._server is not None and self._server.started)

    async def stop(self) -> None:
        """Stop listening: connections are refused until `start`."""
        if self._server is not None and self._task is not None:
            self._server.should_exit = True
            await self._task
            self._server, self._task = None, None

    def add_org(self, org_type: str) -> uuid.UUID:
        """Register an organisation of `org_type`."""
        org_id = uuid.uuid4()
        self.organizations[str(org_id)] = {"id": str(org_id), "name": f"{org_type} {org_id.hex[:6]}",
                                           "type": org_type, "territory_code": "04.421", "court_code": None}
        return org_id

    def add_case(self, commune_code: str = "04.421.01") -> uuid.UUID:
        """Register a case in `commune_code`, as cases' GET /v1/cases/{id} returns it."""
        case_id = uuid.uuid4()
        self.cases[str(case_id)] = {
            "id": str(case_id), "case_number": f"RAB-2026-{case_id.hex[:5]}", "status": "screened",
            "commune_code": commune_code, "prefecture_code": commune_code.rsplit(".", 1)[0],
            "court_code": "TPI-RABAT", "risk_level": "high",
            "intake": {"exploitation_pattern": "with_adult", "place_type": "traffic_light", "night": True,
                       "reported_at": "2026-11-20T21:30:00Z", "source": "field_patrol"},
            "child": {"sex": "female", "age_at_intake_years": 3, "birth_date": None, "estimated_age_years": 3,
                      "nationality": "MA", "first_name": "MUST-NOT-LEAK"},
        }
        return case_id

    def events_for(self, referral_id: uuid.UUID) -> list[dict[str, Any]]:
        """Events received about one referral, in the order they arrived."""
        return [e for e in self.events if e["referral_id"] == str(referral_id)]


@pytest.fixture(scope="session")
async def fake() -> Any:
    """The running stand-in for cases and identity."""
    directory = FakeDirectory(FAKE_PORT)
    await directory.start()
    yield directory
    await directory.stop()


@dataclass
class Actors:
    """Organisations and the headers of people and systems acting for them."""

    tokens: Any
    fake: FakeDirectory
    police_org: uuid.UUID
    prosecution_org: uuid.UUID
    ngo_org: uuid.UUID
    other_police_org: uuid.UUID

    def police(self, territories: tuple[str, ...] = ("04.421",), org: uuid.UUID | None = None) -> dict[str, str]:
        """A police officer of the referring organisation."""
        return self.tokens.headers(role=Role.POLICE_OFFICER, scopes=list(ROLE_SCOPES[Role.POLICE_OFFICER]),
                                   territories=territories, org=org or self.police_org, org_type="police")

    def prosecution_system(self) -> dict[str, str]:
        """The prosecution office's information system (a machine client)."""
        return self.tokens.headers(role=Role.PARTNER_SYSTEM, scopes=list(ROLE_SCOPES[Role.PARTNER_SYSTEM]),
                                   territories=("04",), org=self.prosecution_org, org_type="prosecution_office",
                                   sub_type="client")

    def ngo(self) -> dict[str, str]:
        """An NGO worker of the NGO organisation."""
        return self.tokens.headers(role=Role.NGO_WORKER, scopes=list(ROLE_SCOPES[Role.NGO_WORKER]),
                                   territories=("04.421",), org=self.ngo_org, org_type="ngo")

    def partner_system(self, org: uuid.UUID, scopes: tuple[str, ...] | None = None) -> dict[str, str]:
        """Another organisation's machine client (every partner scope unless `scopes` is given)."""
        return self.tokens.headers(role=Role.PARTNER_SYSTEM,
                                   scopes=list(scopes if scopes is not None else ROLE_SCOPES[Role.PARTNER_SYSTEM]),
                                   territories=("04",), org=org, org_type="ngo", sub_type="client")

    def org_admin(self, org: uuid.UUID) -> dict[str, str]:
        """An organisation administrator (manages its webhooks)."""
        return self.tokens.headers(role=Role.ORG_ADMIN, scopes=list(ROLE_SCOPES[Role.ORG_ADMIN]),
                                   territories=("04",), org=org, org_type="ngo")


@pytest.fixture
def actors(tokens: Any, fake: FakeDirectory) -> Actors:
    """Fresh organisations for one test (data committed by other tests never mixes in)."""
    return Actors(tokens, fake, police_org=fake.add_org("police"), prosecution_org=fake.add_org("prosecution_office"),
                  ngo_org=fake.add_org("ngo"), other_police_org=fake.add_org("police"))


async def wait_for(predicate: Any, seconds: float = 15.0) -> None:
    """Wait until `predicate()` is true (events are delivered in the background)."""
    async with asyncio.timeout(seconds):
        while not predicate():  # noqa: ASYNC110 - a condition in another component, not an event we own
            await asyncio.sleep(0.05)


@pytest.fixture
def until() -> Any:
    """`await until(predicate)`: wait for a background delivery."""
    return wait_for
