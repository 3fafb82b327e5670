"""Helpers of the fault-injection, concurrency, fuzz and bad-input suites (and of `tests/soak.py`).

- `isolated_stack`: the four real processes on their OWN embedded Postgres (own data dir, free port), so a
  test may restart that server without disturbing the session's shared one.
- `Actors`: organisations, users and a prosecution machine client created through the gateway by the
  bootstrap admin, with fresh tokens on demand (tokens live 10 minutes; soak runs last longer).
- `intake_body`: a valid intake in Rabat; `Retrier`: a client that retries idempotent requests the way a
  careful partner does (5xx and connection errors), and keeps a log of what happened.
- `SOAK`: whether the long forms were asked for (`HIMAYA_SOAK=1`, set by `tests/soak.py`); `report` adds a
  line to the soak summary.
"""

from __future__ import annotations

import asyncio
import concurrent.futures
import contextlib
import json
import os
import secrets
import shutil
import socket
import tempfile
import time
import uuid
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import httpx

from himaya_dev import embedded_pg
from himaya_dev.devstack import SERVICES, Stack, StackConfig, dev_secrets, ensure_database, migrate

SOAK = os.environ.get("HIMAYA_SOAK") == "1"
SOAK_REPORT = os.environ.get("HIMAYA_SOAK_REPORT")

RABAT_COMMUNE = "04.421.01"
RABAT_PREFECTURE = "04.421"
RABAT_COURT = "TPI-RAB"


def scale(bounded: int, soak: int) -> int:
    """`bounded` under `make test`, `soak` under `make soak`."""
    return soak if SOAK else bounded


def report(suite: str, **facts: Any) -> None:
    """Record what a suite tried and what held, for the soak summary (a JSON line per call)."""
    if SOAK_REPORT:
        with open(SOAK_REPORT, "a") as out:
            out.write(json.dumps({"suite": suite, **facts}, default=str) + "\n")


def free_port() -> int:
    """A TCP port nobody listens on right now."""
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


@dataclass
class IsolatedStack:
    """A running stack on its own Postgres server, which the test may stop, restart or slow down."""

    stack: Stack
    pg: embedded_pg.EmbeddedPostgres

    @property
    def config(self) -> StackConfig:
        """The stack's configuration."""
        return self.stack.config

    def url(self, service: str = "gateway") -> str:
        """Base URL of a service."""
        return self.config.base_url(service)

    def restart_postgres(self, *, mode: str = "fast") -> None:
        """Stop the server (terminating every connection) and start it again on the same port."""
        embedded_pg.restart(self.pg.data_dir, self.pg.port, mode=mode)

    def psql(self, sql: str, *args: Any) -> Any:
        """Run one query as the superuser on the stack's database and return its first value."""
        import asyncpg

        async def run() -> Any:
            conn = await asyncpg.connect(self.config.admin_url)
            try:
                return await conn.fetchval(sql, *args)
            finally:
                await conn.close()

        # A thread of its own, so async tests (whose loop is running) can call it too.
        with concurrent.futures.ThreadPoolExecutor(max_workers=1) as pool:
            return pool.submit(asyncio.run, run()).result()


@contextlib.contextmanager
def isolated_stack(base_dir: Path, *, extra: dict[str, str] | None = None) -> Iterator[IsolatedStack]:
    """Start an embedded Postgres under `base_dir` on a free port, migrate, and run the four processes."""
    pg = embedded_pg.ensure_running(base_dir / "pg", free_port())
    try:
        admin_url = pg.url("himaya_faults")
        ensure_database(admin_url)
        # Every secret the stack needs, fresh, in this stack's own folder (new secrets are picked up by themselves).
        generated = dev_secrets(base_dir)
        env = {
            # Many actors log in from one address during a test: the token endpoint's limit is not under test.
            "GATEWAY_RATE_LIMIT_TOKEN_ENDPOINT": "100000",
            "GATEWAY_RATE_LIMIT_PER_IP": "1000000",
            "GATEWAY_RATE_LIMIT_PER_CLIENT": "1000000",
            # Deliver outbox events quickly once a receiver is back.
            "REFERRALS_OUTBOX_MAX_BACKOFF_SECONDS": "2",
            **(extra or {}),
        }
        config = StackConfig(admin_url=admin_url, ports={s.name: free_port() for s in SERVICES},
                             secrets=generated, extra=env)
        migrate(config)
        stack = Stack(config, log_dir=base_dir / "logs")
        try:
            stack.start_all()
            stack.wait_ready()
            yield IsolatedStack(stack, pg)
        finally:
            stack.stop_all()
    finally:
        embedded_pg.stop(pg.data_dir, mode="immediate")


# ---- actors ---------------------------------------------------------------------------------------------

@dataclass
class Login:
    """How one actor gets a token: a password grant (user) or client credentials (machine client)."""

    form: dict[str, str]
    token: str | None = None
    expires_at: float = 0.0


