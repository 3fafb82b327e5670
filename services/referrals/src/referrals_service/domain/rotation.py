"""What the referrals service seals, for field-key rotation: its `*_enc` columns and the outbox's sealed texts."""

from __future__ import annotations

from sqlalchemy.ext.asyncio import AsyncEngine

from himaya.crypto import FieldCipher
from himaya.rotation import SealedColumns, SealedJson, sealed_columns
from himaya.rotation import rotate_field_keys as rotate
from referrals_service.db.tables import metadata, outbox_events
from referrals_service.domain.events import OUTBOX_TABLE, SEALED_KEY


def referrals_sealed_columns() -> list[SealedColumns]:
    """Every `*_enc` column of the referrals schema (each bound to its own row id)."""
    return sealed_columns(metadata)


def referrals_sealed_documents() -> list[SealedJson]:
    """The free texts an outbox event carries sealed, bound to the event id (decision 0052)."""
    return [SealedJson(outbox_events, "payload", SEALED_KEY, bound_table=OUTBOX_TABLE, bound_column="payload")]


async def rotate_field_keys(*, engine: AsyncEngine, cipher: FieldCipher, batch: int = 500) -> dict[str, int]:
    """Re-seal every value still under an old key, one committed batch of locked rows at a time."""
    return await rotate(engine=engine, cipher=cipher, columns=referrals_sealed_columns(),
                        documents=referrals_sealed_documents(), batch=batch)
