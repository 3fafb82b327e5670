"""Tables of the cases service, all in the `cases` schema."""

from __future__ import annotations

from pathlib import Path

from sqlalchemy import MetaData
from sqlalchemy.orm import registry
from sqlmodel import SQLModel

from himaya.audit import audit_table
from himaya.outbox import outbox_table

SCHEMA = "cases"
MIGRATIONS_DIR = Path(__file__).resolve().parents[3] / "migrations"
APPEND_ONLY_TABLES = ("audit_events",)

metadata = MetaData(schema=SCHEMA)
mapper_registry = registry(metadata=metadata)


class Table(SQLModel, registry=mapper_registry):
    """Base of this service's SQLModel tables (its own metadata, so schemas never mix)."""


audit_events = audit_table(metadata)
outbox_events = outbox_table(metadata)
