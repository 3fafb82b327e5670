"""The README's commands, run as a newcomer runs them: in a fresh copy of this checkout (no virtual env, no
database, no secrets, no logs), with `make`, on the embedded database and on an existing server named by
DATABASE_URL. A green suite once hid a `make demo` that crashed on every machine; these tests call the
commands themselves, not the functions behind them.
"""

from __future__ import annotations

import contextlib
import os
import re
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import threading
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest

from himaya_dev import embedded_pg
from tests.faults_support import free_port

ROOT = Path(__file__).resolve().parents[1]
SERVICES = ("GATEWAY", "IDENTITY", "CASES", "REFERRALS")

pytestmark = [pytest.mark.slow, pytest.mark.stack]



def fresh_checkout(dest: Path) -> Path:
    """A copy of the files git tracks or would track here (the working tree's state, nothing ignored)."""
    listed = subprocess.run(["git", "ls-files", "-z", "--cached", "--others", "--exclude-standard"],
                            cwd=ROOT, capture_output=True, check=True).stdout.decode().split("\0")
    for name in filter(None, listed):
        source = ROOT / name
        if source.is_file():
            (dest / name).parent.mkdir(parents=True, exist_ok=True)
            shutil.copy2(source, dest / name)
    return dest


def newcomer_env(**overrides: str) -> dict[str, str]:
    """The caller's environment without any Himaya or database setting, plus `overrides`: free ports for
    the four services and the embedded database, so the test never meets a running `make run`."""
    env = {k: v for k, v in os.environ.items()
           if not k.startswith(("HIMAYA_", "DATABASE_URL", "PYTEST", *(s + "_" for s in SERVICES)))}
    env.update({f"{s}_PORT": str(free_port()) for s in SERVICES})
    env["HIMAYA_PG_PORT"] = str(free_port())
    env.update(overrides)
    return env


def make(checkout: Path, env: dict[str, str], *args: str, timeout: float = 600) -> str:
    """Run `make ARGS` as a newcomer types it; fail with its output when it fails."""
    done = subprocess.run(["make", *args], cwd=checkout, env=env, capture_output=True, text=True,
                          timeout=timeout)
    output = done.stdout + done.stderr
    assert done.returncode == 0, f"make {' '.join(args)} exited {done.returncode}:\n{output[-4000:]}"
    assert "Traceback" not in output, output[-4000:]
    return output


@contextlib.contextmanager
def make_run(checkout: Path, env: dict[str, str]) -> Iterator[tuple[str, str, list[str]]]:
    """`make run` in the background until it says it is running: (docs URL, admin password, its output so
    far). Leaving the block presses Ctrl-C and waits for everything to stop."""
    proc = subprocess.Popen(["make", "run"], cwd=checkout, env=env, stdout=subprocess.PIPE,
                            stderr=subprocess.STDOUT, text=True, start_new_session=True)
    lines: list[str] = []
    ready = threading.Event()

    def read() -> None:
        assert proc.stdout is not None
        for line in proc.stdout:
            lines.append(line)
            if "Press Ctrl-C to stop" in line:
                ready.set()
        ready.set()

    reader = threading.Thread(target=read, daemon=True)
    reader.start()
    try:
        assert ready.wait(300), "make run did not start within 5 minutes:\n" + "".join(lines)
        text = "".join(lines)
        docs = re.search(r"docs UI : (\S+/docs)", text)
        password = re.search(r"username 'admin', password '([^']+)'", text)
        assert docs and password, "make run exited or printed no docs URL and login:\n" + text
        yield docs.group(1), password.group(1), lines
    finally:
        with contextlib.suppress(ProcessLookupError):
            os.killpg(proc.pid, signal.SIGINT)
        try:
            proc.wait(timeout=60)
        except subprocess.TimeoutExpired:
            os.killpg(proc.pid, signal.SIGKILL)
            proc.wait()
        reader.join(timeout=10)
    assert "Stopping" in "".join(lines), "".join(lines)


