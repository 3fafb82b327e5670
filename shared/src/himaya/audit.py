"""Append-only, hash-chained audit log: who did or read what, when, from where.

Each service has its own `audit_events` table. Rows are spread over a few independent chains so that
concurrent requests do not all queue behind one lock; each chain is a SHA-256 hash chain, appended
under a transaction-scoped advisory lock, so editing or deleting a row breaks the chain at that row.
A transaction appends to one chain only, however often it records: holding two chain locks, taken in
random order, would let two transactions each wait for the other (a deadlock, and a failed request).
Sensitive values are never written here: only field names.

A hash chain cannot show that its newest rows, or all of it, were deleted. So the service signs checkpoints of
every chain's head (chain, head row id, head hash, time) with an Ed25519 key that lives only in its settings,
never in the database: `audit_checkpoints` rows are numbered from 1 and themselves hash-chained. Verification
checks the checkpoints' chain and signatures and that each head the latest checkpoint names is still there
with that hash; the latest checkpoint is published (the verify answer, a log line) so that someone outside
the database can see when checkpoints themselves were removed.
"""

from __future__ import annotations

import base64
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
import structlog
from cryptography.exceptions import InvalidSignature
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey, Ed25519PublicKey
from cryptography.hazmat.primitives.serialization import Encoding, PublicFormat
from sqlalchemy.dialects.postgresql import ARRAY, BYTEA, JSONB, UUID
from sqlalchemy.ext.asyncio import AsyncConnection, AsyncEngine, AsyncSession

from himaya.auth import Principal
from himaya.crypto import derive_key
from himaya.db import execute_many_prepared, fetch_prepared, remember_for_transaction, transaction_memo
from himaya.forwarded import client_address_var
from himaya.logging import request_id_var
from himaya.periodic import Periodic
from himaya.settings import Environment, ServiceSettings, is_placeholder

CHAINS = 8
GENESIS = b"\x00" * 32
log = structlog.get_logger(__name__)


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
        sa.CheckConstraint(f"chain >= 0 AND chain < {CHAINS}", name="ck_audit_events_chain"),
    )


