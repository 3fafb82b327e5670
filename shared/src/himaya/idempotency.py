"""Idempotency-Key for POSTs that create something (docs/api-contract.md).

Same key and same body: the first response is replayed. Same key, other body: 422. A retry that
arrives while the first request is still running waits a little for it (so a burst of retries all get
the same answer) and gets 409 if it is still running after that. Keys are scoped per caller and kept
at least 24 hours (48 by default). The key is reserved with a transaction-scoped advisory lock, so a crash
never leaves a key stuck, and the stored response commits in the same transaction as the work itself.

A stored response repeats what the request carried (names, narratives, notes), so it is protected like the
original (decision 0104): the body is sealed with the service's field cipher, bound to the caller and the
key; the key itself and the request fingerprint are keyed HMACs, so the table holds no request text. The
service's lifespan puts its `IdempotencyProtection` in `app.state.idempotency`.
"""

from __future__ import annotations

import hashlib
import hmac
import re
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Annotated, Any

import orjson
import sqlalchemy as sa
from fastapi import Depends, Header, Request, Response
from pydantic import BaseModel
from sqlalchemy.dialects.postgresql import BYTEA, JSONB
from sqlalchemy.exc import DBAPIError
from sqlalchemy.ext.asyncio import AsyncEngine, AsyncSession

from himaya.crypto import FieldCipher, derive_key
from himaya.errors import Conflict, InvalidInput

DEFAULT_RETENTION = timedelta(hours=48)
MIN_RETENTION = timedelta(hours=24)
WAIT_FOR_IN_FLIGHT = "10s"
KEY_RE = re.compile(r"^[A-Za-z0-9._:\-]{1,255}$")
REPLAY_HEADER = "Idempotent-Replayed"
FINGERPRINT_INFO = b"himaya-idempotency-fingerprint-v1"
SEAL_INFO = b"himaya-idempotency-seal-v1"
SEAL_KID = "idempotency"
SEALED_TABLE, SEALED_COLUMN = "idempotency_keys", "response_body"


@dataclass(frozen=True)
class IdempotencyProtection:
    """How a service keeps its stored answers: its field cipher and the key of its fingerprints."""

    cipher: FieldCipher
    fingerprint_key: bytes
    retention: timedelta = DEFAULT_RETENTION

    def __post_init__(self) -> None:
        if len(self.fingerprint_key) < 32:
            raise ValueError("the fingerprint key must have at least 32 bytes")
        if self.retention < MIN_RETENTION:
            raise ValueError("idempotency keys are kept at least 24 hours")

    @classmethod
    def from_secret(cls, cipher: FieldCipher, secret: str, *, service: str,
                    retention: timedelta = DEFAULT_RETENTION) -> IdempotencyProtection:
        """Derive the fingerprint key from one of the service's configured secrets (HKDF, a label of its own)."""
        return cls(cipher, derive_key(secret, FINGERPRINT_INFO + b":" + service.encode()), retention)

    @classmethod
    def from_own_secret(cls, secret: str, *, service: str,
                        retention: timedelta = DEFAULT_RETENTION) -> IdempotencyProtection:
        """For a service without field encryption: seal with a key derived from one of its secrets as well."""
        cipher = FieldCipher({SEAL_KID: derive_key(secret, SEAL_INFO + b":" + service.encode())}, SEAL_KID)
        return cls.from_secret(cipher, secret, service=service, retention=retention)

    def mac(self, *parts: bytes) -> bytes:
        """HMAC-SHA256 over the parts, each length-prefixed (no two part lists collide)."""
        message = b"".join(len(p).to_bytes(4, "big") + p for p in parts)
        return hmac.new(self.fingerprint_key, message, hashlib.sha256).digest()


class IdempotencyInFlight(Conflict):
    """A request with this key is still being processed."""

    code = "idempotency_conflict"
    title = "A request with this Idempotency-Key is in progress"


class IdempotencyKeyReused(InvalidInput):
    """The key was already used with a different request body."""

    code = "idempotency_key_reused"
    title = "Idempotency-Key reused with a different request"


class IdempotencyKeyRequired(InvalidInput):
    """This operation requires an Idempotency-Key header."""

    code = "idempotency_key_required"
    title = "Idempotency-Key required"


