"""Idempotency-Key for POSTs that create something (API.md).

Same key and same body: the first response is replayed. Same key, other body: 422. A retry that
arrives while the first request is still running waits a little for it (so a burst of retries all get
the same answer) and gets 409 if it is still running after that. Keys are scoped per caller and kept
at least 24 hours. The key is reserved with a transaction-scoped advisory lock, so a crash never
leaves a key stuck, and the stored response commits in the same transaction as the work itself.
"""

from __future__ import annotations

import hashlib
import re
from collections.abc import Awaitable, Callable
from datetime import UTC, datetime, timedelta
from typing import Annotated, Any

import orjson
import sqlalchemy as sa
from fastapi import Depends, Header, Request, Response
from pydantic import BaseModel
from sqlalchemy.dialects.postgresql import BYTEA, JSONB
from sqlalchemy.exc import DBAPIError
from sqlalchemy.ext.asyncio import AsyncSession

from himaya.errors import Conflict, InvalidInput

RETENTION = timedelta(hours=48)
WAIT_FOR_IN_FLIGHT = "10s"
KEY_RE = re.compile(r"^[A-Za-z0-9._:\-]{1,255}$")
REPLAY_HEADER = "Idempotent-Replayed"


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
    """The stored first responses of a service, by caller and key."""
    return sa.Table(
        "idempotency_keys", metadata,
        sa.Column("caller", sa.Text, primary_key=True),
        sa.Column("key", sa.Text, primary_key=True),
        sa.Column("request_hash", BYTEA, nullable=False),
        sa.Column("status_code", sa.SmallInteger, nullable=False),
        sa.Column("response_body", JSONB, nullable=True),
        sa.Column("response_headers", JSONB, nullable=False, server_default="{}"),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False, server_default=sa.func.now()),
        sa.Index("ix_idempotency_keys_created", "created_at"),
    )


def request_fingerprint(method: str, path: str, body: Any) -> bytes:
    """A hash of what makes two requests "the same": method, path and canonical body."""
    if isinstance(body, BaseModel):
        body = body.model_dump(mode="json", exclude_unset=True)
    encoded = orjson.dumps(body, option=orjson.OPT_SORT_KEYS, default=str)
    return hashlib.sha256(method.encode() + b" " + path.encode() + b"\n" + encoded).digest()


class Idempotency:
    """The Idempotency-Key of one request and what to do with it."""

    def __init__(self, table: sa.Table, key: str | None, method: str, path: str) -> None:
        self.table = table
        self.key = key
        self.method = method
        self.path = path
        self._caller: str | None = None
        self._hash: bytes | None = None

    async def begin(self, session: AsyncSession, *, caller: str, body: Any) -> Response | None:
        """Reserve the key; return the replayed response if this request was already answered."""
        if self.key is None:
            return None
        self._caller, self._hash = caller, request_fingerprint(self.method, self.path, body)
        lock_id = int.from_bytes(hashlib.sha256(f"{caller}\x00{self.key}".encode()).digest()[:8], "big",
                                 signed=True)
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
        row = (await session.execute(sa.select(t).where(t.c.caller == caller, t.c.key == self.key,
                                                        t.c.created_at > datetime.now(UTC) - RETENTION))
               ).mappings().one_or_none()
        if row is None:
            return None
        if bytes(row["request_hash"]) != self._hash:
            raise IdempotencyKeyReused("This Idempotency-Key was used with a different request.")
        headers = dict(row["response_headers"] or {})
        headers[REPLAY_HEADER] = "true"
        return json_response(row["response_body"], row["status_code"], headers)

    async def complete(self, session: AsyncSession, *, status_code: int, body: Any,
                       headers: dict[str, str] | None = None) -> None:
        """Store the response in the request's transaction, so it exists exactly when the work does."""
        if self.key is None or self._caller is None:
            return
        if isinstance(body, BaseModel):
            body = body.model_dump(mode="json")
        t = self.table
        stmt = sa.dialects.postgresql.insert(t).values(
            caller=self._caller, key=self.key, request_hash=self._hash, status_code=status_code,
            response_body=body, response_headers=headers or {}, created_at=datetime.now(UTC))
        await session.execute(stmt.on_conflict_do_update(
            index_elements=[t.c.caller, t.c.key],
            set_={"request_hash": stmt.excluded.request_hash, "status_code": stmt.excluded.status_code,
                  "response_body": stmt.excluded.response_body,
                  "response_headers": stmt.excluded.response_headers, "created_at": stmt.excluded.created_at}))


    async def run(self, session: AsyncSession, *, caller: str, request_body: Any,
                  produce: Callable[[], Awaitable[Any]], status_code: int = 201,
                  headers: Callable[[Any], dict[str, str]] | None = None) -> Response:
        """Replay the stored answer to a repeated key, or produce the object, store the answer and return it.

        First answers and replays are serialised the same way, so a retry gets byte-identical bodies.
        """
        replay = await self.begin(session, caller=caller, body=request_body)
        if replay is not None:
            return replay
        result = await produce()
        body = result.model_dump(mode="json") if isinstance(result, BaseModel) else result
        extra = headers(result) if headers is not None else {}
        await self.complete(session, status_code=status_code, body=body, headers=extra)
        return json_response(body, status_code, extra)


def json_response(body: Any, status_code: int, headers: dict[str, str] | None = None) -> Response:
    """A JSON response with sorted keys: the same bytes whether first answered or replayed from storage."""
    content = orjson.dumps(body, option=orjson.OPT_SORT_KEYS) if body is not None else b""
    return Response(content=content, status_code=status_code, headers=headers, media_type="application/json")


async def purge_expired(session: AsyncSession, table: sa.Table) -> int:
    """Delete stored responses older than the retention period."""
    result = await session.execute(sa.delete(table).where(table.c.created_at < datetime.now(UTC) - RETENTION))
    return int(getattr(result, "rowcount", 0) or 0)


def idempotency_dependency(table: sa.Table, *, required: bool = False) -> Any:
    """A dependency reading the `Idempotency-Key` header for a service's idempotency table."""

    async def dependency(
        request: Request,
        idempotency_key: Annotated[str | None, Header(
            alias="Idempotency-Key", description="Makes the request safe to retry (kept 48 hours).")] = None,
    ) -> Idempotency:
        if idempotency_key is None and required:
            raise IdempotencyKeyRequired("Send an Idempotency-Key header with this request.")
        if idempotency_key is not None and not KEY_RE.match(idempotency_key):
            raise InvalidInput("The Idempotency-Key must be 1–255 characters of letters, digits and ._:-")
        return Idempotency(table, idempotency_key, request.method, request.url.path)

    return Depends(dependency)
