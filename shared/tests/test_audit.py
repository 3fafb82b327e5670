"""The audit log is a hash chain: an edited or deleted row is found."""

import uuid

import pytest
import sqlalchemy as sa
from sqlalchemy.exc import IntegrityError

from himaya.audit import (
    CHAINS,
    AuditEntry,
    AuditSigner,
    record,
    verify,
    verify_chains,
    verify_checkpoints,
    write_checkpoint,
)
from himaya_dev.testing.plugin import TokenFactory


async def write_events(engine, audit, n: int) -> None:
    tokens = TokenFactory.generate()
    principal = await tokens.verifier().verify(tokens.token(role="case_manager", org=uuid.uuid4()))
    for i in range(n):
        async with engine.begin() as conn:
            await record(conn, audit, AuditEntry(action="case.read", object_type="case", object_id=str(i),
                                                 case_id=uuid.uuid4(), fields=["child.first_name"]),
                         principal=principal, source_ip="127.0.0.1")


@pytest.fixture
def audit(tables):
    return tables.tables["libtest.audit_events"]


class TestHashChain:
    async def test_untouched_log_verifies(self, clean, audit):
        await write_events(clean, audit, 30)
        async with clean.connect() as conn:
            report = await verify(conn, audit)
        assert report.valid and report.checked == 30

    async def test_edited_row_is_detected(self, clean, audit):
        await write_events(clean, audit, 20)
        async with clean.begin() as conn:
            target = (await conn.execute(sa.select(audit.c.id).order_by(audit.c.id).offset(7).limit(1))).scalar()
            await conn.execute(sa.update(audit).where(audit.c.id == target).values(actor="user:someone-else"))
        async with clean.connect() as conn:
            report = await verify(conn, audit)
        assert not report.valid and report.first_broken_id == target
        assert report.reason == "row content altered"

    async def test_deleted_row_is_detected(self, clean, audit):
        await write_events(clean, audit, 40)
        async with clean.begin() as conn:
            # delete a row that has a successor in its chain
            chain, target = (await conn.execute(sa.text(
                "SELECT chain, min(id) FROM libtest.audit_events GROUP BY chain HAVING count(*) > 1 LIMIT 1"))).one()
            await conn.execute(sa.delete(audit).where(audit.c.id == target))
        async with clean.connect() as conn:
            report = await verify(conn, audit)
        assert not report.valid and report.chain == chain
        assert report.reason == "previous row missing or altered"

    async def test_rolled_back_work_leaves_no_event(self, clean, audit):
        async with clean.connect() as conn:
            trans = await conn.begin()
            await record(conn, audit, AuditEntry(action="case.update", object_type="case"), actor="user:x")
            await trans.rollback()
        async with clean.connect() as conn:
            assert (await conn.execute(sa.select(sa.func.count()).select_from(audit))).scalar() == 0


    async def test_a_transaction_that_records_twice_holds_one_chain(self, clean, audit):
        # Two chain locks taken in random order by concurrent transactions deadlock: every event of one
        # transaction goes to one chain (ten transactions: a random pick matching by chance is 8**-10).
        from himaya.audit import record_many

        for i in range(10):
            async with clean.begin() as conn:
                await record(conn, audit, AuditEntry(action="case.read", object_type="case", object_id=str(i)),
                             actor="user:x")
                await record_many(conn, audit, [AuditEntry(action="child.read", object_type="child")] * 2,
                                  actor="user:x")
        async with clean.connect() as conn:
            rows = (await conn.execute(sa.select(audit.c.chain, audit.c.id)
                                       .order_by(audit.c.id))).all()
            report = await verify(conn, audit)
        chains = [{r.chain for r in rows[i * 3:i * 3 + 3]} for i in range(10)]
        assert all(len(c) == 1 for c in chains), chains
        assert len(set().union(*chains)) > 1  # and transactions still spread over the chains
        assert report.valid and report.checked == 30


