"""The baseline of "GET a case": a bare Starlette + asyncpg handler running the SQL the cases service runs.

Same statements, same database, one transaction: the case with its child, intake and sibling cases under
the caller's visibility clause (one statement), and the audit append (chain lock, last hash, insert). No token
check, no decryption, no pydantic, no middleware: what is left of the service's cost when Python does
nothing but the SQL and a JSON encoding of the row. The SQL is compiled from the service's own
repository statements at startup, so it cannot drift from what the service sends.

Run: `BENCH_DATABASE_URL=... BENCH_TERRITORIES=04.421,04.441 uvicorn bench.baseline:create_app --factory`.
"""

from __future__ import annotations

import hashlib
import os
import uuid
from contextlib import asynccontextmanager
from datetime import UTC, datetime
from typing import Any

import asyncpg
import orjson
import sqlalchemy as sa
from sqlalchemy.dialects import postgresql
from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import Route

from cases_service.cases import repository
from cases_service.core.access import Visibility
from cases_service.core.enums import Relation
from cases_service.core.tables import audit_events
from himaya.audit import CHAINS, audit_lock_key


def _compile(stmt: sa.ClauseElement) -> tuple[str, list[str], dict[str, Any]]:
    """SQL text with $n placeholders, the names of its parameters in order, and their bound values."""
    compiled = stmt.compile(dialect=postgresql.asyncpg.dialect())
    return str(compiled), list(compiled.positiontup or []), dict(compiled.params)


def statements(territories: tuple[str, ...]) -> dict[str, tuple[str, list[str], dict[str, Any]]]:
    """The service's SQL for GET /v1/cases/{id} by a territorial caller of `territories`."""
    v = Visibility(territories=territories, relation=Relation.TERRITORIAL, organization_id=None)
    last = (sa.select(audit_events.c.hash).where(audit_events.c.chain == sa.bindparam("chain"))
            .order_by(audit_events.c.id.desc()).limit(1))
    return {"case": _compile(repository._case_with_siblings_select(v)), "last_hash": _compile(last)}


def _args(statement: tuple[str, list[str], dict[str, Any]], **values: Any) -> list[Any]:
    _, names, bound = statement
    return [values[n] if n in values else bound[n] for n in names]


def create_app() -> Starlette:
    """The baseline app."""
    territories = tuple(os.environ["BENCH_TERRITORIES"].split(","))
    sql = statements(territories)
    insert_audit = ("INSERT INTO cases.audit_events (chain, occurred_at, actor, action, object_type, object_id, "
                    "case_id, fields, prev_hash, hash) VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10)")
    lock_key = audit_lock_key("cases")
    state: dict[str, Any] = {}

    async def get_case(request: Request) -> Response:
        case_id = uuid.UUID(request.path_params["case_id"])
        pool: asyncpg.Pool = state["pool"]
        async with pool.acquire() as conn, conn.transaction():
            row = await conn.fetchrow(sql["case"][0], *_args(sql["case"], case_id=case_id))
            if row is None:
                return Response(b'{"status":404}', status_code=404, media_type="application/json")
            chain = hash(case_id) % CHAINS
            await conn.execute("SELECT pg_advisory_xact_lock($1, $2)", lock_key, chain)
            prev = await conn.fetchval(sql["last_hash"][0], *_args(sql["last_hash"], chain=chain)) or b"\x00" * 32
            digest = hashlib.sha256(prev + case_id.bytes).digest()
            await conn.execute(insert_audit, chain, datetime.now(UTC), "bench:baseline", "case.read", "case",
                               str(case_id), case_id, ["case"], prev, digest)
        return Response(orjson.dumps(dict(row), default=str), media_type="application/json")

    async def readyz(request: Request) -> Response:
        return Response(b'{"status":"ready"}', media_type="application/json")

    @asynccontextmanager
    async def lifespan(app: Starlette) -> Any:
        state["pool"] = await asyncpg.create_pool(os.environ["BENCH_DATABASE_URL"], min_size=2, max_size=10)
        try:
            yield
        finally:
            await state["pool"].close()

    return Starlette(routes=[Route("/v1/cases/{case_id}", get_case), Route("/readyz", readyz)], lifespan=lifespan)
