"""Fixtures of the cases service's tests: a migrated schema, a rolled-back transaction per test, a client."""

from himaya.testing.plugin import service_fixtures
from cases_service.config import Settings
from cases_service.db.tables import APPEND_ONLY_TABLES, MIGRATIONS_DIR, SCHEMA
from cases_service.main import create_app

harness, db, client = service_fixtures(
    service="cases", schema=SCHEMA, migrations_dir=MIGRATIONS_DIR, append_only=APPEND_ONLY_TABLES,
    app_factory=create_app,
    settings_factory=lambda url: Settings(database_url=url, environment="test", log_json=False),
)