class TestRecordMany:
    async def test_batch_events_extend_one_chain_that_verifies(self, clean, audit):
        from himaya.audit import record_many

        await write_events(clean, audit, 5)
        tokens = TokenFactory.generate()
        principal = await tokens.verifier().verify(tokens.token(role="case_manager", org=uuid.uuid4()))
        entries = [AuditEntry(action="case.list", object_type="case", object_id=str(i), case_id=uuid.uuid4(),
                              fields=["child.names"]) for i in range(12)]
        async with clean.begin() as conn:
            await record_many(conn, audit, entries, principal=principal)
            await record_many(conn, audit, [], principal=principal)
        async with clean.connect() as conn:
            report = await verify(conn, audit)
            listed = (await conn.execute(sa.select(sa.func.count()).where(audit.c.action == "case.list"))).scalar()
        assert report.valid and report.checked == 17
        assert listed == 12


class TestVerifyChains:
    async def test_each_chain_reports_its_first_broken_row_and_its_head(self, clean, audit):
        await write_events(clean, audit, 40)
        async with clean.begin() as conn:
            chains = (await conn.execute(sa.text(
                "SELECT chain, array_agg(id ORDER BY id) FROM libtest.audit_events GROUP BY chain "
                "HAVING count(*) > 2 ORDER BY chain LIMIT 2"))).all()
            (edited_chain, edited_ids), (deleted_chain, deleted_ids) = chains
            await conn.execute(sa.update(audit).where(audit.c.id == edited_ids[1]).values(fields=["x"]))
            await conn.execute(sa.delete(audit).where(audit.c.id == deleted_ids[0]))
        async with clean.connect() as conn:
            states = await verify_chains(conn, audit)
        assert len(states) == CHAINS and sum(s.checked for s in states) == 39
        by_chain = {s.chain: s for s in states}
        assert (by_chain[edited_chain].first_broken_id, by_chain[edited_chain].reason) == (
            edited_ids[1], "row content altered")
        assert (by_chain[deleted_chain].first_broken_id, by_chain[deleted_chain].reason) == (
            deleted_ids[1], "previous row missing or altered")
        untouched = [s for s in states if s.chain not in (edited_chain, deleted_chain)]
        assert all(s.valid for s in untouched)
        assert by_chain[edited_chain].head_id == edited_ids[-1] and len(by_chain[edited_chain].head_hash or "") == 64


SIGNER = AuditSigner.from_secret("libtest", "a-test-audit-signing-secret-0123456789")


@pytest.fixture
def checkpoints(tables):
    return tables.tables["libtest.audit_checkpoints"]


class TestVerifyReport:
    async def test_the_command_report_names_the_broken_row(self, clean, audit, checkpoints):
        from himaya.audit_cli import verify_report

        await write_events(clean, audit, 12)
        report = await verify_report(clean, audit, checkpoints, SIGNER, service="libtest")
        assert report["valid"] and report["checked"] == 12 and report["first_broken_id"] is None
        assert report["latest_checkpoint"]["number"] == 1
        async with clean.begin() as conn:
            target = (await conn.execute(sa.select(sa.func.max(audit.c.id)))).scalar()
            await conn.execute(sa.update(audit).where(audit.c.id == target).values(outcome="denied"))
        report = await verify_report(clean, audit, checkpoints, SIGNER, service="libtest")
        assert not report["valid"] and report["first_broken_id"] == target
        assert [c["reason"] for c in report["chains"] if not c["valid"]] == ["row content altered"]


async def _checkpoint(engine, audit, checkpoints, signer=SIGNER):
    async with engine.begin() as conn:
        return await write_checkpoint(conn, audit, checkpoints, signer)


async def _verify_checkpoints(engine, audit, checkpoints, signer=SIGNER):
    async with engine.connect() as conn:
        return await verify_checkpoints(conn, audit, checkpoints, signer)


