"""SQL of key rotation: find values sealed with an old key, in batches, and write them back re-sealed."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

import sqlalchemy as sa
from sqlalchemy.engine import RowMapping
from sqlalchemy.ext.asyncio import AsyncConnection

from cases_service.db.tables import metadata

# The row id each table's values are bound to (timeline reasons are bound to their case).
BINDING_COLUMN: Mapping[str, str] = {"case_events": "case_id"}


def sealed_tables() -> list[tuple[sa.Table, list[str]]]:
    """Every table with `*_enc` columns, and those columns."""
    out = []
    for table in metadata.sorted_tables:
        columns = [c.name for c in table.c if c.name.endswith("_enc")]
        if columns:
            out.append((table, columns))
    return out


def _old_key(column: sa.ColumnElement[Any], active_kid: bytes) -> sa.ColumnElement[bool]:
    # Blob header: version byte, key-id length byte, key id (himaya.crypto.FieldCipher).
    kid = sa.func.substring(column, 3, sa.func.get_byte(column, 1))
    return sa.and_(column.is_not(None), kid != active_kid)


async def stale_rows(conn: AsyncConnection, table: sa.Table, columns: Sequence[str], *, active_kid: str,
                     after: Any, batch: int) -> Sequence[RowMapping]:
    """Up to `batch` rows (after id `after`) with a value sealed under another key than `active_kid`."""
    binding = table.c[BINDING_COLUMN.get(table.name, "id")]
    stmt = (sa.select(table.c.id, binding.label("binding"), *(table.c[c] for c in columns))
            .where(sa.or_(*(_old_key(table.c[c], active_kid.encode()) for c in columns))))
    if after is not None:
        stmt = stmt.where(table.c.id > after)
    return (await conn.execute(stmt.order_by(table.c.id).limit(batch))).mappings().all()


async def write_sealed(conn: AsyncConnection, table: sa.Table, row_id: Any, values: Mapping[str, bytes | None]
                       ) -> None:
    """Store re-sealed values of one row."""
    await conn.execute(sa.update(table).where(table.c.id == row_id).values(**values))


