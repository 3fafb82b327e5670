"""Field-key rotation shared by the services: re-seal every value still under an old key, rows locked.

Each service lists what it seals (its `*_enc` columns, found from its metadata, and any blob kept inside a
JSON document, like the outbox's `sealed` member) and runs `rotate_field_keys` from its `rotate_keys`
command. Rows are taken in batches with `SELECT … FOR NO KEY UPDATE`, so a request updating the same row
waits for the batch to commit (or the batch waits for it and then re-reads the row): a value written
concurrently is never overwritten by the re-sealed older one. Batches are committed one by one, so the
command can be interrupted and run again.
"""

from __future__ import annotations

import base64
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

import sqlalchemy as sa
from pydantic import SecretStr
from sqlalchemy.engine import RowMapping
from sqlalchemy.ext.asyncio import AsyncConnection, AsyncEngine

from himaya.crypto import FieldCipher
from himaya.db import create_engine
from himaya.idempotency import reseal_answers
from himaya.settings import to_asyncpg_url


@dataclass(frozen=True)
class SealedColumns:
    """A table's `*_enc` BYTEA columns; each blob is bound to the row's `binding` column (its id by default)."""

    table: sa.Table
    columns: tuple[str, ...]
    binding: str = "id"


@dataclass(frozen=True)
class SealedJson:
    """A blob kept base64-encoded under `member` of a JSON column, bound to `bound_table`/`bound_column` and to
    the row id `row_id(document)` returns (e.g. the outbox's `payload.sealed`, bound to the event id)."""

    table: sa.Table
    column: str
    member: str
    bound_table: str
    bound_column: str
    row_id: Callable[[Mapping[str, Any]], str] = field(default=lambda doc: str(doc["id"]))


def sealed_columns(metadata: sa.MetaData, bindings: Mapping[str, str] | None = None) -> list[SealedColumns]:
    """Every table of `metadata` with `*_enc` columns; `bindings` names the row-id column where it is not `id`."""
    out = []
    for table in metadata.sorted_tables:
        columns = tuple(c.name for c in table.c if c.name.endswith("_enc"))
        if columns:
            out.append(SealedColumns(table, columns, (bindings or {}).get(table.name, "id")))
    return out


def _under_old_key(blob: sa.ColumnElement[Any], active_kid: str) -> sa.ColumnElement[bool]:
    # Blob header (himaya.crypto.FieldCipher): version byte, key-id length byte, key id.
    kid = sa.func.substring(blob, 3, sa.func.get_byte(blob, 1))
    return sa.and_(blob.is_not(None), kid != active_kid.encode())


def _locked_batch(stmt: sa.Select[Any], key: sa.ColumnElement[Any], after: Any, batch: int) -> sa.Select[Any]:
    if after is not None:
        stmt = stmt.where(key > after)
    # FOR NO KEY UPDATE: the lock an UPDATE of non-key columns takes, so concurrent writers of the row queue
    # behind the batch (and the batch re-reads a row a writer changed before it got the lock).
    return stmt.order_by(key).limit(batch).with_for_update(key_share=True)


async def _stale_column_rows(conn: AsyncConnection, spec: SealedColumns, *, active_kid: str, after: Any,
                             batch: int) -> Sequence[RowMapping]:
    t = spec.table
    stmt = (sa.select(t.c.id, t.c[spec.binding].label("binding"), *(t.c[c] for c in spec.columns))
            .where(sa.or_(*(_under_old_key(t.c[c], active_kid) for c in spec.columns))))
    rows: Sequence[RowMapping] = (await conn.execute(_locked_batch(stmt, t.c.id, after, batch))).mappings().all()
    return rows


async def _rotate_columns(engine: AsyncEngine, cipher: FieldCipher, spec: SealedColumns, batch: int) -> int:
    total, after = 0, None
    while True:
        async with engine.begin() as conn:
            rows = await _stale_column_rows(conn, spec, active_kid=cipher.active_kid, after=after, batch=batch)
            for row in rows:
                values = {c: cipher.reencrypt(row[c], table=spec.table.name, column=c.removesuffix("_enc"),
                                              row_id=str(row["binding"])) for c in spec.columns}
                await conn.execute(sa.update(spec.table).where(spec.table.c.id == row["id"]).values(**values))
        if not rows:
            return total
        total += len(rows)
        after = rows[-1]["id"]


async def _rotate_json(engine: AsyncEngine, cipher: FieldCipher, spec: SealedJson, batch: int) -> int:
    t = spec.table
    document = t.c[spec.column]
    blob = sa.func.decode(document[spec.member].astext, "base64")
    total, after = 0, None
    while True:
        async with engine.begin() as conn:
            stmt = sa.select(t.c.id, document).where(_under_old_key(blob, cipher.active_kid))
            rows = (await conn.execute(_locked_batch(stmt, t.c.id, after, batch))).mappings().all()
            for row in rows:
                doc = dict(row[spec.column])
                sealed = base64.b64decode(doc[spec.member])
                resealed = cipher.reencrypt(sealed, table=spec.bound_table, column=spec.bound_column,
                                            row_id=spec.row_id(doc))
                doc[spec.member] = base64.b64encode(resealed or b"").decode()
                await conn.execute(sa.update(t).where(t.c.id == row["id"]).values({spec.column: doc}))
        if not rows:
            return total
        total += len(rows)
        after = rows[-1]["id"]


async def rotate_field_keys(*, engine: AsyncEngine, cipher: FieldCipher, columns: Sequence[SealedColumns],
                            documents: Sequence[SealedJson] = (), batch: int = 500) -> dict[str, int]:
    """Re-seal every value under an old key with the active one; returns rows re-sealed per table.

    Run it with the schema owner's connection (append-only tables refuse the service role's updates).
    """
    counts: dict[str, int] = {}
    for spec in columns:
        n = await _rotate_columns(engine, cipher, spec, batch)
        if n:
            counts[spec.table.name] = counts.get(spec.table.name, 0) + n
    for doc_spec in documents:
        n = await _rotate_json(engine, cipher, doc_spec, batch)
        if n:
            counts[doc_spec.table.name] = counts.get(doc_spec.table.name, 0) + n
    return counts


async def rotate_with_settings(*, prefix: str, migration_database_url: SecretStr | None, field_keys: Mapping[str, str],
                               active_kid: str | None, columns: Sequence[SealedColumns],
                               documents: Sequence[SealedJson] = (),
                               idempotency: sa.Table | None = None) -> dict[str, int]:
    """The `rotate_keys` command of a service: its owner's connection, its keys, its sealed values, and the
    answers it keeps for Idempotency-Key replays (sealed with the same keys, decision 0104)."""
    if migration_database_url is None:
        raise SystemExit(f"{prefix}_MIGRATION_DATABASE_URL is required")
    if not field_keys:
        raise SystemExit(f"{prefix}_FIELD_KEYS is required")
    engine = create_engine(to_asyncpg_url(migration_database_url.get_secret_value()))
    cipher = FieldCipher.from_secrets(field_keys, active_kid)
    try:
        counts = await rotate_field_keys(engine=engine, cipher=cipher, columns=columns, documents=documents)
        if idempotency is not None and (resealed := await reseal_answers(engine, idempotency, cipher)):
            counts[idempotency.name] = resealed
        return counts
    finally:
        await engine.dispose()


def report(counts: Mapping[str, int]) -> None:
    """Print how many rows of each table were re-sealed."""
    for table, n in sorted(counts.items()):
        print(f"{table}: {n} rows re-encrypted")
    print("done" if counts else "nothing to re-encrypt")
