"""himaya.db.fetch_prepared / execute_many_prepared: reused statements on the session's own transaction."""

import pytest
import sqlalchemy as sa
from sqlalchemy.ext.asyncio import AsyncSession

from himaya.db import execute_many_prepared, fetch_prepared

pytestmark = pytest.mark.asyncio(loop_scope="session")


@pytest.fixture
def widgets(tables):
    return tables.tables["libtest.widgets"]


async def test_rows_written_and_read_in_the_transaction_vanish_with_its_rollback(clean, widgets):
    insert = sa.insert(widgets)
    by_name = sa.select(widgets.c.id, widgets.c.name).where(widgets.c.name == sa.bindparam("name"))
    async with AsyncSession(clean) as session:
        async with session.begin():
            await execute_many_prepared(session, insert, [{"id": 1, "name": "a"}, {"id": 2, "name": "b"}])
            rows = await fetch_prepared(session, by_name, {"name": "b"})
            assert [(r["id"], r["name"]) for r in rows] == [(2, "b")]
            # SQLAlchemy's own statements see them too: one connection, one transaction.
            assert (await session.execute(sa.select(sa.func.count()).select_from(widgets))).scalar() == 2
            await session.rollback()
        async with session.begin():
            assert await fetch_prepared(session, by_name, {"name": "b"}) == []


async def test_a_committed_write_stays(clean, widgets):
    async with AsyncSession(clean) as session, session.begin():
        await execute_many_prepared(session, sa.insert(widgets), [{"id": 7, "name": "kept"}])
    async with clean.connect() as conn:
        assert (await conn.execute(sa.select(widgets.c.name))).scalars().all() == ["kept"]


async def test_values_bound_at_build_time_are_sent_with_the_given_ones(clean, widgets):
    stmt = sa.select(widgets.c.id).where(widgets.c.name == "fixed", widgets.c.id > sa.bindparam("above"))
    async with AsyncSession(clean) as session, session.begin():
        await execute_many_prepared(session, sa.insert(widgets), [{"id": 1, "name": "fixed"},
                                                                  {"id": 5, "name": "fixed"},
                                                                  {"id": 9, "name": "other"}])
        assert [r["id"] for r in await fetch_prepared(session, stmt, {"above": 2})] == [5]


async def test_database_errors_are_sqlalchemys_as_with_execute(clean, widgets):
    async with AsyncSession(clean) as session:
        async with session.begin():
            await execute_many_prepared(session, sa.insert(widgets), [{"id": 1, "name": "a"}])
        with pytest.raises(sa.exc.IntegrityError):
            async with session.begin():
                await execute_many_prepared(session, sa.insert(widgets), [{"id": 1, "name": "again"}])
        cast = sa.select(sa.cast(sa.bindparam("n", type_=sa.Text), sa.Integer))
        raised = []
        for run in (lambda: session.execute(cast, {"n": "x"}), lambda: fetch_prepared(session, cast, {"n": "x"})):
            with pytest.raises(sa.exc.DBAPIError) as refused:
                async with session.begin():
                    await run()
            raised.append((type(refused.value), refused.value.orig.sqlstate))
        assert raised[0] == raised[1] and raised[1][1] == "22P02"  # the 422 of himaya.errors needs the SQLSTATE


async def test_a_lost_connection_is_reported_as_invalidated(clean, widgets):
    async with AsyncSession(clean) as session:
        with pytest.raises(sa.exc.DBAPIError) as lost:
            async with session.begin():
                await session.execute(sa.text("SELECT 1"))
                await session.execute(sa.text("SELECT pg_terminate_backend(pg_backend_pid())"))
                await fetch_prepared(session, sa.select(widgets.c.id), {})
        assert lost.value.connection_invalidated