def idempotency_table(metadata: sa.MetaData) -> sa.Table:
    """The stored first responses of a service, by caller and keyed hash of the key."""
    return sa.Table(
        "idempotency_keys", metadata,
        sa.Column("caller", sa.Text, primary_key=True),
        # Hex HMAC of the caller's Idempotency-Key: a key may be any text the client chose.
        sa.Column("key", sa.Text, primary_key=True),
        sa.Column("request_hash", BYTEA, nullable=False),
        sa.Column("status_code", sa.SmallInteger, nullable=False),
        # The response body's bytes, sealed with the service's field cipher for this caller and key.
        sa.Column("response_sealed", BYTEA, nullable=True),
        sa.Column("response_headers", JSONB, nullable=False, server_default="{}"),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False, server_default=sa.func.now()),
        sa.Index("ix_idempotency_keys_created", "created_at"),
    )


def canonical_body(body: Any) -> bytes:
    """The canonical JSON of a request body (sorted keys; a model as the client set it)."""
    if isinstance(body, BaseModel):
        body = body.model_dump(mode="json", exclude_unset=True)
    return orjson.dumps(body, option=orjson.OPT_SORT_KEYS, default=str)


class Idempotency:
    """The Idempotency-Key of one request and what to do with it."""

    def __init__(self, table: sa.Table, key: str | None, method: str, path: str,
                 protection: IdempotencyProtection) -> None:
        self.table = table
        self.key = key
        self.method = method
        self.path = path
        self.protection = protection
        self._caller: str | None = None
        self._key_hash: str | None = None
        self._hash: bytes | None = None

    def _row_id(self) -> str:
        return f"{self._caller}\n{self._key_hash}"

    async def begin(self, session: AsyncSession, *, caller: str, body: Any) -> Response | None:
        """Reserve the key; return the replayed response if this request was already answered."""
        if self.key is None:
            return None
        protection = self.protection
        self._caller = caller
        self._key_hash = protection.mac(b"key", caller.encode(), self.key.encode()).hex()
        self._hash = protection.mac(b"request", caller.encode(), self.method.encode(), self.path.encode(),
                                    canonical_body(body))
        lock_id = int.from_bytes(bytes.fromhex(self._key_hash)[:8], "big", signed=True)
        # Almost always the key is free: one statement. A retry of a request still running waits for it, with
        # a timeout, in a savepoint (the timeout's error must not abort the request's transaction).
        if not (await session.execute(sa.select(sa.func.pg_try_advisory_xact_lock(lock_id)))).scalar_one():
            try:
                async with session.begin_nested():
                    await session.execute(sa.text(f"SET LOCAL lock_timeout = '{WAIT_FOR_IN_FLIGHT}'"))
                    await session.execute(sa.select(sa.func.pg_advisory_xact_lock(lock_id)))
            except DBAPIError as exc:
                if "lock timeout" in str(exc).lower() or "LockNotAvailable" in type(exc.orig).__name__:
                    raise IdempotencyInFlight("Retry when the first request has finished.",
                                              headers={"Retry-After": "2"}) from exc
                raise
            await session.execute(sa.text("SET LOCAL lock_timeout = '0'"))
        t = self.table
        row = (await session.execute(sa.select(t).where(
            t.c.caller == caller, t.c.key == self._key_hash,
            t.c.created_at > datetime.now(UTC) - protection.retention))).mappings().one_or_none()
        if row is None:
            return None
        if not hmac.compare_digest(bytes(row["request_hash"]), self._hash):
            raise IdempotencyKeyReused("This Idempotency-Key was used with a different request.")
        content = b""
        if row["response_sealed"] is not None:
            plain = protection.cipher.decrypt(row["response_sealed"], table=SEALED_TABLE, column=SEALED_COLUMN,
                                              row_id=self._row_id())
            content = (plain or "").encode()
        headers = dict(row["response_headers"] or {})
        headers[REPLAY_HEADER] = "true"
        return Response(content=content, status_code=row["status_code"], headers=headers,
                        media_type="application/json")

    async def complete(self, session: AsyncSession, *, status_code: int, content: bytes,
                       headers: dict[str, str] | None = None) -> None:
        """Store the response in the request's transaction, so it exists exactly when the work does.

        `headers` are stored in clear: only ids and versions (ETag, Location) belong there.
        """
        if self.key is None or self._caller is None:
            return
        sealed = self.protection.cipher.encrypt(content.decode(), table=SEALED_TABLE, column=SEALED_COLUMN,
                                                row_id=self._row_id()) if content else None
        t = self.table
        stmt = sa.dialects.postgresql.insert(t).values(
            caller=self._caller, key=self._key_hash, request_hash=self._hash, status_code=status_code,
            response_sealed=sealed, response_headers=headers or {}, created_at=datetime.now(UTC))
        await session.execute(stmt.on_conflict_do_update(
            index_elements=[t.c.caller, t.c.key],
            set_={"request_hash": stmt.excluded.request_hash, "status_code": stmt.excluded.status_code,
                  "response_sealed": stmt.excluded.response_sealed,
                  "response_headers": stmt.excluded.response_headers, "created_at": stmt.excluded.created_at}))

    async def run(self, session: AsyncSession, *, caller: str, request_body: Any,
                  produce: Callable[[], Awaitable[Any]], status_code: int = 201,
                  headers: Callable[[Any], dict[str, str]] | None = None) -> Response:
        """Replay the stored answer to a repeated key, or produce the object, store the answer and return it.

        The stored answer is the first answer's bytes, so a retry gets a byte-identical body.
        """
        replay = await self.begin(session, caller=caller, body=request_body)
        if replay is not None:
            return replay
        result = await produce()
        body = result.model_dump(mode="json") if isinstance(result, BaseModel) else result
        extra = headers(result) if headers is not None else {}
        response = json_response(body, status_code, extra)
        await self.complete(session, status_code=status_code, content=bytes(response.body), headers=extra)
        return response


