"""`python -m cases_service.rotate_keys`: re-encrypt stored values with the active field key.

Add the new key to CASES_FIELD_KEYS (and set CASES_FIELD_ACTIVE_KEY to it), restart the service so new
values use it, then run this with CASES_MIGRATION_DATABASE_URL (the owner); remove the old key after.
"""

from __future__ import annotations

import asyncio

from cases_service.config import Settings
from cases_service.db.tables import idempotency_keys
from cases_service.domain.rotation import rotate_field_keys
from himaya.crypto import FieldCipher
from himaya.db import create_engine
from himaya.idempotency import reseal_answers
from himaya.settings import to_asyncpg_url


async def _run(settings: Settings) -> dict[str, int]:
    if settings.migration_database_url is None:
        raise SystemExit("CASES_MIGRATION_DATABASE_URL is required")
    keys = settings.field_key_map()
    if not keys:
        raise SystemExit("CASES_FIELD_KEYS is required")
    engine = create_engine(to_asyncpg_url(settings.migration_database_url.get_secret_value()))
    cipher = FieldCipher.from_secrets(keys, settings.field_active_key)
    try:
        counts = await rotate_field_keys(engine=engine, cipher=cipher)
        # The answers kept for Idempotency-Key replays are sealed with the same keys (decision 0104).
        if resealed := await reseal_answers(engine, idempotency_keys, cipher):
            counts[idempotency_keys.name] = resealed
        return counts
    finally:
        await engine.dispose()


def main() -> None:
    """Rotate and print how many rows of each table were re-encrypted."""
    counts = asyncio.run(_run(Settings()))
    for table, n in sorted(counts.items()):
        print(f"{table}: {n} rows re-encrypted")
    print("done" if counts else "nothing to re-encrypt")


if __name__ == "__main__":
    main()
