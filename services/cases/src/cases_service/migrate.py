"""`python -m cases_service.migrate`: provision the cases schema and role, and migrate to head."""

from __future__ import annotations

import sys

from cases_service.core.tables import APPEND_ONLY_TABLES, MIGRATIONS_DIR, SCHEMA
from himaya.migrations import autogenerate, provision, urls_from_env


def main(argv: list[str]) -> None:
    """Run with CASES_MIGRATION_DATABASE_URL (owner) and CASES_DATABASE_URL (the service's role).

    `--revision MESSAGE` autogenerates a new migration instead (development only).
    """
    admin_url, app_url = urls_from_env("CASES_")
    if argv[:1] == ["--revision"]:
        autogenerate(admin_url=admin_url, schema=SCHEMA, migrations_dir=MIGRATIONS_DIR, message=argv[1])
        return
    provision(admin_url=admin_url, app_url=app_url, schema=SCHEMA,
              migrations_dir=MIGRATIONS_DIR, append_only=APPEND_ONLY_TABLES)


if __name__ == "__main__":
    main(sys.argv[1:])
