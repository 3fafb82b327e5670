"""Alembic environment of the referrals service: its own schema only."""

from himaya.migrations import run_env
from referrals_service.core.tables import SCHEMA, metadata

run_env(schema=SCHEMA, metadata=metadata)