class TestCheckpoints:
    async def test_checkpoints_are_numbered_chained_and_verify(self, clean, audit, checkpoints):
        await write_events(clean, audit, 10)
        first = await _checkpoint(clean, audit, checkpoints)
        assert await _checkpoint(clean, audit, checkpoints) == first  # no chain moved: no new checkpoint
        await write_events(clean, audit, 5)
        second = await _checkpoint(clean, audit, checkpoints)
        assert (first.number, second.number, second.prev_hash) == (1, 2, first.hash)
        report = await _verify_checkpoints(clean, audit, checkpoints)
        assert report.valid and report.checked == 2 and report.latest == second

    async def test_deleting_the_newest_rows_of_a_chain_is_detected(self, clean, audit, checkpoints):
        await write_events(clean, audit, 30)
        cp = await _checkpoint(clean, audit, checkpoints)
        async with clean.begin() as conn:
            await conn.execute(sa.text("DELETE FROM libtest.audit_events WHERE id = (SELECT max(id) FROM "
                                       "libtest.audit_events)"))
            states = await verify_chains(conn, audit)
        assert all(s.valid for s in states)  # the hash chains alone cannot see it
        report = await _verify_checkpoints(clean, audit, checkpoints)
        assert not report.valid and report.number == cp.number and "missing or altered" in (report.reason or "")

    async def test_deleting_a_whole_chain_is_detected(self, clean, audit, checkpoints):
        await write_events(clean, audit, 30)
        await _checkpoint(clean, audit, checkpoints)
        async with clean.begin() as conn:
            chain = (await conn.execute(sa.select(audit.c.chain).limit(1))).scalar()
            await conn.execute(sa.delete(audit).where(audit.c.chain == chain))
        report = await _verify_checkpoints(clean, audit, checkpoints)
        assert not report.valid and f"head of chain {chain}" in (report.reason or "")

    async def test_a_removed_altered_or_forged_checkpoint_is_detected(self, clean, audit, checkpoints):
        for _ in range(3):
            await write_events(clean, audit, 3)
            await _checkpoint(clean, audit, checkpoints)
        async with clean.begin() as conn:
            await conn.execute(sa.delete(checkpoints).where(checkpoints.c.number == 2))
        assert (await _verify_checkpoints(clean, audit, checkpoints)).reason == "checkpoint 2 missing"
        async with clean.begin() as conn:
            await conn.execute(sa.delete(checkpoints))
        await _checkpoint(clean, audit, checkpoints)
        async with clean.begin() as conn:
            await conn.execute(sa.update(checkpoints).values(heads=[]))
        assert (await _verify_checkpoints(clean, audit, checkpoints)).reason == "checkpoint content altered"
        async with clean.begin() as conn:
            await conn.execute(sa.delete(checkpoints))
        other = AuditSigner.from_secret("libtest", "someone-else-s-key-0123456789abcdef")
        await _checkpoint(clean, audit, checkpoints, other)
        assert (await _verify_checkpoints(clean, audit, checkpoints)).reason == "checkpoint signature invalid"

    async def test_the_chain_number_is_constrained(self, clean, audit, checkpoints):
        await write_events(clean, audit, 1)
        for bad in (-1, CHAINS):
            with pytest.raises(IntegrityError):
                async with clean.begin() as conn:
                    await conn.execute(sa.update(audit).values(chain=bad))
        with pytest.raises(IntegrityError):
            async with clean.begin() as conn:
                await conn.execute(sa.insert(checkpoints).values(
                    number=0, created_at=sa.func.now(), heads=[], prev_hash=b"", hash=b"", key_id="k",
                    signature=b""))

    async def test_no_checkpoint_is_signed_over_a_log_missing_its_checkpointed_heads(self, clean, audit, checkpoints):
        from himaya.audit import AuditLogTampered

        await write_events(clean, audit, 20)
        await _checkpoint(clean, audit, checkpoints)
        async with clean.begin() as conn:
            await conn.execute(sa.text("DELETE FROM libtest.audit_events WHERE id = (SELECT max(id) FROM "
                                       "libtest.audit_events)"))
        await write_events(clean, audit, 5)
        with pytest.raises(AuditLogTampered):
            await _checkpoint(clean, audit, checkpoints)
        assert (await _verify_checkpoints(clean, audit, checkpoints)).checked == 1
