"""`python -m referrals_service.rotate_keys`: re-encrypt the referrals' free texts with the active field key.

Add the new key to REFERRALS_FIELD_KEYS (and set REFERRALS_FIELD_ACTIVE_KEY to it), restart the service so
new values use it, then run this with REFERRALS_MIGRATION_DATABASE_URL (the owner); remove the old key after.
Rows are locked while they are re-sealed (himaya.rotation), so the service can keep running.
"""

from __future__ import annotations

import asyncio

from sqlalchemy.ext.asyncio import AsyncEngine

from himaya.crypto import FieldCipher
from himaya.rotation import SealedColumns, SealedJson, report, rotate_with_settings, sealed_columns
from himaya.rotation import rotate_field_keys as rotate
from referrals_service.config import Settings
from referrals_service.core.tables import idempotency_keys, metadata, outbox_events
from referrals_service.delivery.repository import OUTBOX_TABLE, SEALED_KEY


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


def main() -> None:
    """Rotate and print how many rows of each table were re-encrypted."""
    settings = Settings()
    report(asyncio.run(rotate_with_settings(
        prefix="REFERRALS", migration_database_url=settings.migration_database_url,
        field_keys=settings.field_key_map(), active_kid=settings.field_active_key,
        columns=referrals_sealed_columns(), documents=referrals_sealed_documents(), idempotency=idempotency_keys)))


if __name__ == "__main__":
    main()
