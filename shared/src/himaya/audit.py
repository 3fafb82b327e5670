"""Append-only, hash-chained audit log: who did or read what, when, from where.

Each service has its own `audit_events` table. Rows are spread over a few independent chains so that
concurrent requests do not all queue behind one lock; each chain is a SHA-256 hash chain, appended
under a transaction-scoped advisory lock, so editing or deleting a row breaks the chain at that row.
A transaction appends to one chain only, however often it records: holding two chain locks, taken in
random order, would let two transactions each wait for the other (a deadlock, and a failed request).
Sensitive values are never written here: only field names.
"""

from __future__ import annotations

import functools
import hashlib
import random
import uuid
import zlib
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

import orjson
import sqlalchemy as sa
from sqlalchemy.dialects.postgresql import ARRAY, BYTEA, UUID
from sqlalchemy.ext.asyncio import AsyncConnection, AsyncSession

from himaya.auth import Principal
from himaya.db import execute_many_prepared, fetch_prepared, remember_for_transaction, transaction_memo
from himaya.forwarded import client_address_var
from himaya.logging import request_id_var

CHAINS = 8
GENESIS = b"\x00" * 32


def audit_table(metadata: sa.MetaData) -> sa.Table:
    """The audit table of a service, in the schema of `metadata`."""
    return sa.Table(
        "audit_events", metadata,
        sa.Column("id", sa.BigInteger, sa.Identity(always=True), primary_key=True),
        sa.Column("chain", sa.SmallInteger, nullable=False),
        sa.Column("occurred_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("actor", sa.Text, nullable=False),
        sa.Column("actor_organization_id", UUID(as_uuid=True), nullable=True),
        sa.Column("action", sa.Text, nullable=False),
        sa.Column("object_type", sa.Text, nullable=False),
        sa.Column("object_id", sa.Text, nullable=True),
        sa.Column("case_id", UUID(as_uuid=True), nullable=True),
        sa.Column("fields", ARRAY(sa.Text), nullable=False, server_default="{}"),
        sa.Column("outcome", sa.Text, nullable=False, server_default="success"),
        sa.Column("request_id", sa.Text, nullable=True),
        sa.Column("source_ip", sa.Text, nullable=True),
        sa.Column("prev_hash", BYTEA, nullable=False),
        sa.Column("hash", BYTEA, nullable=False),
        sa.Index("ix_audit_events_case", "case_id", "id"),
        sa.Index("ix_audit_events_actor", "actor", "id"),
        sa.Index("ix_audit_events_chain", "chain", "id"),
        sa.Index("ix_audit_events_time", "occurred_at"),
    )


HASHED_COLUMNS = ("chain", "occurred_at", "actor", "actor_organization_id", "action", "object_type",
                  "object_id", "case_id", "fields", "outcome", "request_id", "source_ip")


def row_hash(prev_hash: bytes, row: dict[str, Any]) -> bytes:
    """SHA-256 over the previous hash and a canonical encoding of the row's content."""
    content = {k: row.get(k) for k in HASHED_COLUMNS}
    occurred = content["occurred_at"]
    if isinstance(occurred, datetime):
        content["occurred_at"] = occurred.astimezone(UTC).isoformat(timespec="microseconds")
    encoded = orjson.dumps(content, default=str, option=orjson.OPT_SORT_KEYS)
    return hashlib.sha256(prev_hash + encoded).digest()


def _lock_key(schema: str) -> int:
    return zlib.crc32(f"{schema}.audit".encode()) & 0x7FFFFFFF


_CHAIN = "himaya.audit.chain"


def _chain(session: AsyncSession | AsyncConnection) -> int:
    """The chain this transaction appends to: a random one on its first record, the same one after."""
    chain = transaction_memo(session, _CHAIN)
    if chain is None:
        chain = random.randrange(CHAINS)  # noqa: S311
        remember_for_transaction(session, _CHAIN, chain)
    return int(chain)


@dataclass(frozen=True)
class AuditEntry:
    """What one audit event says; values of sensitive fields are never part of it."""

    action: str
    object_type: str
    object_id: str | None = None
    case_id: uuid.UUID | None = None
    fields: Sequence[str] = ()
    outcome: str = "success"


async def record(session: AsyncSession | AsyncConnection, table: sa.Table, entry: AuditEntry, *,
                 principal: Principal | None = None, actor: str | None = None, source_ip: str | None = None,
                 organization_id: uuid.UUID | None = None) -> None:
    """Append an event in the caller's transaction (it is kept only if the transaction commits)."""
    await record_many(session, table, [entry], principal=principal, actor=actor, source_ip=source_ip,
                      organization_id=organization_id)


@functools.lru_cache(maxsize=16)
def _statements(table: sa.Table) -> tuple[sa.Select[Any], sa.Select[Any], sa.Insert]:
    """The chain lock, the chain head and the insert of an audit table, built once (run as prepared statements:
    they are most of what reading a case costs beyond its own query)."""
    lock = sa.select(sa.func.pg_advisory_xact_lock(sa.bindparam("key", type_=sa.Integer),
                                                   sa.bindparam("chain", type_=sa.Integer)))
    head = (sa.select(table.c.hash).where(table.c.chain == sa.bindparam("chain", type_=sa.Integer))
            .order_by(table.c.id.desc()).limit(1))
    insert = sa.insert(table).values({c.name: sa.bindparam(c.name, type_=c.type) for c in table.c if c.name != "id"})
    return lock, head, insert


async def record_many(session: AsyncSession | AsyncConnection, table: sa.Table, entries: Sequence[AuditEntry], *,
                      principal: Principal | None = None, actor: str | None = None,
                      source_ip: str | None = None, organization_id: uuid.UUID | None = None) -> None:
    """Append events (e.g. one per case of a listed page) to one chain in three statements: the chain's lock,
    its head read after the lock, and the rows. The source address defaults to the current request's client
    (computed from the trusted proxies by the request middleware), never a proxy's."""
    if not entries:
        return
    chain = _chain(session)
    lock, head, insert = _statements(table)
    await fetch_prepared(session, lock, {"key": _lock_key(table.schema or ""), "chain": chain})
    last = await fetch_prepared(session, head, {"chain": chain})
    prev = bytes(last[0]["hash"]) if last else GENESIS
    now = datetime.now(UTC)
    rows: list[dict[str, Any]] = []
    for entry in entries:
        row: dict[str, Any] = {
            "chain": chain, "occurred_at": now,
            "actor": actor or (principal.actor if principal else "anonymous"),
            "actor_organization_id": organization_id or (principal.organization_id if principal else None),
            "action": entry.action, "object_type": entry.object_type, "object_id": entry.object_id,
            "case_id": entry.case_id, "fields": sorted(entry.fields), "outcome": entry.outcome,
            "request_id": request_id_var.get(), "source_ip": source_ip or client_address_var.get(),
        }
        row["prev_hash"] = prev
        row["hash"] = prev = row_hash(prev, row)
        rows.append(row)
    # Executed for each row in order: identity values follow that order, so the chain order is the insertion order.
    await execute_many_prepared(session, insert, rows)


@dataclass(frozen=True)
class ChainReport:
    """The result of checking every chain of an audit table."""

    valid: bool
    checked: int
    first_broken_id: int | None = None
    chain: int | None = None
    reason: str | None = None


async def verify(session: AsyncSession | AsyncConnection, table: sa.Table, *, batch: int = 5000) -> ChainReport:
    """Recompute every chain; report the first row whose link or content does not match."""
    checked = 0
    for chain in range(CHAINS):
        prev, last_id = GENESIS, 0
        while True:
            rows = (await session.execute(
                sa.select(table).where(table.c.chain == chain, table.c.id > last_id)
                .order_by(table.c.id).limit(batch))).mappings().all()
            if not rows:
                break
            for row in rows:
                checked += 1
                if bytes(row["prev_hash"]) != prev:
                    return ChainReport(False, checked, row["id"], chain, "previous row missing or altered")
                if row_hash(prev, dict(row)) != bytes(row["hash"]):
                    return ChainReport(False, checked, row["id"], chain, "row content altered")
                prev, last_id = bytes(row["hash"]), row["id"]
    return ChainReport(True, checked)


@dataclass(frozen=True)
class ChainState:
    """One chain checked to its end: rows checked, the first broken row if any, and the head it reached.

    Record `head_id`/`head_hash` somewhere else (a ticket, a signed report): a later check whose head no
    longer contains that row shows that the newest rows were deleted, which no hash chain alone can show.
    """

    chain: int
    checked: int
    valid: bool
    first_broken_id: int | None = None
    reason: str | None = None
    head_id: int | None = None
    head_hash: str | None = None


async def verify_chains(session: AsyncSession | AsyncConnection, table: sa.Table, *,
                        batch: int = 5000) -> list[ChainState]:
    """Recompute every chain to its end; report each chain's first broken link and its head."""
    states = []
    for chain in range(CHAINS):
        prev, last_id, checked = GENESIS, 0, 0
        broken: tuple[int, str] | None = None
        while True:
            rows = (await session.execute(
                sa.select(table).where(table.c.chain == chain, table.c.id > last_id)
                .order_by(table.c.id).limit(batch))).mappings().all()
            if not rows:
                break
            for row in rows:
                checked += 1
                if broken is None:
                    if bytes(row["prev_hash"]) != prev:
                        broken = (row["id"], "previous row missing or altered")
                    elif row_hash(prev, dict(row)) != bytes(row["hash"]):
                        broken = (row["id"], "row content altered")
                # Continue from the stored hash: later rows are checked against what they were chained to.
                prev, last_id = bytes(row["hash"]), row["id"]
        states.append(ChainState(chain=chain, checked=checked, valid=broken is None,
                                 first_broken_id=broken[0] if broken else None, reason=broken[1] if broken else None,
                                 head_id=last_id or None, head_hash=prev.hex() if last_id else None))
    return states
