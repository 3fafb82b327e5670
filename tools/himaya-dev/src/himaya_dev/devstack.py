"""Run the whole system on one machine: `python -m himaya_dev.devstack run|migrate|with-env|stop-db`.

Starts the embedded PostgreSQL unless DATABASE_URL is set, provisions each service's schema and role,
seeds reference data and the bootstrap administrator, then runs the four processes. Services are named
here by module path only: the shared library never imports a service.
"""

from __future__ import annotations

import argparse
import contextlib
import json
import os
import secrets
import signal
import subprocess
import sys
import time
from collections.abc import Iterator, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit, urlunsplit

import httpx

from himaya_dev import embedded_pg

ROOT = Path(__file__).resolve().parents[4]
"""The checkout this package is installed from (it is only ever installed editable, from tools/himaya-dev)."""
DB_NAME = "himaya"
ADMIN_USERNAME = "admin"


def data_dir() -> Path:
    """Where the embedded database, the development secrets and the logs live: HIMAYA_DATA_DIR, or `.data`
    in the checkout. Read when asked, not at import, so a caller may set it first."""
    return Path(os.environ.get("HIMAYA_DATA_DIR") or ROOT / ".data")


def pg_port() -> int:
    """The embedded PostgreSQL's port: HIMAYA_PG_PORT, or 54329. Read when asked, not at import."""
    return int(os.environ.get("HIMAYA_PG_PORT") or "54329")


@dataclass(frozen=True)
class ServiceDef:
    """How to start one process of the system."""

    name: str
    module: str
    default_port: int
    schema: str | None

    @property
    def prefix(self) -> str:
        """The service's environment variable prefix."""
        return self.name.upper() + "_"


SERVICES = (
    ServiceDef("identity", "identity_service", 8001, "identity"),
    ServiceDef("cases", "cases_service", 8002, "cases"),
    ServiceDef("referrals", "referrals_service", 8003, "referrals"),
    ServiceDef("gateway", "gateway_service", 8000, None),
)
DB_SERVICES = tuple(s for s in SERVICES if s.schema)


SECRET_SIZES: dict[str, int] = {
    **{f"{s.name}_db_password": 24 for s in DB_SERVICES},
    **{f"{s.name}_audit_signing_key": 32 for s in DB_SERVICES},
    "admin_password": 12,
    "key_encryption_key": 32,
    "events_secret": 32,
    "field_key": 32,
    "blind_index_key": 32,
    "stats_perturbation_key": 32,
    "referrals_field_key": 32,
}
"""Every secret a running stack needs, by name, with its size in random bytes."""


def random_secrets() -> dict[str, str]:
    """A fresh value for every secret of SECRET_SIZES (test stacks)."""
    return {name: secrets.token_urlsafe(size) for name, size in SECRET_SIZES.items()}


def dev_secrets(folder: Path | None = None) -> dict[str, str]:
    """Development secrets, generated once per checkout and kept in the git-ignored data folder."""
    folder = data_dir() if folder is None else folder
    path = folder / "dev-secrets.json"
    folder.mkdir(parents=True, exist_ok=True)
    existing: dict[str, str] = json.loads(path.read_text()) if path.exists() else {}
    changed = False
    for name, size in SECRET_SIZES.items():
        if name not in existing:
            existing[name] = secrets.token_urlsafe(size)
            changed = True
    if changed:
        path.write_text(json.dumps(existing, indent=2))
        path.chmod(0o600)
    return existing


def _with_db(url: str, database: str, *, user: str | None = None, password: str | None = None) -> str:
    parts = urlsplit(url)
    netloc = parts.netloc.rsplit("@", 1)[-1]
    if user is not None:
        netloc = f"{user}:{password}@{netloc}" if password else f"{user}@{netloc}"
    elif "@" in parts.netloc:
        netloc = parts.netloc
    return urlunsplit((parts.scheme, netloc, "/" + database, parts.query, parts.fragment))


def admin_database_url() -> tuple[str, embedded_pg.EmbeddedPostgres | None]:
    """The superuser URL of the server to use: DATABASE_URL, or the embedded server (started if needed)."""
    given = os.environ.get("DATABASE_URL")
    if given:
        return given, None
    pg = embedded_pg.ensure_running(data_dir() / "pg", pg_port())
    return pg.url(DB_NAME), pg


def ensure_database(admin_url: str) -> None:
    """Create the database named in `admin_url` if it does not exist."""
    import asyncio

    import asyncpg

    name = urlsplit(admin_url).path.lstrip("/")

    async def create() -> None:
        conn = await asyncpg.connect(_with_db(admin_url, "postgres"))
        try:
            if not await conn.fetchval("SELECT 1 FROM pg_database WHERE datname = $1", name):
                await conn.execute(f'CREATE DATABASE "{name}"')
        finally:
            await conn.close()

    asyncio.run(create())


