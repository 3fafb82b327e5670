"""Alembic environment of the cases service: its own schema only."""

from himaya.migrations import run_env
from cases_service.db.tables import SCHEMA, metadata

run_env(schema=SCHEMA, metadata=metadata)
