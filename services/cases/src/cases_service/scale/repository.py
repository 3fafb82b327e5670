"""SQL of the bulk loader: COPY into the cases schema, sequences, the audit chains' heads, the stats refresh."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import asyncpg

from cases_service.core.tables import SCHEMA
from himaya.audit import CHAINS, GENESIS, audit_lock_key


async def case_numbers(conn: asyncpg.Connection) -> dict[tuple[str, int], int]:
    """The last case number handed out per prefecture and year."""
    rows = await conn.fetch("SELECT prefecture_code, year, last_value FROM cases.case_number_sequences")
    return {(r["prefecture_code"], r["year"]): r["last_value"] for r in rows}


async def lock_audit_chains(conn: asyncpg.Connection) -> dict[int, bytes]:
    """Hold every audit chain's lock for this transaction; return each chain's last hash."""
    heads: dict[int, bytes] = {}
    for chain in range(CHAINS):
        await conn.execute("SELECT pg_advisory_xact_lock($1, $2)", audit_lock_key(SCHEMA), chain)
        last = await conn.fetchval(
            "SELECT hash FROM cases.audit_events WHERE chain = $1 ORDER BY id DESC LIMIT 1", chain)
        heads[chain] = bytes(last) if last is not None else GENESIS
    return heads


async def without_triggers(conn: asyncpg.Connection) -> None:
    """Skip foreign-key and statement triggers for this transaction (the loader writes consistent rows
    parents first, as pg_restore --disable-triggers does; the statistics are refreshed at the end)."""
    await conn.execute("SET LOCAL session_replication_role = replica")


async def is_empty(conn: asyncpg.Connection) -> bool:
    """Whether the schema holds no case yet."""
    return not await conn.fetchval("SELECT EXISTS (SELECT 1 FROM cases.cases)")


async def drop_secondary_indexes(conn: asyncpg.Connection, tables: Sequence[str]) -> list[str]:
    """Drop the indexes that back no constraint on `tables`; return their definitions to rebuild them."""
    rows = await conn.fetch(
        """SELECT i.indexname, i.indexdef FROM pg_indexes i
            WHERE i.schemaname = $1 AND i.tablename = ANY($2::text[])
              AND NOT EXISTS (SELECT 1 FROM pg_constraint c WHERE c.conname = i.indexname
                                AND c.connamespace = $1::regnamespace)""", SCHEMA, list(tables))
    for row in rows:
        await conn.execute(f'DROP INDEX {SCHEMA}."{row["indexname"]}"')
    return [row["indexdef"] for row in rows]


async def create_indexes(conn: asyncpg.Connection, definitions: Sequence[str]) -> None:
    """Rebuild indexes from their definitions."""
    await conn.execute("SET LOCAL maintenance_work_mem = '256MB'")
    for definition in definitions:
        await conn.execute(definition)


async def copy_rows(conn: asyncpg.Connection, table: str, columns: Sequence[str],
                    rows: Sequence[tuple[Any, ...]]) -> None:
    """COPY rows into one table of the schema."""
    if rows:
        await conn.copy_records_to_table(table, schema_name=SCHEMA, columns=list(columns), records=rows)


async def save_case_numbers(conn: asyncpg.Connection, numbers: dict[tuple[str, int], int]) -> None:
    """Move each prefecture's and year's counter past the numbers the load used."""
    await conn.executemany(
        """INSERT INTO cases.case_number_sequences (prefecture_code, year, last_value) VALUES ($1, $2, $3)
            ON CONFLICT (prefecture_code, year)
            DO UPDATE SET last_value = GREATEST(cases.case_number_sequences.last_value, EXCLUDED.last_value)""",
        [(p, y, v) for (p, y), v in numbers.items()])


async def refresh_statistics(conn: asyncpg.Connection) -> None:
    """Bring the statistics up to date after a load with triggers off (decisions 0060 and 0061).

    With the incremental facts (0061) that is `stats_rebuild()`; with the materialised view (0060) a change
    mark and a plain refresh (faster than CONCURRENTLY on a bulk load)."""
    if await conn.fetchval("SELECT to_regprocedure('cases.stats_rebuild()') IS NOT NULL"):
        await conn.execute("SELECT cases.stats_rebuild()")
        return
    await conn.execute(f"SELECT nextval('{SCHEMA}.stats_changes')")
    await conn.execute("SELECT pg_advisory_xact_lock(hashtext('cases.stats_refresh'))")
    await conn.execute(f"REFRESH MATERIALIZED VIEW {SCHEMA}.stats_facts_meta")
    await conn.execute(f"REFRESH MATERIALIZED VIEW {SCHEMA}.stats_case_facts")


async def analyze(conn: asyncpg.Connection, tables: Sequence[str]) -> None:
    """Update the planner's statistics of the loaded tables."""
    for table in tables:
        await conn.execute(f"ANALYZE {SCHEMA}.{table}")


async def counts(conn: asyncpg.Connection, tables: Sequence[str]) -> dict[str, int]:
    """Row counts of `tables`."""
    return {t: int(await conn.fetchval(f"SELECT count(*) FROM {SCHEMA}.{t}")) for t in tables}  # noqa: S608
