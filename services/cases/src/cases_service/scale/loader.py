"""Bulk load of synthetic cases with COPY, in one transaction (see `generator` for what the data looks like)."""

from __future__ import annotations

import asyncio
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import datetime

import asyncpg

from cases_service.core.protection import Protector
from cases_service.core.reference import ReferenceData
from cases_service.scale import repository as repo
from cases_service.scale.generator import COLUMNS, TABLE_ORDER, Batch, Generator


@dataclass
class LoadReport:
    """What a load wrote and how long each phase took."""

    cases: int
    rows: dict[str, int] = field(default_factory=dict)
    seconds: dict[str, float] = field(default_factory=dict)

    @property
    def total_seconds(self) -> float:
        """Wall time of the whole load."""
        return round(sum(self.seconds.values()), 1)


async def load(*, admin_url: str, cases: int, protector: Protector, reference: ReferenceData,
               batch_size: int = 20_000, seed: int = 9, now: datetime | None = None,
               progress: Callable[[str], None] | None = None) -> LoadReport:
    """Append `cases` synthetic cases to the cases schema at `admin_url` (a superuser URL), atomically.

    On an empty schema the secondary indexes are dropped first and rebuilt at the end (one sort per
    index instead of a million random inserts); the case-facts view is refreshed before the commit.
    """
    say = progress or (lambda _msg: None)
    report = LoadReport(cases=cases)
    conn = await asyncpg.connect(admin_url)
    try:
        async with conn.transaction():
            t0 = time.perf_counter()
            await repo.without_triggers(conn)
            heads = await repo.lock_audit_chains(conn)
            numbers = await repo.case_numbers(conn)
            rebuild = await repo.drop_secondary_indexes(conn, TABLE_ORDER) if await repo.is_empty(conn) else []
            gen = Generator(protector=protector, reference=reference, total_cases=cases, seed=seed, now=now,
                            numbers=numbers, chain_heads=heads)
            report.seconds["prepare"] = time.perf_counter() - t0
            t0 = time.perf_counter()
            # Generate the next batch in a thread while this one is copied: Postgres inserts on the other core.
            pending = asyncio.ensure_future(asyncio.to_thread(gen.batch, batch_size))
            while True:
                batch: Batch = await pending
                if not gen.done():
                    pending = asyncio.ensure_future(asyncio.to_thread(gen.batch, batch_size))
                for table in TABLE_ORDER:
                    rows = batch.rows[table]
                    await repo.copy_rows(conn, table, COLUMNS[table], rows)
                    report.rows[table] = report.rows.get(table, 0) + len(rows)
                say(f"{gen.made:>10,} cases copied ({time.perf_counter() - t0:.0f} s)")
                if gen.done() and pending.done():
                    break
            report.cases = report.rows["cases"]
            report.seconds["generate_and_copy"] = time.perf_counter() - t0
            t0 = time.perf_counter()
            if rebuild:
                say(f"rebuilding {len(rebuild)} indexes")
                await repo.create_indexes(conn, rebuild)
            report.seconds["indexes"] = time.perf_counter() - t0
            t0 = time.perf_counter()
            await repo.save_case_numbers(conn, gen.numbers)
            say("refreshing the statistics view")
            await repo.refresh_statistics(conn)
            report.seconds["stats_refresh"] = time.perf_counter() - t0
            t0 = time.perf_counter()
            await repo.analyze(conn, TABLE_ORDER)
            report.seconds["analyze"] = time.perf_counter() - t0
            t0 = time.perf_counter()
        report.seconds["commit"] = time.perf_counter() - t0
    finally:
        await conn.close()
    report.seconds = {k: round(v, 1) for k, v in report.seconds.items()}
    return report
