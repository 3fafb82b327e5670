"""The retention purge: expired rows go in bounded batches, the rest stays, and replicas purging at once agree."""

import asyncio
import uuid
from datetime import UTC, datetime, timedelta

import sqlalchemy as sa

from himaya.outbox import DEAD, DELIVERED, PENDING
from himaya.retention import Purger, delivered_outbox_rule, idempotency_rule

NOW = datetime.now(UTC)
KEEP = timedelta(days=7)


async def _outbox_rows(engine, tables, rows):
    outbox = tables.tables["libtest.outbox_events"]
    async with engine.begin() as conn:
        await conn.execute(sa.insert(outbox), [
            {"id": uuid.uuid4(), "event_type": "t", "destination": "cases", "payload": {}, "status": status,
             "delivered_at": delivered, "created_at": NOW - timedelta(days=30)} for status, delivered in rows])


async def _statuses(engine, tables):
    outbox = tables.tables["libtest.outbox_events"]
    async with engine.connect() as conn:
        return sorted((await conn.execute(sa.select(outbox.c.status))).scalars())


class TestPurge:
    async def test_only_delivered_events_past_retention_go(self, clean, tables):
        old, recent = NOW - KEEP - timedelta(hours=1), NOW - KEEP + timedelta(hours=1)
        await _outbox_rows(clean, tables, [(DELIVERED, old), (DELIVERED, recent), (PENDING, None), (DEAD, None)])
        purger = Purger(clean, [delivered_outbox_rule(tables.tables["libtest.outbox_events"], KEEP)],
                        interval_seconds=0)
        assert await purger.run_once() == {"libtest.outbox_events": 1}
        assert await _statuses(clean, tables) == [DEAD, DELIVERED, PENDING]

    async def test_batches_are_bounded_and_a_run_stops_after_max_batches(self, clean, tables):
        await _outbox_rows(clean, tables, [(DELIVERED, NOW - KEEP - timedelta(days=1))] * 25)
        purger = Purger(clean, [delivered_outbox_rule(tables.tables["libtest.outbox_events"], KEEP)],
                        interval_seconds=0, batch_size=10, max_batches=2)
        assert await purger.run_once() == {"libtest.outbox_events": 20}
        assert await purger.run_once() == {"libtest.outbox_events": 5}

    async def test_expired_idempotency_answers_go_with_a_composite_key(self, clean, tables):
        table = tables.tables["libtest.idempotency_keys"]
        async with clean.begin() as conn:
            await conn.execute(sa.insert(table), [
                {"caller": "user:1", "key": k, "request_hash": b"x" * 32, "status_code": 201,
                 "created_at": NOW - age} for k, age in (("old", timedelta(hours=49)), ("new", timedelta(hours=1)))])
        purger = Purger(clean, [idempotency_rule(table, timedelta(hours=48))], interval_seconds=0)
        assert await purger.run_once() == {"libtest.idempotency_keys": 1}
        async with clean.connect() as conn:
            assert (await conn.execute(sa.select(table.c.key))).scalars().all() == ["new"]

    async def test_replicas_purging_at_once_delete_each_row_once(self, clean, tables):
        await _outbox_rows(clean, tables, [(DELIVERED, NOW - KEEP - timedelta(days=1))] * 60)
        rule = delivered_outbox_rule(tables.tables["libtest.outbox_events"], KEEP)
        replicas = [Purger(clean, [rule], interval_seconds=0, batch_size=7) for _ in range(4)]
        counts = await asyncio.gather(*(r.run_once() for r in replicas))
        assert sum(c["libtest.outbox_events"] for c in counts) == 60
        assert await _statuses(clean, tables) == []

    async def test_the_schedule_runs_in_the_background_and_stops(self, clean, tables):
        await _outbox_rows(clean, tables, [(DELIVERED, NOW - KEEP - timedelta(days=1))])
        purger = Purger(clean, [delivered_outbox_rule(tables.tables["libtest.outbox_events"], KEEP)],
                        interval_seconds=0.01)
        purger.start()
        try:
            for _ in range(500):
                if not await _statuses(clean, tables):
                    break
                await asyncio.sleep(0.01)
        finally:
            await purger.stop()
        assert await _statuses(clean, tables) == []