def default_ports() -> dict[str, int]:
    """Each service's port: `<SERVICE>_PORT` from the environment, or its default (8000–8003)."""
    return {s.name: int(os.environ.get(s.prefix + "PORT", s.default_port)) for s in SERVICES}


@dataclass
class StackConfig:
    """Everything the processes of one running system need to find each other and the database."""

    admin_url: str
    ports: dict[str, int] = field(default_factory=lambda: default_ports())
    secrets: dict[str, str] = field(default_factory=dev_secrets)
    environment: str = "local"
    role_suffix: str = ""
    extra: dict[str, str] = field(default_factory=dict)

    def base_url(self, service: str) -> str:
        """Where `service` listens."""
        return f"http://127.0.0.1:{self.ports[service]}"

    def env(self) -> dict[str, str]:
        """The environment variables for every process (each reads only its own prefix)."""
        s = self.secrets
        database = urlsplit(self.admin_url).path.lstrip("/")
        env = {"HIMAYA_ENV": self.environment}
        for svc in SERVICES:
            p = svc.prefix
            env[p + "PORT"] = str(self.ports[svc.name])
            env[p + "JWKS_URL"] = self.base_url("identity") + "/.well-known/jwks.json"
            env[p + "REVOCATIONS_URL"] = self.base_url("identity") + "/internal/v1/revocations"
            if svc.schema:
                env[p + "DATABASE_URL"] = _with_db(
                    self.admin_url, database, user=f"himaya_{svc.name}{self.role_suffix}",
                    password=s[f"{svc.name}_db_password"])
                env[p + "MIGRATION_DATABASE_URL"] = self.admin_url
                env[p + "AUDIT_SIGNING_KEY"] = s[f"{svc.name}_audit_signing_key"]
        env["IDENTITY_KEY_ENCRYPTION_KEY"] = s["key_encryption_key"]
        env["IDENTITY_BOOTSTRAP_ADMIN_USERNAME"] = ADMIN_USERNAME
        env["IDENTITY_BOOTSTRAP_ADMIN_PASSWORD"] = s["admin_password"]
        env["CASES_EVENTS_SECRET"] = s["events_secret"]
        env["CASES_FIELD_KEYS"] = json.dumps({"k1": s["field_key"]})
        env["CASES_BLIND_INDEX_KEY"] = s["blind_index_key"]
        env["CASES_STATS_PERTURBATION_KEY"] = s["stats_perturbation_key"]
        env["REFERRALS_EVENTS_SECRET"] = s["events_secret"]
        env["REFERRALS_FIELD_KEYS"] = json.dumps({"k1": s["referrals_field_key"]})
        env["REFERRALS_CASES_URL"] = self.base_url("cases")
        env["REFERRALS_IDENTITY_URL"] = self.base_url("identity")
        env["CASES_IDENTITY_URL"] = self.base_url("identity")
        for svc in DB_SERVICES:
            env[f"GATEWAY_{svc.name.upper()}_URL"] = self.base_url(svc.name)
        env.update(self.extra)
        return env


def _python_env(overrides: Mapping[str, str]) -> dict[str, str]:
    env = dict(os.environ)
    env.update(overrides)
    env.setdefault("PYTHONUNBUFFERED", "1")
    return env


def _schema_at_head(admin_url: str, svc: ServiceDef) -> bool:
    """Whether the service's schema is already at its code's head revision (so migrating can be skipped)."""
    import asyncio

    import asyncpg

    from himaya.revisions import head_revision

    head = head_revision(ROOT / "services" / svc.name / "migrations")

    async def current() -> str | None:
        conn = await asyncpg.connect(admin_url)
        try:
            if await conn.fetchval("SELECT to_regclass($1)", f"{svc.schema}.alembic_version") is None:
                return None
            version = await conn.fetchval(f'SELECT version_num FROM "{svc.schema}".alembic_version')  # noqa: S608
            return str(version) if version else None
        finally:
            await conn.close()

    return head is not None and asyncio.run(current()) == head


def migrate(config: StackConfig, *, seed: bool = True, skip_current: bool = False) -> None:
    """Provision and migrate every service's schema (in parallel), then seed identity's reference data.

    With `skip_current`, a schema already at head is left alone (a second `make run` starts faster).
    """
    from concurrent.futures import ThreadPoolExecutor

    env = _python_env(config.env())
    chains: list[list[list[str]]] = []
    for svc in DB_SERVICES:
        steps = []
        if not (skip_current and _schema_at_head(config.admin_url, svc)):
            steps.append([sys.executable, "-m", f"{svc.module}.migrate"])
        if seed and svc.name == "identity":
            steps.append([sys.executable, "-m", "identity_service.seed"])
        chains.append(steps)

    def run_chain(steps: list[list[str]]) -> None:
        for cmd in steps:
            subprocess.run(cmd, check=True, env=env)  # noqa: S603

    with ThreadPoolExecutor(max_workers=len(chains)) as pool:
        for future in [pool.submit(run_chain, steps) for steps in chains]:
            future.result()