@dataclass
class Actors:
    """A police station, a CAPE and a prosecution office in Rabat with their people and the prosecution's
    machine client, created through the gateway by the bootstrap admin."""

    base_url: str
    admin_password: str
    orgs: dict[str, str] = field(default_factory=dict)
    logins: dict[str, Login] = field(default_factory=dict)
    user_ids: dict[str, str] = field(default_factory=dict)

    def _token(self, form: dict[str, str]) -> tuple[str, float]:
        with httpx.Client(base_url=self.base_url, timeout=30.0) as client:
            for _ in range(20):
                try:
                    response = client.post("/v1/auth/token", data=form)
                except httpx.TransportError:
                    time.sleep(0.5)
                    continue
                if response.status_code < 500:
                    break
                time.sleep(0.5)
        assert response.status_code == 200, response.text
        body = response.json()
        return str(body["access_token"]), time.monotonic() + float(body["expires_in"]) - 60

    def token(self, actor: str) -> str:
        """A valid access token of `actor` (renewed a minute before it expires)."""
        login = self.logins[actor]
        if login.token is None or time.monotonic() > login.expires_at:
            login.token, login.expires_at = self._token(login.form)
        return login.token

    def headers(self, actor: str, **extra: str) -> dict[str, str]:
        """The Authorization header of `actor`, plus `extra`."""
        return {"Authorization": f"Bearer {self.token(actor)}", **extra}

    @classmethod
    def provision(cls, base_url: str, admin_password: str) -> Actors:
        """Create the organisations, users and client (unique names, so it can run on a shared database)."""
        actors = cls(base_url, admin_password)
        actors.logins["admin"] = Login({"grant_type": "password", "username": "admin", "password": admin_password})
        tag = secrets.token_hex(3)
        admin = actors.headers("admin")
        with httpx.Client(base_url=base_url, timeout=30.0, headers=admin) as client:
            def create(path: str, body: dict[str, Any]) -> dict[str, Any]:
                response = client.post(path, json=body)
                assert response.status_code == 201, (path, response.text)
                return dict(response.json())

            for key, org_type, extra in (("police", "police", {}), ("cape", "cape", {}),
                                         ("prosecution", "prosecution_office", {"court_code": RABAT_COURT})):
                org = create("/v1/organizations", {"name": f"{key} Rabat {tag}", "type": org_type,
                                                   "territory_code": RABAT_PREFECTURE, **extra})
                actors.orgs[key] = org["id"]
            for actor, org, role in (("police", "police", "police_officer"), ("manager", "cape", "case_manager"),
                                     ("coordinator", "cape", "team_coordinator"),
                                     ("prosecutor", "prosecution", "prosecutor")):
                password = secrets.token_urlsafe(16)
                user = create("/v1/users", {
                    "username": f"{actor}.{tag}", "full_name": f"{actor.title()} {tag}", "role": role,
                    "organization_id": actors.orgs[org], "territories": [RABAT_PREFECTURE], "password": password})
                actors.user_ids[actor] = user["id"]
                actors.logins[actor] = Login({"grant_type": "password", "username": f"{actor}.{tag}",
                                              "password": password})
            machine = create("/v1/clients", {
                "name": f"prosecution system {tag}", "organization_id": actors.orgs["prosecution"],
                "scopes": ["cases:read", "referrals:read", "referrals:receive", "decisions:write"],
                "territories": [RABAT_PREFECTURE]})
            actors.logins["prosecution_system"] = Login({
                "grant_type": "client_credentials", "client_id": machine["client_id"],
                "client_secret": machine["client_secret"]})
        return actors


def intake_body(n: int = 0, *, children: int = 1, narrative: str | None = None) -> dict[str, Any]:
    """A valid intake in Rabat with `children` new children and their mother."""
    names = ["Yassine", "Salma", "Amine", "Khadija", "Omar", "Imane"]
    return {
        "reported_at": "2026-03-02T21:30:00Z", "source": "field_patrol", "commune_code": RABAT_COMMUNE,
        "place_type": "traffic_light", "night": True, "exploitation_pattern": "with_adult",
        "narrative": narrative or f"Seen at the Bab Rouah lights (load {n}).",
        "children": [{"first_name": names[(n + i) % len(names)], "last_name": f"Alaoui{n}", "sex": "female",
                      "estimated_age_years": 4 + i} for i in range(children)],
        "adults": [{"first_name": "Fatima", "last_name": f"Alaoui{n}", "sex": "female", "age": 31,
                    "claimed_relationship": "mother"}],
    }


def new_key(prefix: str = "k") -> str:
    """A fresh Idempotency-Key."""
    return f"{prefix}-{uuid.uuid4().hex}"


@dataclass
class Attempt:
    """One try of a request: its status (None for a connection error) and the error's name."""

    status: int | None
    error: str | None = None


@dataclass
class Outcome:
    """A request retried until it succeeded or ran out of time."""

    key: str
    attempts: list[Attempt]
    final: httpx.Response | None

    @property
    def succeeded(self) -> bool:
        """Whether the last attempt got a 2xx."""
        return self.final is not None and 200 <= self.final.status_code < 300


RETRYABLE = {409, 500, 502, 503, 504}


