"""Re-encrypt every sealed value with the active field key (after adding a new key to CASES_FIELD_KEYS)."""

from __future__ import annotations

from sqlalchemy.ext.asyncio import AsyncEngine

from cases_service.db import rotation as repo
from himaya.crypto import FieldCipher


async def rotate_field_keys(*, engine: AsyncEngine, cipher: FieldCipher, batch: int = 500) -> dict[str, int]:
    """Re-seal values still under an old key, one committed batch at a time; returns rows per table.

    Run it with the owner's connection: the timeline is append-only for the service's own role.
    """
    counts: dict[str, int] = {}
    for table, columns in repo.sealed_tables():
        after = None
        while True:
            async with engine.begin() as conn:
                rows = await repo.stale_rows(conn, table, columns, active_kid=cipher.active_kid, after=after,
                                             batch=batch)
                for row in rows:
                    values = {c: cipher.reencrypt(row[c], table=table.name, column=c.removesuffix("_enc"),
                                                  row_id=row["binding"]) for c in columns}
                    await repo.write_sealed(conn, table, row["id"], values)
            if not rows:
                break
            counts[table.name] = counts.get(table.name, 0) + len(rows)
            after = rows[-1]["id"]
    return counts