def checkpoint_table(metadata: sa.MetaData) -> sa.Table:
    """The signed checkpoints of a service's audit chains' heads, numbered from 1 and chained by hash."""
    return sa.Table(
        "audit_checkpoints", metadata,
        sa.Column("number", sa.BigInteger, primary_key=True, autoincrement=False),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("heads", JSONB, nullable=False),
        sa.Column("prev_hash", BYTEA, nullable=False),
        sa.Column("hash", BYTEA, nullable=False),
        sa.Column("key_id", sa.Text, nullable=False),
        sa.Column("signature", BYTEA, nullable=False),
        sa.CheckConstraint("number >= 1", name="ck_audit_checkpoints_number"),
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


def audit_lock_key(schema: str) -> int:
    """The advisory lock key serialising appends to a schema's audit chains (bulk loaders take it too)."""
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
    await fetch_prepared(session, lock, {"key": audit_lock_key(table.schema or ""), "chain": chain})
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


# ---- signed checkpoints of the chains' heads ---------------------------------------------------------------

DEV_SIGNING_SECRET = "himaya-local-development-audit-signing-key"
"""The key of local development and tests only (production refuses to start without its own)."""


@dataclass(frozen=True)
class AuditSigner:
    """The service's checkpoint signing key (Ed25519, derived from a configured secret with HKDF-SHA256)."""

    service: str
    private_key: Ed25519PrivateKey

    @classmethod
    def from_secret(cls, service: str, secret: str) -> AuditSigner:
        """The key of `service` from its `<SERVICE>_AUDIT_SIGNING_KEY` secret."""
        seed = derive_key(secret, info=b"himaya-audit-checkpoint-v1:" + service.encode())
        return cls(service=service, private_key=Ed25519PrivateKey.from_private_bytes(seed))

    @functools.cached_property
    def public_key(self) -> Ed25519PublicKey:
        """The verifying key."""
        return self.private_key.public_key()

    @functools.cached_property
    def public_key_b64(self) -> str:
        """The raw 32-byte public key, base64url without padding (as in a JWK's `x`)."""
        raw = self.public_key.public_bytes(Encoding.Raw, PublicFormat.Raw)
        return base64.urlsafe_b64encode(raw).rstrip(b"=").decode()

    @functools.cached_property
    def key_id(self) -> str:
        """A short fingerprint of the public key."""
        return hashlib.sha256(self.public_key.public_bytes(Encoding.Raw, PublicFormat.Raw)).hexdigest()[:16]


def signer_from_settings(service: str, settings: ServiceSettings) -> AuditSigner:
    """The service's signer from `<SERVICE>_AUDIT_SIGNING_KEY`; only local and test may use the development key
    (elsewhere a service refuses to start, and the verify command to run, without a real key). Not a required
    secret of the settings: the migration and seed jobs read the same settings and sign nothing."""
    secret = settings.audit_signing_key.get_secret_value() if settings.audit_signing_key else ""
    if settings.environment in (Environment.LOCAL, Environment.TEST):
        return AuditSigner.from_secret(service, secret or DEV_SIGNING_SECRET)
    if not secret or is_placeholder(secret):
        raise RuntimeError(f"{service.upper()}_AUDIT_SIGNING_KEY is required outside local development "
                           "(and must not be a placeholder)")
    return AuditSigner.from_secret(service, secret)


@dataclass(frozen=True)
class Checkpoint:
    """One signed checkpoint: for each chain its head row id and hash (none for an empty chain)."""

    number: int
    created_at: datetime
    heads: list[dict[str, Any]]
    prev_hash: str
    hash: str
    key_id: str
    signature: str

    def published(self, signer: AuditSigner) -> dict[str, Any]:
        """What the verify answer and the log line show, with the public key to check the signature."""
        return {"number": self.number,
                "created_at": self.created_at.astimezone(UTC).isoformat(timespec="microseconds"), "heads": self.heads,
                "prev_hash": self.prev_hash, "hash": self.hash, "key_id": self.key_id,
                "signature": self.signature, "public_key": signer.public_key_b64}


def checkpoint_payload(service: str, number: int, created_at: datetime, heads: list[dict[str, Any]],
                       prev_hash: bytes) -> bytes:
    """The signed bytes: sorted-key JSON of service, number, created_at (UTC ISO, microseconds), heads and
    prev_hash (hex); the checkpoint's hash is their SHA-256."""
    return orjson.dumps({"service": service, "number": number,
                         "created_at": created_at.astimezone(UTC).isoformat(timespec="microseconds"),
                         "heads": heads, "prev_hash": prev_hash.hex()}, option=orjson.OPT_SORT_KEYS)


def _checkpoint_from_row(row: Any) -> Checkpoint:
    return Checkpoint(number=row["number"], created_at=row["created_at"], heads=list(row["heads"]),
                      prev_hash=bytes(row["prev_hash"]).hex(), hash=bytes(row["hash"]).hex(), key_id=row["key_id"],
                      signature=base64.urlsafe_b64encode(bytes(row["signature"])).rstrip(b"=").decode())


async def chain_heads(session: AsyncSession | AsyncConnection, table: sa.Table) -> list[dict[str, Any]]:
    """Each non-empty chain's newest row: chain, id and hash (hex)."""
    heads = []
    for chain in range(CHAINS):
        row = (await session.execute(sa.select(table.c.id, table.c.hash).where(table.c.chain == chain)
                                     .order_by(table.c.id.desc()).limit(1))).first()
        if row is not None:
            heads.append({"chain": chain, "id": row.id, "hash": bytes(row.hash).hex()})
    return heads


async def latest_checkpoint(session: AsyncSession | AsyncConnection, checkpoints: sa.Table) -> Checkpoint | None:
    """The checkpoint with the highest number, if any."""
    row = (await session.execute(sa.select(checkpoints).order_by(checkpoints.c.number.desc()).limit(1))
           ).mappings().first()
    return _checkpoint_from_row(row) if row is not None else None


class AuditLogTampered(Exception):
    """The log no longer extends the latest checkpoint: a checkpointed head is gone or a later row is broken."""


async def _check_extends(session: AsyncSession | AsyncConnection, events: sa.Table, last: Checkpoint | None,
                         *, batch: int = 5000) -> None:
    """Verify the rows appended since `last` (each chain from its checkpointed head; the whole log before the
    first checkpoint), so that a checkpoint never signs a log from which checkpointed rows were removed or
    whose rows are broken."""
    number = last.number if last else 0
    chains = {h["chain"]: h for h in last.heads} if last else {}
    for chain in range(CHAINS):
        head = chains.get(chain)
        prev, last_id = (bytes.fromhex(head["hash"]), int(head["id"])) if head else (GENESIS, 0)
        if head is not None:
            stored = (await session.execute(sa.select(events.c.hash).where(
                events.c.id == last_id, events.c.chain == chain))).scalar()
            if stored is None or bytes(stored) != prev:
                raise AuditLogTampered(f"row {last_id}, head of chain {chain} at checkpoint {number}, "
                                       "is missing or altered")
        while True:
            rows = (await session.execute(sa.select(events).where(events.c.chain == chain, events.c.id > last_id)
                                          .order_by(events.c.id).limit(batch))).mappings().all()
            if not rows:
                break
            for row in rows:
                if bytes(row["prev_hash"]) != prev or row_hash(prev, dict(row)) != bytes(row["hash"]):
                    raise AuditLogTampered(f"row {row['id']} of chain {chain} does not extend checkpoint "
                                           f"{number}")
                prev, last_id = bytes(row["hash"]), row["id"]


async def write_checkpoint(session: AsyncSession | AsyncConnection, events: sa.Table, checkpoints: sa.Table,
                           signer: AuditSigner) -> Checkpoint:
    """Sign and store the current heads of every chain (in the caller's transaction), after checking that the
    log still holds the latest checkpoint's heads and that every row since extends them (`AuditLogTampered`
    otherwise); when no chain moved since the latest checkpoint, that one is returned instead of a copy."""
    await session.execute(sa.select(sa.func.pg_advisory_xact_lock(audit_lock_key((checkpoints.schema or "") + ".cp"))))
    last = await latest_checkpoint(session, checkpoints)
    await _check_extends(session, events, last)
    heads = await chain_heads(session, events)
    if last is not None and last.heads == heads:
        return last
    number = last.number + 1 if last else 1
    prev = bytes.fromhex(last.hash) if last else GENESIS
    created = datetime.now(UTC)
    payload = checkpoint_payload(signer.service, number, created, heads, prev)
    digest = hashlib.sha256(payload).digest()
    signature = signer.private_key.sign(payload)
    await session.execute(sa.insert(checkpoints).values(
        number=number, created_at=created, heads=heads, prev_hash=prev, hash=digest, key_id=signer.key_id,
        signature=signature))
    checkpoint = Checkpoint(number=number, created_at=created, heads=heads, prev_hash=prev.hex(), hash=digest.hex(),
                            key_id=signer.key_id,
                            signature=base64.urlsafe_b64encode(signature).rstrip(b"=").decode())
    return checkpoint


def log_checkpoint(checkpoint: Checkpoint, signer: AuditSigner) -> None:
    """Publish a checkpoint on the service's log (ship it outside the database host)."""
    log.info("audit_checkpoint", service=signer.service, checkpoint=checkpoint.published(signer))


@dataclass(frozen=True)
class CheckpointReport:
    """The checkpoints' verification: valid, how many, the first problem, and the latest checkpoint."""

    valid: bool
    checked: int
    reason: str | None = None
    number: int | None = None
    latest: Checkpoint | None = None


async def verify_checkpoints(session: AsyncSession | AsyncConnection, events: sa.Table, checkpoints: sa.Table,
                             signer: AuditSigner, *, batch: int = 1000) -> CheckpointReport:
    """Check that checkpoints are numbered 1..n without gaps, chained, signed by the service's key, that no
    chain's head goes back from one checkpoint to the next, and that the latest checkpoint's heads are still
    in the log with the same hash."""
    prev, expected, checked = GENESIS, 1, 0
    last_heads: dict[int, int] = {}
    latest: Checkpoint | None = None
    while True:
        rows = (await session.execute(sa.select(checkpoints).where(checkpoints.c.number >= expected)
                                      .order_by(checkpoints.c.number).limit(batch))).mappings().all()
        if not rows:
            break
        for row in rows:
            number = row["number"]
            checked += 1
            if number != expected:
                return CheckpointReport(False, checked, f"checkpoint {expected} missing", expected, latest)
            if bytes(row["prev_hash"]) != prev:
                return CheckpointReport(False, checked, "checkpoint chain broken", number, latest)
            heads = list(row["heads"])
            payload = checkpoint_payload(signer.service, number, row["created_at"], heads, prev)
            if hashlib.sha256(payload).digest() != bytes(row["hash"]):
                return CheckpointReport(False, checked, "checkpoint content altered", number, latest)
            try:
                signer.public_key.verify(bytes(row["signature"]), payload)
            except InvalidSignature:
                return CheckpointReport(False, checked, "checkpoint signature invalid", number, latest)
            for head in heads:
                if head["id"] < last_heads.get(head["chain"], 0):
                    return CheckpointReport(False, checked, f"chain {head['chain']} went back", number, latest)
                last_heads[head["chain"]] = head["id"]
            missing = set(last_heads) - {h["chain"] for h in heads}
            if missing:
                return CheckpointReport(False, checked, f"chain {min(missing)} disappeared", number, latest)
            prev, expected = bytes(row["hash"]), number + 1
            latest = _checkpoint_from_row(row)
    if latest is None:
        return CheckpointReport(True, 0)
    wanted = {h["id"]: h for h in latest.heads}
    found = {r.id: r for r in (await session.execute(
        sa.select(events.c.id, events.c.chain, events.c.hash).where(events.c.id.in_(list(wanted))))).all()}
    for row_id, head in sorted(wanted.items()):
        stored = found.get(row_id)
        if stored is None or stored.chain != head["chain"] or bytes(stored.hash).hex() != head["hash"]:
            return CheckpointReport(False, checked, f"row {row_id}, head of chain {head['chain']} at checkpoint "
                                    f"{latest.number}, is missing or altered", latest.number, latest)
    return CheckpointReport(True, checked, latest=latest)


class Checkpointer:
    """Writes a signed checkpoint every `interval` seconds from the service's own process (skipped when no
    chain moved); started and stopped by the service's lifespan."""

    def __init__(self, engine: AsyncEngine, events: sa.Table, checkpoints: sa.Table, signer: AuditSigner, *,
                 interval: float) -> None:
        self._engine, self._events, self._checkpoints, self._signer = engine, events, checkpoints, signer
        self._schedule = Periodic("audit_checkpoint", self.checkpoint, interval_seconds=interval)

    async def checkpoint(self) -> Checkpoint | None:
        """Write (or find) the checkpoint of the current heads and publish it on the log; None, with an
        `audit_log_tampered` error line, when the log no longer extends the latest checkpoint."""
        try:
            async with self._engine.begin() as conn:
                checkpoint = await write_checkpoint(conn, self._events, self._checkpoints, self._signer)
        except AuditLogTampered as exc:
            log.error("audit_log_tampered", service=self._signer.service, reason=str(exc))
            return None
        log_checkpoint(checkpoint, self._signer)
        return checkpoint

    def start(self) -> None:
        """Start the schedule (interval 0 or less: never)."""
        self._schedule.start()

    async def stop(self) -> None:
        """Stop the schedule."""
        await self._schedule.stop()
