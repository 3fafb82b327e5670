"""The audit log's ends, through the gateway and the command: deleting the newest rows or a whole chain as the
database superuser is reported by `/v1/audit/verify` and by `python -m cases_service.verify_audit`, because
the service signs checkpoints of the chains' heads with a key the database never holds."""

import asyncio
import base64
import hashlib
import os
import subprocess
import sys
from collections.abc import Iterator
from typing import Any

import asyncpg
import orjson
import pytest
from authz.provision import NATIONAL, RABAT, Actor, Directory, expect, wait_for
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PublicKey

from himaya_dev.devstack import ROOT

pytestmark = pytest.mark.stack


def _sql(url: str, statement: str, *args: Any) -> list[asyncpg.Record]:
    async def run() -> list[asyncpg.Record]:
        conn = await asyncpg.connect(url)
        try:
            return list(await conn.fetch(statement, *args))
        finally:
            await conn.close()
    return asyncio.run(run())


@pytest.fixture(scope="module")
def auditor(directory: Directory) -> Actor:
    """A national data-protection auditor."""
    directory.organization("min-audit-ends", type_="ministry", territory=RABAT)
    return directory.user("auditor-ends", role="auditor", org="min-audit-ends", territories=[NATIONAL])


@pytest.fixture
def tampered(stack_config) -> Iterator[list[int]]:
    """Rows the test deletes as the superuser are put back afterwards (with the rows appended meanwhile
    removed), so the session's log verifies again for other tests."""
    url = stack_config.admin_url
    saved: list[asyncpg.Record] = []
    before: list[int] = []

    def delete(where: str) -> list[int]:
        if not before:  # the rows appended from now on are removed when the deleted ones are put back
            before.append(_sql(url, "SELECT coalesce(max(id), 0) AS id FROM cases.audit_events")[0]["id"])
        rows = _sql(url, f"DELETE FROM cases.audit_events WHERE {where} RETURNING *")
        saved.extend(rows)
        return sorted(r["id"] for r in rows)

    yield delete  # type: ignore[misc]
    if saved:
        _sql(url, "DELETE FROM cases.audit_events WHERE id > $1", before[0])
        columns = list(saved[0].keys())
        placeholders = ", ".join(f"${i + 1}" for i in range(len(columns)))

        async def restore() -> None:
            conn = await asyncpg.connect(url)
            try:
                await conn.executemany(
                    f"INSERT INTO cases.audit_events ({', '.join(columns)}) OVERRIDING SYSTEM VALUE "
                    f"VALUES ({placeholders})",
                    [tuple(r[c] for c in columns) for r in sorted(saved, key=lambda r: r["id"])])
            finally:
                await conn.close()
        asyncio.run(restore())


def _verify(gateway, auditor: Actor) -> dict[str, Any]:
    return expect(gateway.get("/v1/audit/verify", headers=auditor.headers), 200)  # type: ignore[no-any-return]


def _command(stack_config, service: str = "cases") -> tuple[int, dict[str, Any]]:
    env = {**os.environ, **stack_config.env()}
    done = subprocess.run([sys.executable, "-m", f"{service}_service.verify_audit"], env=env, cwd=ROOT,
                          capture_output=True, timeout=120, check=False)
    return done.returncode, orjson.loads(done.stdout)


def _signature_checks(checkpoint: dict[str, Any]) -> bool:
    """An outside party's check of a published checkpoint, from its documented encoding."""
    payload = orjson.dumps({"service": "cases", "number": checkpoint["number"],
                            "created_at": checkpoint["created_at"], "heads": checkpoint["heads"],
                            "prev_hash": checkpoint["prev_hash"]}, option=orjson.OPT_SORT_KEYS)
    if hashlib.sha256(payload).hexdigest() != checkpoint["hash"]:
        return False
    key = Ed25519PublicKey.from_public_bytes(base64.urlsafe_b64decode(checkpoint["public_key"] + "=="))
    key.verify(base64.urlsafe_b64decode(checkpoint["signature"] + "=="), payload)
    return True


