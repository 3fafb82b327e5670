"""The outbox delivers committed events, retries failures with backoff, and dead-letters."""

import asyncio
import uuid

import pytest
import sqlalchemy as sa
from sqlalchemy.ext.asyncio import AsyncSession

from himaya.outbox import DEAD, DELIVERED, PENDING, OutboxDispatcher, PermanentDeliveryError, enqueue


async def add_events(engine, outbox, n: int, destination: str = "cases") -> list[uuid.UUID]:
    ids = []
    async with AsyncSession(engine) as session, session.begin():
        for i in range(n):
            ids.append(await enqueue(session, outbox, event_type="thing.happened", destination=destination,
                                     payload={"i": i}))
    return ids


async def statuses(engine, outbox) -> dict[uuid.UUID, str]:
    async with engine.connect() as conn:
        return dict((await conn.execute(sa.select(outbox.c.id, outbox.c.status))).all())


@pytest.fixture
def outbox(tables):
    return tables.tables["libtest.outbox_events"]


class TestDelivery:
    async def test_events_are_delivered_once_in_order(self, clean, outbox):
        ids = await add_events(clean, outbox, 5)
        seen = []

        async def handler(event):
            seen.append(event.payload["i"])

        dispatcher = OutboxDispatcher(clean, outbox, {"cases": handler})
        assert await dispatcher.run_once() == 5
        assert await dispatcher.run_once() == 0
        assert seen == [0, 1, 2, 3, 4]
        assert set((await statuses(clean, outbox)).values()) == {DELIVERED}
        assert len(ids) == 5

    async def test_uncommitted_events_are_not_delivered(self, clean, outbox):
        async with AsyncSession(clean) as session:
            await session.begin()
            await enqueue(session, outbox, event_type="x", destination="cases", payload={})
            await session.rollback()
        dispatcher = OutboxDispatcher(clean, outbox, {"cases": lambda e: asyncio.sleep(0)})
        assert await dispatcher.run_once() == 0

    async def test_failures_back_off_then_dead_letter(self, clean, outbox):
        [eid] = await add_events(clean, outbox, 1)

        async def failing(event):
            raise ConnectionError("receiver down")

        dispatcher = OutboxDispatcher(clean, outbox, {"cases": failing}, max_attempts=3, base_backoff=0.0)
        for _ in range(3):
            await dispatcher.run_once()
        async with clean.connect() as conn:
            row = (await conn.execute(sa.select(outbox).where(outbox.c.id == eid))).mappings().one()
        assert row["status"] == DEAD and row["attempts"] == 3 and "receiver down" in row["last_error"]
        assert await dispatcher.replay(eid)
        assert (await statuses(clean, outbox))[eid] == PENDING

    async def test_backoff_delays_the_next_attempt(self, clean, outbox):
        [eid] = await add_events(clean, outbox, 1)

        async def failing(event):
            raise ConnectionError("down")

        dispatcher = OutboxDispatcher(clean, outbox, {"cases": failing}, base_backoff=60.0)
        assert await dispatcher.run_once() == 1
        assert await dispatcher.run_once() == 0  # not due yet
        assert (await statuses(clean, outbox))[eid] == PENDING

    async def test_permanent_refusal_dead_letters_at_once(self, clean, outbox):
        [eid] = await add_events(clean, outbox, 1)

        async def refusing(event):
            raise PermanentDeliveryError("422 from receiver")

        await OutboxDispatcher(clean, outbox, {"cases": refusing}).run_once()
        assert (await statuses(clean, outbox))[eid] == DEAD

    async def test_two_dispatchers_never_deliver_the_same_event(self, clean, outbox):
        await add_events(clean, outbox, 40)
        seen: list[int] = []

        async def slow(event):
            await asyncio.sleep(0.005)
            seen.append(event.payload["i"])

        a = OutboxDispatcher(clean, outbox, {"cases": slow}, batch_size=5)
        b = OutboxDispatcher(clean, outbox, {"cases": slow}, batch_size=5)

        async def drain(d):
            while await d.run_once():
                pass

        await asyncio.gather(drain(a), drain(b))
        assert sorted(seen) == list(range(40))

    async def test_running_dispatcher_is_woken_by_notify(self, clean, outbox, test_database_url):
        delivered = asyncio.Event()

        async def handler(event):
            delivered.set()

        dispatcher = OutboxDispatcher(clean, outbox, {"cases": handler}, listen_dsn=test_database_url,
                                      poll_interval=30.0)
        dispatcher.start()
        try:
            await asyncio.sleep(0.3)  # let it LISTEN
            await add_events(clean, outbox, 1)
            await asyncio.wait_for(delivered.wait(), timeout=10)
        finally:
            await dispatcher.stop()
        assert delivered.is_set()


class TestClaimQueryHook:
    async def test_subclass_can_narrow_what_is_claimed(self, clean, outbox):
        await add_events(clean, outbox, 3, destination="cases")
        await add_events(clean, outbox, 2, destination="webhook:1")
        seen = []

        async def handler(event):
            seen.append(event.destination)

        class CasesOnly(OutboxDispatcher):
            def claim_query(self):
                return super().claim_query().where(self.table.c.destination == "cases")

        assert await CasesOnly(clean, outbox, {"cases": handler, "webhook": handler}).run_once() == 3
        assert seen == ["cases"] * 3
        assert set((await statuses(clean, outbox)).values()) == {DELIVERED, PENDING}
