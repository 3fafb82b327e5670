"""`python -m <service>.verify_audit`: check a service's audit hash chains from the command line.

Every service's log is verifiable this way (cases also answers `GET /v1/audit/verify`); the command prints
one JSON report and exits 1 when a chain is broken, so it can run from cron or a monitoring job.
"""

from __future__ import annotations

import asyncio
import sys
from dataclasses import asdict
from datetime import UTC, datetime
from typing import Any

import orjson
import sqlalchemy as sa
from sqlalchemy.ext.asyncio import AsyncEngine

from himaya.audit import verify_chains
from himaya.db import create_engine
from himaya.settings import to_asyncpg_url


async def verify_report(engine: AsyncEngine, table: sa.Table, *, service: str) -> dict[str, Any]:
    """The verification of every chain of `table` as a JSON-ready report."""
    async with engine.connect() as conn:
        states = await verify_chains(conn, table)
    broken = [s.first_broken_id for s in states if s.first_broken_id is not None]
    return {"service": service, "valid": not broken, "checked": sum(s.checked for s in states),
            "first_broken_id": min(broken) if broken else None, "chains": [asdict(s) for s in states],
            "verified_at": datetime.now(UTC).isoformat()}


def main(*, service: str, database_url: str, table: sa.Table) -> None:
    """Print the report of one service's log; exit status 1 if any chain is broken."""
    async def run() -> dict[str, Any]:
        engine = create_engine(to_asyncpg_url(database_url))
        try:
            return await verify_report(engine, table, service=service)
        finally:
            await engine.dispose()

    report = asyncio.run(run())
    sys.stdout.write(orjson.dumps(report, option=orjson.OPT_INDENT_2).decode() + "\n")
    sys.exit(0 if report["valid"] else 1)
