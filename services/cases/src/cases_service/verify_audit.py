"""`python -m cases_service.verify_audit`: verify this service's audit chains and signed
checkpoints (JSON report; exit 1 if broken; a new checkpoint when intact).

Runs with CASES_DATABASE_URL (the service's own role may read its log) or CASES_MIGRATION_DATABASE_URL, and the
service's audit signing key.
"""

from __future__ import annotations

from cases_service.config import Settings
from cases_service.core.tables import audit_checkpoints, audit_events
from himaya.audit_cli import main as verify_main


def main() -> None:
    """Verify and print the report."""
    settings = Settings()
    url = settings.migration_database_url or settings.database_url
    if url is None:
        raise SystemExit("CASES_DATABASE_URL is required")
    verify_main(service="cases", settings=settings, database_url=url.get_secret_value(), events=audit_events,
                checkpoints=audit_checkpoints)


if __name__ == "__main__":
    main()
