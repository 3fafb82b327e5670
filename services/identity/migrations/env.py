"""Alembic environment of the identity service: its own schema only."""

from himaya.migrations import run_env
from identity_service.core.tables import SCHEMA, metadata

run_env(schema=SCHEMA, metadata=metadata)