class Stack:
    """The four processes of a running system, started and stopped individually."""

    def __init__(self, config: StackConfig, *, log_dir: Path | None = None, workers: int = 1) -> None:
        self.config = config
        self.log_dir = log_dir
        self.workers = workers
        self.procs: dict[str, subprocess.Popen[bytes]] = {}

    def start(self, name: str) -> None:
        """Start one service's process."""
        svc = next(s for s in SERVICES if s.name == name)
        cmd = [sys.executable, "-m", "uvicorn", f"{svc.module}.main:create_app", "--factory",
               "--host", "127.0.0.1", "--port", str(self.config.ports[name]), "--no-access-log",
               # The client's address is computed by himaya.forwarded from the trusted proxies, not by uvicorn.
               "--no-proxy-headers",
               "--timeout-graceful-shutdown", "20", "--log-level", "warning"]
        if self.workers > 1:
            cmd += ["--workers", str(self.workers)]
        out: Any = subprocess.DEVNULL
        if self.log_dir is not None:
            self.log_dir.mkdir(parents=True, exist_ok=True)
            out = open(self.log_dir / f"{name}.log", "ab")
        self.procs[name] = subprocess.Popen(cmd, env=_python_env(self.config.env()),  # noqa: S603
                                            stdout=out, stderr=subprocess.STDOUT, start_new_session=True)

    def start_all(self) -> None:
        """Start every service, the gateway once the services behind it answer (its merged OpenAPI document
        is then complete from its first read)."""
        for svc in DB_SERVICES:
            self.start(svc.name)
        self.wait_ready(tuple(svc.name for svc in DB_SERVICES))
        self.start("gateway")

    def stop(self, name: str, *, sig: int = signal.SIGTERM, timeout: float = 25.0) -> None:
        """Stop one service (SIGTERM, then SIGKILL after `timeout`)."""
        proc = self.procs.pop(name, None)
        if proc is None or proc.poll() is not None:
            return
        with contextlib.suppress(ProcessLookupError):
            os.killpg(proc.pid, sig)
        try:
            proc.wait(timeout=timeout)
        except subprocess.TimeoutExpired:
            with contextlib.suppress(ProcessLookupError):
                os.killpg(proc.pid, signal.SIGKILL)
            proc.wait()

    def stop_all(self) -> None:
        """Stop every running service, gateway first."""
        for name in reversed([s.name for s in SERVICES]):
            self.stop(name)

    def wait_ready(self, names: tuple[str, ...] | None = None, timeout: float = 60.0) -> None:
        """Block until each named service answers /readyz with 200."""
        deadline = time.monotonic() + timeout
        pending = list(names or [s.name for s in SERVICES])
        with httpx.Client(timeout=2.0) as client:
            while pending:
                name = pending[0]
                proc = self.procs.get(name)
                if proc is not None and proc.poll() is not None:
                    raise RuntimeError(f"{name} exited with status {proc.returncode}")
                with contextlib.suppress(httpx.HTTPError):
                    if client.get(self.config.base_url(name) + "/readyz").status_code == 200:
                        pending.pop(0)
                        continue
                if time.monotonic() > deadline:
                    raise TimeoutError(f"{name} was not ready within {timeout:.0f}s")
                time.sleep(0.1)


@contextlib.contextmanager
def running_stack(config: StackConfig, *, log_dir: Path | None = None) -> Iterator[Stack]:
    """Start all four processes, wait until ready, and stop them on exit."""
    stack = Stack(config, log_dir=log_dir)
    try:
        stack.start_all()
        stack.wait_ready()
        yield stack
    finally:
        stack.stop_all()


def ports_in_use(config: StackConfig) -> list[str]:
    """The services whose port something already listens on (another `make run`, say)."""
    import socket

    busy = []
    for name, port in config.ports.items():
        with socket.socket() as sock:
            if sock.connect_ex(("127.0.0.1", port)) == 0:
                busy.append(f"{name} ({port})")
    return busy