def json_response(body: Any, status_code: int, headers: dict[str, str] | None = None) -> Response:
    """A JSON response with sorted keys (the bytes the idempotency store keeps for a replay)."""
    content = orjson.dumps(body, option=orjson.OPT_SORT_KEYS) if body is not None else b""
    return Response(content=content, status_code=status_code, headers=headers, media_type="application/json")


async def reseal_answers(engine: AsyncEngine, table: sa.Table, cipher: FieldCipher, *, batch: int = 500) -> int:
    """Re-seal stored answers still under an old field key (part of a service's key rotation); returns how many.

    Each batch locks the rows it rewrites, so a replay never reads a row half rotated.
    """
    t, total = table, 0
    kid = sa.func.substring(t.c.response_sealed, 3, sa.func.get_byte(t.c.response_sealed, 1))
    stale = (sa.select(t.c.caller, t.c.key, t.c.response_sealed)
             .where(t.c.response_sealed.is_not(None), kid != cipher.active_kid.encode())
             .limit(batch).with_for_update(skip_locked=True))
    while True:
        async with engine.begin() as conn:
            rows = (await conn.execute(stale)).mappings().all()
            for row in rows:
                sealed = cipher.reencrypt(row["response_sealed"], table=SEALED_TABLE, column=SEALED_COLUMN,
                                          row_id=f"{row['caller']}\n{row['key']}")
                await conn.execute(sa.update(t).where(t.c.caller == row["caller"], t.c.key == row["key"])
                                   .values(response_sealed=sealed))
        total += len(rows)
        if len(rows) < batch:
            return total


def get_protection(request: Request) -> IdempotencyProtection:
    """The service's idempotency protection, set by its lifespan."""
    protection: IdempotencyProtection | None = getattr(request.app.state, "idempotency", None)
    if protection is None:
        raise RuntimeError("the service's lifespan did not set app.state.idempotency")
    return protection


def idempotency_dependency(table: sa.Table, *, required: bool = False) -> Any:
    """A dependency reading the `Idempotency-Key` header for a service's idempotency table."""

    async def dependency(
        request: Request,
        idempotency_key: Annotated[str | None, Header(
            alias="Idempotency-Key",
            description="Makes the request safe to retry (kept at least 24 hours, 48 by default).")] = None,
    ) -> Idempotency:
        if idempotency_key is None and required:
            raise IdempotencyKeyRequired("Send an Idempotency-Key header with this request.")
        if idempotency_key is not None and not KEY_RE.match(idempotency_key):
            raise InvalidInput("The Idempotency-Key must be 1–255 characters of letters, digits and ._:-")
        return Idempotency(table, idempotency_key, request.method, request.url.path, get_protection(request))

    return Depends(dependency)
