"""A failing statement's error, as logged, names the constraint but never a value of the statement."""

import io
import logging
import uuid

import pytest
import sqlalchemy as sa
import structlog

from himaya.db import create_engine, fetch_prepared
from himaya.logging import configure_logging
from himaya.settings import to_asyncpg_url

NAME = "Fatima-Zahra Bennani"
OTHER = "Youssef Amrani"  # module constants: a traceback quotes source lines, never these values


@pytest.fixture
def logged(monkeypatch):
    """What the service's logging writes, captured."""
    stream = io.StringIO()
    monkeypatch.setattr("sys.stderr", stream)
    configure_logging(service="libtest", level="INFO", json=True)
    yield stream
    structlog.reset_defaults()
    logging.getLogger().handlers.clear()


@pytest.fixture
async def scratch(test_database_url):
    engine = create_engine(to_asyncpg_url(test_database_url))
    table = f"hidden_{uuid.uuid4().hex[:8]}"
    async with engine.begin() as conn:
        await conn.execute(sa.text(f"CREATE TABLE libtest_{table} (name text UNIQUE, age int CHECK (age < 18))"))
        await conn.execute(sa.text(f"INSERT INTO libtest_{table} VALUES (:name, 7)"), {"name": NAME})
    yield engine, f"libtest_{table}"
    async with engine.begin() as conn:
        await conn.execute(sa.text(f"DROP TABLE libtest_{table}"))
    await engine.dispose()


class TestHiddenValues:
    async def test_a_unique_violation_logged_does_not_carry_the_name(self, scratch, logged):
        engine, table = scratch
        with pytest.raises(sa.exc.IntegrityError) as caught:
            async with engine.begin() as conn:
                await conn.execute(sa.text(f"INSERT INTO {table} VALUES (:name, 8)"), {"name": NAME})
        structlog.get_logger("test").error("failed", exc_info=caught.value)
        text = logged.getvalue()
        assert f"{table}_name_key" in text  # the constraint is still named: the error stays useful
        assert "parameters hidden" in text
        assert NAME not in text and "Bennani" not in text

    async def test_a_failing_row_logged_does_not_carry_its_values(self, scratch, logged):
        engine, table = scratch
        with pytest.raises(sa.exc.IntegrityError) as caught:
            async with engine.begin() as conn:
                await conn.execute(sa.text(f"INSERT INTO {table} VALUES (:name, 40)"), {"name": OTHER})
        structlog.get_logger("test").error("failed", exc_info=caught.value)
        text = logged.getvalue()
        assert f"{table}_age_check" in text
        assert "Youssef" not in text and "Amrani" not in text

    async def test_the_prepared_statement_path_hides_them_too(self, scratch, logged):
        engine, table = scratch
        meta = sa.MetaData()
        t = sa.Table(table, meta, sa.Column("name", sa.Text), sa.Column("age", sa.Integer))
        stmt = sa.insert(t).values(name=sa.bindparam("name"), age=sa.bindparam("age")).returning(t.c.name)
        with pytest.raises(sa.exc.IntegrityError) as caught:
            async with engine.begin() as conn:
                await fetch_prepared(conn, stmt, {"name": NAME, "age": 9})
        structlog.get_logger("test").error("failed", exc_info=caught.value)
        text = logged.getvalue()
        assert f"{table}_name_key" in text
        assert NAME not in text and "Bennani" not in text
