"""Alembic environment of the cases service: its own schema only."""

from cases_service.core.tables import SCHEMA, metadata
from himaya.migrations import run_env

run_env(schema=SCHEMA, metadata=metadata)
