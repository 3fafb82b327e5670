"""`python -m cases_service.rotate_keys`: re-encrypt stored values with the active field key.

Add the new key to CASES_FIELD_KEYS (and set CASES_FIELD_ACTIVE_KEY to it), restart the service so new
values use it, then run this with CASES_MIGRATION_DATABASE_URL (the owner); remove the old key after.
Rows are locked while they are re-sealed (himaya.rotation), so the service can keep running.
"""

from __future__ import annotations

import asyncio

from cases_service.config import Settings
from cases_service.core.rotation import cases_sealed_columns
from cases_service.core.tables import idempotency_keys
from himaya.rotation import report, rotate_with_settings


def main() -> None:
    """Rotate and print how many rows of each table were re-encrypted."""
    settings = Settings()
    report(asyncio.run(rotate_with_settings(
        prefix="CASES", migration_database_url=settings.migration_database_url, field_keys=settings.field_key_map(),
        active_kid=settings.field_active_key, columns=cases_sealed_columns(), idempotency=idempotency_keys)))


if __name__ == "__main__":
    main()
