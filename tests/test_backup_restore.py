"""Backup and restore of one service's schema, as docs/operations.md tells operators to do it.

A database with every schema migrated and a few hundred synthetic cases (cases_service.scale: encrypted
names, timeline, hash-chained audit) is dumped with the embedded server's own `pg_dump -Fc -n cases`, then
restored with `pg_restore` into a fresh database. The cases service, started on the restored copy, must
answer /readyz, read back cases with their decrypted names for a case manager, and the restored audit
chains must verify; every table holds the same rows as the original.
"""

from __future__ import annotations

import asyncio
import secrets
import subprocess
from collections.abc import Iterator
from pathlib import Path

import asyncpg
import httpx
import pytest
import sqlalchemy as sa

from cases_service.core.reference import ReferenceData
from cases_service.core.tables import audit_events
from cases_service.scale.__main__ import protector_from_env
from cases_service.scale.loader import load
from himaya.audit import verify
from himaya.db import create_engine
from himaya.settings import to_asyncpg_url
from himaya_dev import devstack
from himaya_dev.embedded_pg import bin_path
from himaya_dev.testing.plugin import replace_db, server_admin_url

pytestmark = pytest.mark.slow

CASES_LOADED = 300
RABAT = "04.421"


def _free_port() -> int:
    import socket

    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


async def _sql(url: str, *statements: str) -> list[object]:
    conn = await asyncpg.connect(url)
    try:
        return [await conn.fetchval(s) for s in statements]
    finally:
        await conn.close()


async def _row_counts(url: str) -> dict[str, int]:
    conn = await asyncpg.connect(url)
    try:
        tables = [r["tablename"] for r in await conn.fetch(
            "SELECT tablename FROM pg_tables WHERE schemaname = 'cases' ORDER BY 1")]
        return {t: int(await conn.fetchval(f'SELECT count(*) FROM cases."{t}"')) for t in tables}
    finally:
        await conn.close()


class World:
    """The original database (every schema, loaded cases, identity running) and its restored copy."""

    def __init__(self, tmp: Path) -> None:
        tag = secrets.token_hex(3)
        server = server_admin_url()
        self.server = server
        self.names = (f"himaya_backup_{tag}", f"himaya_restored_{tag}")
        generated = devstack.random_secrets()
        ports = {s.name: _free_port() for s in devstack.SERVICES}
        self.original = devstack.StackConfig(admin_url=replace_db(server, self.names[0]), ports=ports,
                                             secrets=generated, role_suffix=f"_b{tag}")
        # The restored copy is served by its own cases process; tokens still come from the original identity.
        self.restored = devstack.StackConfig(admin_url=replace_db(server, self.names[1]),
                                             ports={**ports, "cases": _free_port()}, secrets=generated,
                                             role_suffix=f"_b{tag}")
        self.dump = tmp / "cases.dump"
        self.identity = devstack.Stack(self.original)
        self.cases = devstack.Stack(self.restored)

    def close(self) -> None:
        """Stop the processes, drop both databases and the roles."""
        self.cases.stop_all()
        self.identity.stop_all()
        statements = [f'DROP DATABASE IF EXISTS "{n}" WITH (FORCE)' for n in self.names]
        statements += [f'DROP ROLE IF EXISTS "himaya_{s.name}{self.original.role_suffix}"'
                       for s in devstack.DB_SERVICES]
        asyncio.run(_sql(replace_db(self.server, "postgres"), *statements))


@pytest.fixture(scope="module")
def world(tmp_path_factory: pytest.TempPathFactory) -> Iterator[World]:
    """Original loaded and dumped, restored into a fresh database, the restored cases service running."""
    w = World(tmp_path_factory.mktemp("backup"))
    try:
        devstack.ensure_database(w.original.admin_url)
        devstack.migrate(w.original)
        asyncio.run(load(admin_url=w.original.admin_url, cases=CASES_LOADED,
                         protector=protector_from_env(w.original.env()), reference=ReferenceData.load()))
        bins = bin_path()
        subprocess.run([str(bins / "pg_dump"), "--format=custom", "--schema=cases", f"--file={w.dump}",
                        f"--dbname={w.original.admin_url}"], check=True, capture_output=True)
        devstack.ensure_database(w.restored.admin_url)
        subprocess.run([str(bins / "pg_restore"), "--exit-on-error", f"--dbname={w.restored.admin_url}",
                        str(w.dump)], check=True, capture_output=True)
        w.identity.start("identity")
        w.identity.wait_ready(("identity",))
        w.cases.start("cases")
        w.cases.wait_ready(("cases",))
        yield w
    finally:
        w.close()


