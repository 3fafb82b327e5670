"""`python -m <service>.verify_audit`: check a service's audit hash chains and signed checkpoints.

Every service's log is verifiable this way (cases also answers `GET /v1/audit/verify`); the command prints
one JSON report and exits 1 when a chain or the checkpoints are broken, so it can run from cron or a
monitoring job. When everything verifies it signs and stores a new checkpoint of the heads (it needs the
service's `<SERVICE>_AUDIT_SIGNING_KEY`) and prints it as `latest_checkpoint`: keep that line outside the
database host, and compare it with the next report.
"""

from __future__ import annotations

import asyncio
import dataclasses
import sys
from dataclasses import asdict
from datetime import UTC, datetime
from typing import Any

import orjson
import sqlalchemy as sa
from sqlalchemy.ext.asyncio import AsyncConnection, AsyncEngine, AsyncSession

from himaya.audit import (
    AuditLogTampered,
    AuditSigner,
    log_checkpoint,
    signer_from_settings,
    verify_chains,
    verify_checkpoints,
    write_checkpoint,
)
from himaya.db import create_engine
from himaya.logging import configure_logging
from himaya.settings import ServiceSettings, to_asyncpg_url


async def verify_log(conn: AsyncSession | AsyncConnection, events: sa.Table, checkpoints: sa.Table,
                     signer: AuditSigner, *, service: str, checkpoint: bool) -> dict[str, Any]:
    """Verify every chain and the checkpoints; when all is valid and `checkpoint`, sign the current heads (in
    the caller's transaction). The JSON-ready report."""
    states = await verify_chains(conn, events)
    cps = await verify_checkpoints(conn, events, checkpoints, signer)
    broken = [s.first_broken_id for s in states if s.first_broken_id is not None]
    valid = not broken and cps.valid
    latest = cps.latest
    if valid and checkpoint:
        try:
            latest = await write_checkpoint(conn, events, checkpoints, signer)
            log_checkpoint(latest, signer)
        except AuditLogTampered as exc:  # rows removed between the check and the signature
            valid, cps = False, dataclasses.replace(cps, valid=False, reason=str(exc))
    return {"service": service, "valid": valid, "checked": sum(s.checked for s in states),
            "first_broken_id": min(broken) if broken else None, "chains": [asdict(s) for s in states],
            "checkpoints": {"valid": cps.valid, "checked": cps.checked, "reason": cps.reason,
                            "number": cps.number},
            "latest_checkpoint": latest.published(signer) if latest else None,
            "verified_at": datetime.now(UTC).isoformat()}


async def verify_report(engine: AsyncEngine, events: sa.Table, checkpoints: sa.Table, signer: AuditSigner, *,
                        service: str) -> dict[str, Any]:
    """Verify the log of `service` in one transaction, checkpointing the heads when it is intact."""
    async with engine.begin() as conn:
        return await verify_log(conn, events, checkpoints, signer, service=service, checkpoint=True)


def main(*, service: str, settings: ServiceSettings, database_url: str, events: sa.Table,
         checkpoints: sa.Table) -> None:
    """Print the report of one service's log; exit status 1 if any chain or checkpoint is broken."""
    configure_logging(service=service, level=settings.log_level, json=settings.log_json)  # lines on stderr
    signer = signer_from_settings(service, settings)

    async def run() -> dict[str, Any]:
        engine = create_engine(to_asyncpg_url(database_url))
        try:
            return await verify_report(engine, events, checkpoints, signer, service=service)
        finally:
            await engine.dispose()

    report = asyncio.run(run())
    sys.stdout.write(orjson.dumps(report, option=orjson.OPT_INDENT_2).decode() + "\n")
    sys.exit(0 if report["valid"] else 1)