async def send_with_retries(client: httpx.AsyncClient, method: str, path: str, *, key: str, json_body: Any,
                            headers: dict[str, str], deadline: float, pause: float = 0.2) -> Outcome:
    """Send an idempotent request (Idempotency-Key) and retry it on 5xx, 409 (first still running) and
    connection errors until it succeeds or `deadline` (monotonic) passes."""
    attempts: list[Attempt] = []
    final: httpx.Response | None = None
    while True:
        try:
            final = await client.request(method, path, json=json_body,
                                         headers={**headers, "Idempotency-Key": key})
            attempts.append(Attempt(final.status_code))
            if final.status_code not in RETRYABLE:
                return Outcome(key, attempts, final)
        except httpx.TransportError as exc:
            attempts.append(Attempt(None, type(exc).__name__))
            final = None
        if time.monotonic() > deadline:
            return Outcome(key, attempts, final)
        await asyncio.sleep(pause)


# ---- the suites' shared environment ---------------------------------------------------------------------

@dataclass
class FaultEnv:
    """The isolated stack, its actors, and a synchronous gateway client."""

    iso: IsolatedStack
    actors: Actors

    @property
    def stack(self) -> Stack:
        """The four processes."""
        return self.iso.stack

    def client(self, **kwargs: Any) -> httpx.Client:
        """A client of the gateway."""
        return httpx.Client(base_url=self.iso.url(), timeout=kwargs.pop("timeout", 30.0), **kwargs)

    def async_client(self, **kwargs: Any) -> httpx.AsyncClient:
        """An async client of the gateway with room for many concurrent requests."""
        limits = httpx.Limits(max_connections=200, max_keepalive_connections=200)
        return httpx.AsyncClient(base_url=self.iso.url(), timeout=kwargs.pop("timeout", 30.0), limits=limits,
                                 **kwargs)

    def wait_openapi_complete(self, timeout: float = 60.0) -> dict[str, Any]:
        """The merged OpenAPI document once it holds every service's operations (the gateway builds it in the
        background and may have started before the services were ready)."""
        deadline = time.monotonic() + timeout
        with self.client() as client:
            while True:
                doc = client.get("/openapi.json").json()
                paths = doc.get("paths", {})
                if all(any(p.startswith(prefix) for p in paths) for prefix in ("/v1/users", "/v1/cases",
                                                                               "/v1/referrals")):
                    return dict(doc)
                if time.monotonic() > deadline:
                    raise TimeoutError("the gateway's OpenAPI never listed every service")
                time.sleep(1.0)

    def restart_service(self, name: str, **extra: str) -> None:
        """Stop one service and start it again, with `extra` environment (empty values remove a key)."""
        self.stack.stop(name)
        for key, value in extra.items():
            if value:
                self.iso.config.extra[key] = value
            else:
                self.iso.config.extra.pop(key, None)
        self.stack.start(name)
        self.stack.wait_ready((name,))


_SHARED: dict[str, Any] = {}


def fault_env_fixture(request: Any) -> FaultEnv:
    """One isolated stack per test session, shared by every suite that asks for it (stopped at the end).

    Its data dir is not under pytest's basetemp: other sessions running at the same time prune old basetemps.
    """
    if "env" not in _SHARED:
        base = Path(tempfile.mkdtemp(prefix="himaya-faults-"))
        manager = isolated_stack(base)
        iso = manager.__enter__()

        def close() -> None:
            _SHARED.clear()
            try:
                manager.__exit__(None, None, None)
            finally:
                shutil.rmtree(base, ignore_errors=True)

        request.addfinalizer(close)
        _SHARED["env"] = FaultEnv(iso, Actors.provision(iso.url(), iso.config.secrets["admin_password"]))
    env = _SHARED["env"]
    assert isinstance(env, FaultEnv)
    return env


def open_case(env: FaultEnv, n: int = 0) -> str:
    """A new case in Rabat, recorded by the police officer; its id."""
    with env.client() as client:
        response = client.post("/v1/intakes", json=intake_body(n),
                               headers=env.actors.headers("police", **{"Idempotency-Key": new_key("open")}))
        assert response.status_code == 201, response.text
        return str(response.json()["cases"][0]["id"])


def referred_case(env: FaultEnv, n: int = 0) -> tuple[str, str]:
    """A case screened, referred to the prosecution office and acknowledged: (case id, referral id)."""
    case_id = open_case(env, n)
    a = env.actors
    with env.client() as client:
        response = client.post(f"/v1/cases/{case_id}/transitions", json={"to": "screened"}, headers=a.headers("police"))
        assert response.status_code == 200, response.text
        response = client.post("/v1/referrals", headers=a.headers("police"), json={
            "case_id": case_id, "target_organization_id": a.orgs["prosecution"], "kind": "prosecution",
            "reason": "Infant begging at night", "urgency": "urgent"})
        assert response.status_code == 201, response.text
        referral_id = str(response.json()["id"])
        response = client.post(f"/v1/referrals/{referral_id}/acknowledge", json={"external_reference": f"PR-{n}"},
                               headers=a.headers("prosecution_system"))
        assert response.status_code == 200, response.text
    return case_id, referral_id