@contextlib.contextmanager
def running_system(docs_url: str, password: str) -> Iterator[httpx.Client]:
    """What the README promises once `make run` is up: the docs UI, the admin's login, the API; a client
    logged in as the administrator."""
    with httpx.Client(base_url=docs_url.removesuffix("/docs"), timeout=30) as client:
        yield logged_in(client, password)


def logged_in(client: httpx.Client, password: str) -> httpx.Client:
    assert client.get("/docs").status_code == 200
    assert "/v1/intakes" in client.get("/openapi.json").json()["paths"]
    token = client.post("/v1/auth/token", data={"grant_type": "password", "username": "admin",
                                                "password": password})
    assert token.status_code == 200, token.text
    client.headers["Authorization"] = f"Bearer {token.json()['access_token']}"
    assert client.get("/v1/me").json()["role"] == "admin"
    return client


def run_readme_commands(checkout: Path, env: dict[str, str]) -> None:
    """`make migrate`, then `make run` with `make demo` and `make load-scale` against it."""
    assert "identity seed" in make(checkout, env, "migrate")
    with make_run(checkout, env) as (docs_url, password, lines):
        with running_system(docs_url, password) as client:
            before = client.get("/v1/stats/summary").json()
            demo = make(checkout, env, "demo")
            assert "Demo dataset loaded" in demo, demo
            assert "Demo dataset already loaded" in make(checkout, env, "demo")
            after = client.get("/v1/stats/summary").json()
            assert after != before
            scale = make(checkout, env, "load-scale", "N=200")
            assert "loaded 200 cases" in scale, scale
        warnings = [line for line in lines if "Warning" in line]
        assert not warnings, "make run printed library warnings at a newcomer:\n" + "".join(warnings)


@pytest.fixture
def workdir() -> Iterator[Path]:
    """A folder of its own, outside pytest's: pytest makes its base folder private again whenever a test
    session starts, and the embedded server's unprivileged user must keep reaching its files."""
    path = Path(tempfile.mkdtemp(prefix="himaya-newcomer-"))
    try:
        yield path
    finally:
        shutil.rmtree(path, ignore_errors=True)


def test_readme_commands_on_the_embedded_database(workdir: Path) -> None:
    checkout = fresh_checkout(workdir / "himaya")
    env = newcomer_env()
    run_readme_commands(checkout, env)
    bench = make(checkout, env, "bench-gateway", "ARGS=--seconds 1 --rounds 1 --connections 4")
    assert "gateway/direct throughput ratio" in bench, bench
    make(checkout, env, "stop-db")
    with socket.socket() as s:
        assert s.connect_ex(("127.0.0.1", int(env["HIMAYA_PG_PORT"]))) != 0, "make stop-db left Postgres running"


def python_without_venv(folder: Path) -> Path:
    """A `python3` like Debian's or Ubuntu's without the python3-venv package: `import ensurepip` fails."""
    shadow = folder / "no-ensurepip"
    shadow.mkdir(parents=True)
    (shadow / "ensurepip.py").write_text('raise ImportError("No module named ensurepip (python3-venv)")\n')
    python = folder / "python3"
    python.write_text(f'#!/bin/sh\nPYTHONPATH="{shadow}" exec "{sys.executable}" "$@"\n')
    python.chmod(0o755)
    return python


def test_readme_commands_with_database_url(workdir: Path) -> None:
    """DATABASE_URL names an existing server (here one started for the test, standing for the user's own);
    this newcomer's Python has no venv module, as on a stock Debian or Ubuntu."""
    server = embedded_pg.ensure_running(workdir / "server", free_port())
    try:
        checkout = fresh_checkout(workdir / "himaya")
        env = newcomer_env(DATABASE_URL=server.url("himaya"), PYTHON=str(python_without_venv(workdir / "bin")))
        assert "no venv module" in make(checkout, env, "install")
        run_readme_commands(checkout, env)
        assert not (checkout / ".data" / "pg").exists(), "DATABASE_URL was given, yet an embedded server started"
    finally:
        embedded_pg.stop(server.data_dir)
