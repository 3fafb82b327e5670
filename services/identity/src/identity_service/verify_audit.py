"""`python -m identity_service.verify_audit`: verify this service's audit chains and signed
checkpoints (JSON report; exit 1 if broken; a new checkpoint when intact).

Runs with IDENTITY_DATABASE_URL (the service's own role may read its log) or IDENTITY_MIGRATION_DATABASE_URL, and the
service's audit signing key.
"""

from __future__ import annotations

from himaya.audit_cli import main as verify_main
from identity_service.config import Settings
from identity_service.core.tables import audit_checkpoints, audit_events


def main() -> None:
    """Verify and print the report."""
    settings = Settings()
    url = settings.migration_database_url or settings.database_url
    if url is None:
        raise SystemExit("IDENTITY_DATABASE_URL is required")
    verify_main(service="identity", settings=settings, database_url=url.get_secret_value(), events=audit_events,
                checkpoints=audit_checkpoints)


if __name__ == "__main__":
    main()
