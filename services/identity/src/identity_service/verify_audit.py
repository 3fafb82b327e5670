"""`python -m identity_service.verify_audit`: verify this service's audit hash chains (JSON report; exit 1 if broken).

Runs with IDENTITY_DATABASE_URL (the service's own role may read its log) or IDENTITY_MIGRATION_DATABASE_URL.
"""

from __future__ import annotations

from himaya.audit_cli import main as verify_main
from identity_service.config import Settings
from identity_service.db.tables import audit_events


def main() -> None:
    """Verify and print the report."""
    settings = Settings()
    url = settings.migration_database_url or settings.database_url
    if url is None:
        raise SystemExit("IDENTITY_DATABASE_URL is required")
    verify_main(service="identity", database_url=url.get_secret_value(), table=audit_events)


if __name__ == "__main__":
    main()
