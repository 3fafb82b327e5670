"""The purge of a service's technical stores: expired idempotency answers, delivered outbox events, processed
event ids (decision 0104).

Each service runs a `Purger` in its lifespan. A run deletes, table by table, rows older than the table's
retention, in bounded batches (`DELETE … WHERE pk IN (SELECT … LIMIT n FOR UPDATE SKIP LOCKED)`), so several
replicas purging at once never wait on each other or on a request, and no statement holds many locks.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta

import sqlalchemy as sa
import structlog
from sqlalchemy.ext.asyncio import AsyncEngine

from himaya.outbox import DELIVERED
from himaya.periodic import Periodic

log = structlog.get_logger(__name__)


@dataclass(frozen=True)
class PurgeRule:
    """Rows of `table` whose `age_column` is older than `keep` (and that match `where`) are deleted."""

    table: sa.Table
    age_column: str
    keep: timedelta
    where: sa.ColumnElement[bool] | None = None

    @property
    def name(self) -> str:
        """schema.table, for logs."""
        return f"{self.table.schema}.{self.table.name}"


def idempotency_rule(table: sa.Table, keep: timedelta) -> PurgeRule:
    """Stored answers past their replay period."""
    return PurgeRule(table, "created_at", keep)


def delivered_outbox_rule(table: sa.Table, keep: timedelta) -> PurgeRule:
    """Outbox events delivered more than `keep` ago (pending and dead events stay)."""
    return PurgeRule(table, "delivered_at", keep, table.c.status == DELIVERED)


class Purger:
    """Deletes expired rows of a service's technical tables, now (`run_once`) or on a schedule (`start`)."""

    def __init__(self, engine: AsyncEngine, rules: Sequence[PurgeRule], *, interval_seconds: float,
                 batch_size: int = 1000, max_batches: int = 100) -> None:
        self.engine = engine
        self.rules = list(rules)
        self.interval_seconds = interval_seconds
        self.batch_size = batch_size
        self.max_batches = max_batches
        self._schedule = Periodic("retention_purge", self.run_once, interval_seconds=interval_seconds)

    async def purge(self, rule: PurgeRule, *, now: datetime | None = None) -> int:
        """Delete the rule's expired rows, at most `max_batches` batches; returns how many were deleted."""
        t = rule.table
        key = list(t.primary_key.columns)
        cutoff = (now or datetime.now(UTC)) - rule.keep
        expired = sa.select(*key).where(t.c[rule.age_column] < cutoff)
        if rule.where is not None:
            expired = expired.where(rule.where)
        expired = expired.limit(self.batch_size).with_for_update(skip_locked=True)
        target = key[0] if len(key) == 1 else sa.tuple_(*key)
        total = 0
        for _ in range(self.max_batches):
            async with self.engine.begin() as conn:
                deleted = int((await conn.execute(sa.delete(t).where(target.in_(expired)))).rowcount or 0)
            total += deleted
            if deleted < self.batch_size:
                break
        return total

    async def run_once(self, *, now: datetime | None = None) -> dict[str, int]:
        """Purge every table once; returns the rows deleted per table."""
        counts = {rule.name: await self.purge(rule, now=now) for rule in self.rules}
        if any(counts.values()):
            log.info("retention_purged", **{name.replace(".", "_"): n for name, n in counts.items()})
        return counts

    def start(self) -> None:
        """Purge on a schedule in the background (called by the app's lifespan)."""
        if self.rules:
            self._schedule.start()

    async def stop(self) -> None:
        """Stop the schedule (a run in progress is cancelled; its current batch rolls back)."""
        await self._schedule.stop()
