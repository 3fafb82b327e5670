"""Transactional outbox: events written with the change that caused them, delivered by a dispatcher.

Rows are claimed with FOR UPDATE SKIP LOCKED so several replicas cooperate; the dispatcher is woken by
LISTEN/NOTIFY (and polls as a fallback); failures back off exponentially and end in a `dead` state that
administrators can see and replay.
"""

from __future__ import annotations

import asyncio
import contextlib
import random
import uuid
from collections.abc import Awaitable, Callable, Mapping
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any

import asyncpg
import sqlalchemy as sa
import structlog
from sqlalchemy.dialects.postgresql import JSONB, UUID
from sqlalchemy.ext.asyncio import AsyncEngine, AsyncSession

log = structlog.get_logger(__name__)

PENDING, DELIVERED, DEAD = "pending", "delivered", "dead"


def outbox_table(metadata: sa.MetaData) -> sa.Table:
    """The outbox table of a service, in the schema of `metadata`."""
    return sa.Table(
        "outbox_events", metadata,
        sa.Column("id", UUID(as_uuid=True), primary_key=True),
        sa.Column("event_type", sa.Text, nullable=False),
        sa.Column("destination", sa.Text, nullable=False),
        sa.Column("aggregate_id", UUID(as_uuid=True), nullable=True),
        sa.Column("payload", JSONB, nullable=False),
        sa.Column("status", sa.Text, nullable=False, server_default=PENDING),
        sa.Column("attempts", sa.Integer, nullable=False, server_default="0"),
        sa.Column("next_attempt_at", sa.DateTime(timezone=True), nullable=False, server_default=sa.func.now()),
        sa.Column("last_error", sa.Text, nullable=True),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False, server_default=sa.func.now()),
        sa.Column("delivered_at", sa.DateTime(timezone=True), nullable=True),
        sa.Index("ix_outbox_events_due", "next_attempt_at", postgresql_where=sa.text("status = 'pending'")),
        # The retention purge deletes delivered events by age (himaya.retention).
        sa.Index("ix_outbox_events_delivered", "delivered_at", postgresql_where=sa.text("status = 'delivered'")),
    )


def notify_channel(schema: str) -> str:
    """The LISTEN/NOTIFY channel of a schema's outbox."""
    return f"{schema}_outbox"


async def enqueue(session: AsyncSession, table: sa.Table, *, event_type: str, destination: str,
                  payload: Mapping[str, Any], aggregate_id: uuid.UUID | None = None,
                  event_id: uuid.UUID | None = None) -> uuid.UUID:
    """Write an event in the caller's transaction; the dispatcher is notified when it commits."""
    eid = event_id or uuid.uuid4()
    await session.execute(sa.insert(table).values(
        id=eid, event_type=event_type, destination=destination, payload=dict(payload),
        aggregate_id=aggregate_id))
    await session.execute(sa.select(sa.func.pg_notify(notify_channel(table.schema or "public"), "")))
    return eid


@dataclass(frozen=True)
class OutboxEvent:
    """A claimed event handed to a delivery handler."""

    id: uuid.UUID
    event_type: str
    destination: str
    aggregate_id: uuid.UUID | None
    payload: dict[str, Any]
    attempts: int
    created_at: datetime


Handler = Callable[[OutboxEvent], Awaitable[None]]


class PermanentDeliveryError(Exception):
    """The receiver refused the event for good (e.g. 4xx other than 408/429): dead-letter at once."""


