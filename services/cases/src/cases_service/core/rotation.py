"""Re-encrypt every sealed value with the active field key (after adding a new key to CASES_FIELD_KEYS)."""

from __future__ import annotations

from sqlalchemy.ext.asyncio import AsyncEngine

from cases_service.core.tables import metadata
from himaya.crypto import FieldCipher
from himaya.rotation import SealedColumns, sealed_columns
from himaya.rotation import rotate_field_keys as rotate

# The row id each table's values are bound to (timeline reasons are bound to their case).
BINDINGS = {"case_events": "case_id"}


def cases_sealed_columns() -> list[SealedColumns]:
    """Every `*_enc` column of the cases schema."""
    return sealed_columns(metadata, BINDINGS)


async def rotate_field_keys(*, engine: AsyncEngine, cipher: FieldCipher, batch: int = 500) -> dict[str, int]:
    """Re-seal values still under an old key, one committed batch of locked rows at a time; rows per table.

    Run it with the owner's connection: the timeline is append-only for the service's own role.
    """
    return await rotate(engine=engine, cipher=cipher, columns=cases_sealed_columns(), batch=batch)