def _cmd_run(args: argparse.Namespace) -> int:
    started = time.monotonic()
    busy = ports_in_use(StackConfig(admin_url="postgresql://unused@127.0.0.1/unused", secrets={}))
    if busy:
        print(f"Ports already in use: {', '.join(busy)}. Is Himaya already running? Stop it first, or set "
              "IDENTITY_PORT, CASES_PORT, REFERRALS_PORT and GATEWAY_PORT.", file=sys.stderr)
        return 1
    admin_url, pg = admin_database_url()
    ensure_database(admin_url)
    config = StackConfig(admin_url=admin_url)
    migrate(config, skip_current=True)
    logs = data_dir() / "logs"
    stack = Stack(config, log_dir=logs if not args.foreground_logs else None)
    stop_requested = False

    def on_signal(signum: int, _frame: object) -> None:
        nonlocal stop_requested
        stop_requested = True

    signal.signal(signal.SIGINT, on_signal)
    signal.signal(signal.SIGTERM, on_signal)
    try:
        stack.start_all()
        stack.wait_ready()
        gw = config.base_url("gateway")
        print(f"""
Himaya is running ({time.monotonic() - started:.1f}s).
  API and docs UI : {gw}/docs   (OpenAPI: {gw}/openapi.json)
  Log in          : username {ADMIN_USERNAME!r}, password {config.secrets['admin_password']!r}
                    (in the docs UI: Authorize, then the password flow)
  Database        : {f'embedded PostgreSQL on 127.0.0.1:{pg.port}' if pg else 'DATABASE_URL'}
  Logs            : {logs}
Press Ctrl-C to stop.""", flush=True)
        while not stop_requested:
            for name, proc in list(stack.procs.items()):
                if proc.poll() is not None:
                    print(f"{name} exited with status {proc.returncode}; stopping.", file=sys.stderr)
                    stop_requested = True
            time.sleep(0.5)
    finally:
        print("Stopping…", flush=True)
        stack.stop_all()
        if pg is not None and pg.started_here and not args.keep_db:
            embedded_pg.stop(pg.data_dir)
    return 0


def _cmd_migrate(args: argparse.Namespace) -> int:
    admin_url, _ = admin_database_url()
    ensure_database(admin_url)
    migrate(StackConfig(admin_url=admin_url), seed=not args.no_seed)
    return 0


def _cmd_revision(args: argparse.Namespace) -> int:
    admin_url, _ = admin_database_url()
    ensure_database(admin_url)
    config = StackConfig(admin_url=admin_url)
    svc = next(s for s in DB_SERVICES if s.name == args.service)
    env = _python_env(config.env())
    subprocess.run([sys.executable, "-m", f"{svc.module}.migrate"], check=True, env=env)  # noqa: S603
    subprocess.run([sys.executable, "-m", f"{svc.module}.migrate", "--revision", args.message],  # noqa: S603
                   check=True, env=env)
    return 0


def _cmd_db_url(args: argparse.Namespace) -> int:
    admin_url, _ = admin_database_url()
    print(admin_url)
    return 0


def _cmd_with_env(args: argparse.Namespace) -> int:
    command = args.cmd[1:] if args.cmd[:1] == ["--"] else args.cmd
    if not command:
        print("with-env needs a command: python -m himaya_dev.devstack with-env -- COMMAND…", file=sys.stderr)
        return 2
    admin_url, _ = admin_database_url()
    ensure_database(admin_url)
    config = StackConfig(admin_url=admin_url)
    migrate(config, skip_current=True)
    sys.stdout.flush()
    os.execvpe(command[0], command, _python_env(config.env()))  # noqa: S606
    return 0  # not reached: the command replaces this process


def _cmd_stop_db(args: argparse.Namespace) -> int:
    embedded_pg.stop(data_dir() / "pg")
    return 0


def main(argv: list[str] | None = None) -> int:
    """Command-line entry point."""
    parser = argparse.ArgumentParser(prog="himaya_dev.devstack", description=__doc__)
    sub = parser.add_subparsers(dest="command", required=True)
    run = sub.add_parser("run", help="migrate, seed and run all four processes")
    run.add_argument("--keep-db", action="store_true", help="leave the embedded PostgreSQL running on exit")
    run.add_argument("--foreground-logs", action="store_true", help="print service logs here")
    run.set_defaults(func=_cmd_run)
    mig = sub.add_parser("migrate", help="provision, migrate and seed every service")
    mig.add_argument("--no-seed", action="store_true")
    mig.set_defaults(func=_cmd_migrate)
    rev = sub.add_parser("revision", help="autogenerate a migration for one service")
    rev.add_argument("service", choices=[s.name for s in DB_SERVICES])
    rev.add_argument("-m", "--message", required=True)
    rev.set_defaults(func=_cmd_revision)
    sub.add_parser("db-url", help="start the embedded database if needed and print its admin URL").set_defaults(
        func=_cmd_db_url)
    sub.add_parser("stop-db", help="stop the embedded database").set_defaults(func=_cmd_stop_db)
    env = sub.add_parser("with-env", help="migrate the development database, then run COMMAND with the environment "
                         "`run` gives the services (`make demo`, `make load-scale`)")
    env.add_argument("cmd", nargs=argparse.REMAINDER, metavar="-- COMMAND")
    env.set_defaults(func=_cmd_with_env)
    args = parser.parse_args(argv)
    return int(args.func(args))


if __name__ == "__main__":
    sys.exit(main())