def _case_manager_headers(w: World) -> dict[str, str]:
    """A CAPE case manager of Rabat, created in identity; its Authorization header."""
    tag = secrets.token_hex(3)
    with httpx.Client(base_url=w.original.base_url("identity"), timeout=30) as client:
        def token(form: dict[str, str]) -> dict[str, str]:
            r = client.post("/v1/auth/token", data=form)
            assert r.status_code == 200, r.text
            return {"Authorization": f"Bearer {r.json()['access_token']}"}

        admin = token({"grant_type": "password", "username": devstack.ADMIN_USERNAME,
                       "password": w.original.secrets["admin_password"]})
        org = client.post("/v1/organizations", headers=admin, json={
            "name": f"CAPE Rabat {tag}", "type": "cape", "territory_code": RABAT})
        assert org.status_code == 201, org.text
        password = secrets.token_urlsafe(16)
        user = client.post("/v1/users", headers={**admin, "Idempotency-Key": secrets.token_hex(8)}, json={
            "username": f"manager.{tag}", "full_name": "Restore check", "role": "case_manager",
            "organization_id": org.json()["id"], "territories": [RABAT], "password": password})
        assert user.status_code == 201, user.text
        return token({"grant_type": "password", "username": f"manager.{tag}", "password": password})


class TestRestoredCasesSchema:
    def test_every_table_holds_the_same_rows(self, world: World) -> None:
        original = asyncio.run(_row_counts(world.original.admin_url))
        restored = asyncio.run(_row_counts(world.restored.admin_url))
        assert original["cases"] >= CASES_LOADED
        assert restored == original

    def test_the_service_on_the_restored_copy_is_ready(self, world: World) -> None:
        r = httpx.get(world.restored.base_url("cases") + "/readyz", timeout=10)
        assert r.status_code == 200
        assert r.json()["status"] == "ready"

    def test_a_case_manager_reads_restored_cases_with_their_names(self, world: World) -> None:
        headers = _case_manager_headers(world)
        base = world.restored.base_url("cases")
        listed = httpx.get(f"{base}/v1/cases", params={"territory_code": RABAT, "limit": 50}, headers=headers,
                           timeout=30)
        assert listed.status_code == 200, listed.text
        items = listed.json()["items"]
        (expected,) = asyncio.run(_sql(world.original.admin_url,
                                       f"SELECT count(*) FROM cases.cases WHERE prefecture_code = '{RABAT}'"))
        assert len(items) == min(50, int(str(expected)))
        assert items, "the load put no case in Rabat"
        named = [i for i in items if i["child"].get("names") and any(i["child"]["names"].values())]
        assert named, "no restored child name decrypted"
        one = httpx.get(f"{base}/v1/cases/{items[0]['id']}", headers=headers, timeout=30)
        assert one.status_code == 200, one.text
        assert one.json()["case_number"] == items[0]["case_number"]

    def test_the_restored_audit_chains_verify(self, world: World) -> None:
        async def check() -> tuple[bool, int]:
            engine = create_engine(to_asyncpg_url(world.restored.admin_url))
            try:
                async with engine.connect() as conn:
                    report = await verify(conn, audit_events)
                    total = (await conn.execute(sa.select(sa.func.count()).select_from(audit_events))).scalar_one()
                    return report.valid, report.checked - int(total)
            finally:
                await engine.dispose()

        valid, unchecked = asyncio.run(check())
        assert valid
        assert unchecked == 0