class TestChainEnds:
    def test_an_intact_log_publishes_a_signed_checkpoint_an_outsider_can_check(self, gateway, auditor, stack):
        first = _verify(gateway, auditor)
        assert first["valid"] and first["checkpoints"]["valid"]
        checkpoint = first["latest_checkpoint"]
        assert checkpoint and checkpoint["heads"] and _signature_checks(checkpoint)

        def logged() -> dict[str, Any] | None:
            for line in (stack.log_dir / "cases.log").read_text().splitlines():
                if '"audit_checkpoint"' in line and checkpoint["hash"] in line:
                    return orjson.loads(line)  # type: ignore[no-any-return]
            return None
        line = wait_for(logged, what="the checkpoint on the cases log")
        assert line["checkpoint"] == checkpoint
        second = _verify(gateway, auditor)["latest_checkpoint"]
        assert second["number"] > checkpoint["number"]

    def test_deleting_the_newest_rows_is_reported(self, gateway, auditor, tampered, stack_config):
        published = _verify(gateway, auditor)["latest_checkpoint"]
        newest = max(h["id"] for h in published["heads"])
        deleted = tampered(f"id >= {newest - 2}")
        assert newest in deleted
        report = _verify(gateway, auditor)
        assert report["valid"] is False and report["checkpoints"]["valid"] is False
        assert any(f"row {row}," in report["checkpoints"]["reason"] for row in deleted)
        # The hash chains alone look intact: only the signed checkpoint shows the loss.
        assert all(c["valid"] for c in report["chains"])
        # No checkpoint was signed over the shortened log; the one published before is still the latest.
        assert report["latest_checkpoint"]["number"] == published["number"]
        status, printed = _command(stack_config)
        assert status == 1 and printed["valid"] is False
        assert any(f"row {row}," in printed["checkpoints"]["reason"] for row in deleted)

    def test_deleting_a_whole_chain_is_reported(self, gateway, auditor, tampered, stack_config):
        published = _verify(gateway, auditor)["latest_checkpoint"]
        chain = published["heads"][0]["chain"]
        tampered(f"chain = {chain}")
        report = _verify(gateway, auditor)
        assert report["valid"] is False and f"head of chain {chain}" in report["checkpoints"]["reason"]
        status, printed = _command(stack_config)
        assert status == 1 and f"head of chain {chain}" in printed["checkpoints"]["reason"]

    def test_the_log_verifies_again_once_restored_and_the_command_signs(self, gateway, auditor, stack_config):
        assert _verify(gateway, auditor)["valid"]
        status, printed = _command(stack_config)
        assert status == 0 and printed["valid"] and printed["latest_checkpoint"]["number"] >= 1

    @pytest.mark.parametrize("service", ["identity", "referrals"])
    def test_identity_and_referrals_sign_their_heads_with_their_own_key(self, gateway, auditor, stack_config,
                                                                        service):
        status, printed = _command(stack_config, service)
        assert status == 0 and printed["valid"] and printed["service"] == service, orjson.dumps(printed)
        checkpoint = printed["latest_checkpoint"]
        assert checkpoint["number"] >= 1 and checkpoint["key_id"]
        assert checkpoint["public_key"] != _verify(gateway, auditor)["latest_checkpoint"]["public_key"]

    def test_the_database_refuses_a_chain_number_outside_the_chains(self, stack_config):
        with pytest.raises(asyncpg.CheckViolationError):
            _sql(stack_config.admin_url, "UPDATE cases.audit_events SET chain = 8 WHERE id = (SELECT max(id) "
                 "FROM cases.audit_events)")

    def test_the_service_role_can_neither_delete_nor_rewrite_checkpoints(self, stack_config):
        url = stack_config.env()["CASES_DATABASE_URL"]
        for statement in ("DELETE FROM cases.audit_checkpoints", "UPDATE cases.audit_checkpoints SET heads = '[]'",
                          "TRUNCATE cases.audit_checkpoints"):
            with pytest.raises(asyncpg.InsufficientPrivilegeError):
                _sql(url, statement)
