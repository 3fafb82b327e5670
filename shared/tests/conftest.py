"""Fixtures of the shared library's tests: a scratch schema holding the library's generic tables."""

from collections.abc import AsyncIterator

import pytest
import sqlalchemy as sa
from sqlalchemy.ext.asyncio import AsyncEngine, create_async_engine

from himaya.audit import audit_table, checkpoint_table
from himaya.idempotency import idempotency_table
from himaya.outbox import outbox_table
from himaya.settings import to_asyncpg_url

metadata = sa.MetaData(schema="libtest")
audit = audit_table(metadata)
checkpoints = checkpoint_table(metadata)
outbox = outbox_table(metadata)
idempotency = idempotency_table(metadata)
widgets = sa.Table("widgets", metadata, sa.Column("id", sa.Integer, primary_key=True),
                   sa.Column("name", sa.Text, nullable=False))


@pytest.fixture(scope="session")
def tables() -> sa.MetaData:
    """The scratch tables, by name: audit_events, audit_checkpoints, outbox_events, idempotency_keys, widgets."""
    return metadata


@pytest.fixture(scope="session")
async def engine(test_database_url: str) -> AsyncIterator[AsyncEngine]:
    """An engine on the session database with the library's tables in schema `libtest`.

    The library's tables are generic (services create theirs by migration); here they are created
    directly because there is no service to migrate.
    """
    eng = create_async_engine(to_asyncpg_url(test_database_url), pool_size=10, max_overflow=60)
    async with eng.begin() as conn:
        await conn.execute(sa.text("CREATE SCHEMA IF NOT EXISTS libtest"))
        await conn.run_sync(metadata.create_all)
    yield eng
    await eng.dispose()


@pytest.fixture
async def clean(engine: AsyncEngine) -> AsyncIterator[AsyncEngine]:
    """The engine, with the scratch tables emptied before the test."""
    async with engine.begin() as conn:
        for table in (audit, checkpoints, outbox, idempotency, widgets):
            await conn.execute(sa.text(f"TRUNCATE libtest.{table.name}"))
    yield engine