class OutboxDispatcher:
    """Delivers pending events of one service's outbox to the handler of their destination prefix."""

    def __init__(self, engine: AsyncEngine, table: sa.Table, handlers: Mapping[str, Handler], *,
                 listen_dsn: str | None = None, batch_size: int = 20, max_attempts: int = 12,
                 base_backoff: float = 1.0, max_backoff: float = 600.0, poll_interval: float = 2.0) -> None:
        self.engine = engine
        self.table = table
        self.handlers = dict(handlers)
        self.listen_dsn = listen_dsn
        self.batch_size = batch_size
        self.max_attempts = max_attempts
        self.base_backoff = base_backoff
        self.max_backoff = max_backoff
        self.poll_interval = poll_interval
        self._wake = asyncio.Event()
        self._task: asyncio.Task[None] | None = None
        self._stopping = False

    def _handler_for(self, destination: str) -> Handler | None:
        prefix = destination.split(":", 1)[0]
        return self.handlers.get(prefix)

    def backoff_seconds(self, attempts: int) -> float:
        """Exponential backoff with jitter after `attempts` failed deliveries."""
        delay: float = min(self.max_backoff, self.base_backoff * (2 ** max(0, attempts - 1)))
        return delay * random.uniform(0.5, 1.0)  # noqa: S311

    def claim_query(self) -> sa.Select[Any]:
        """The due rows to claim now; a subclass may narrow it (e.g. one event per aggregate at a time)."""
        t = self.table
        return (sa.select(t).where(t.c.status == PENDING, t.c.next_attempt_at <= sa.func.now())
                .order_by(t.c.next_attempt_at, t.c.created_at).limit(self.batch_size)
                .with_for_update(skip_locked=True))

    async def run_once(self) -> int:
        """Claim and deliver one batch of due events; returns how many were attempted."""
        async with self.engine.begin() as conn:
            rows = (await conn.execute(self.claim_query())).mappings().all()
            for row in rows:
                event = OutboxEvent(id=row["id"], event_type=row["event_type"], destination=row["destination"],
                                    aggregate_id=row["aggregate_id"], payload=row["payload"],
                                    attempts=row["attempts"], created_at=row["created_at"])
                await self._deliver(conn, event)
        return len(rows)

    async def _deliver(self, conn: Any, event: OutboxEvent) -> None:
        t = self.table
        handler = self._handler_for(event.destination)
        attempts = event.attempts + 1
        error: str | None = None
        permanent = False
        if handler is None:
            error, permanent = f"no handler for destination {event.destination!r}", True
        else:
            try:
                await handler(event)
            except PermanentDeliveryError as exc:
                error, permanent = str(exc)[:1000] or "refused", True
            except Exception as exc:  # every other failure is retried with backoff
                error = f"{type(exc).__name__}: {exc}"[:1000]
        now = datetime.now(UTC)
        if error is None:
            values: dict[str, Any] = {"status": DELIVERED, "attempts": attempts, "delivered_at": now,
                                      "last_error": None}
        elif permanent or attempts >= self.max_attempts:
            values = {"status": DEAD, "attempts": attempts, "last_error": error}
            log.warning("outbox_dead_letter", event_id=str(event.id), destination=event.destination, error=error)
        else:
            values = {"attempts": attempts, "last_error": error,
                      "next_attempt_at": now + timedelta(seconds=self.backoff_seconds(attempts))}
        await conn.execute(sa.update(t).where(t.c.id == event.id).values(**values))

    async def _listen(self) -> asyncpg.Connection | None:
        if not self.listen_dsn:
            return None
        try:
            conn = await asyncpg.connect(self.listen_dsn.replace("postgresql+asyncpg://", "postgresql://"))
            await conn.add_listener(notify_channel(self.table.schema or "public"),
                                    lambda *_: self._wake.set())
            return conn
        except Exception as exc:
            log.warning("outbox_listen_failed", error=type(exc).__name__)
            return None

    async def _loop(self) -> None:
        listener = await self._listen()
        try:
            while not self._stopping:
                try:
                    while await self.run_once() >= self.batch_size and not self._stopping:
                        pass
                except Exception as exc:  # database down: keep going, it will come back
                    log.warning("outbox_dispatch_failed", error=f"{type(exc).__name__}: {exc}"[:300])
                    if listener is not None and listener.is_closed():
                        listener = None
                if listener is None:
                    listener = await self._listen()
                self._wake.clear()
                with contextlib.suppress(TimeoutError):
                    await asyncio.wait_for(self._wake.wait(), timeout=self.poll_interval)
        finally:
            if listener is not None and not listener.is_closed():
                await listener.close()

    def wake(self) -> None:
        """Ask the dispatcher to look for due events now."""
        self._wake.set()

    def start(self) -> None:
        """Start delivering in the background (called by the app's lifespan)."""
        self._stopping = False
        self._task = asyncio.create_task(self._loop(), name=f"outbox-{self.table.schema}")

    async def stop(self) -> None:
        """Stop after the batch in progress."""
        self._stopping = True
        self._wake.set()
        if self._task is not None:
            try:
                await asyncio.wait_for(self._task, timeout=10)
            except TimeoutError:
                self._task.cancel()
            self._task = None

    async def replay(self, event_id: uuid.UUID) -> bool:
        """Put a dead event back in the queue; returns False if it was not dead."""
        t = self.table
        async with self.engine.begin() as conn:
            result = await conn.execute(sa.update(t).where(t.c.id == event_id, t.c.status == DEAD).values(
                status=PENDING, attempts=0, next_attempt_at=sa.func.now(), last_error=None))
        self.wake()
        return bool(result.rowcount)
