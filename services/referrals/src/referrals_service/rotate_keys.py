"""`python -m referrals_service.rotate_keys`: re-encrypt the referrals' free texts with the active field key.

Add the new key to REFERRALS_FIELD_KEYS (and set REFERRALS_FIELD_ACTIVE_KEY to it), restart the service so
new values use it, then run this with REFERRALS_MIGRATION_DATABASE_URL (the owner); remove the old key after.
Rows are locked while they are re-sealed (himaya.rotation), so the service can keep running.
"""

from __future__ import annotations

import asyncio

from himaya.rotation import report, rotate_with_settings
from referrals_service.config import Settings
from referrals_service.db.tables import idempotency_keys
from referrals_service.domain.rotation import referrals_sealed_columns, referrals_sealed_documents


def main() -> None:
    """Rotate and print how many rows of each table were re-encrypted."""
    settings = Settings()
    report(asyncio.run(rotate_with_settings(
        prefix="REFERRALS", migration_database_url=settings.migration_database_url,
        field_keys=settings.field_key_map(), active_kid=settings.field_active_key,
        columns=referrals_sealed_columns(), documents=referrals_sealed_documents(), idempotency=idempotency_keys)))


if __name__ == "__main__":
    main()
