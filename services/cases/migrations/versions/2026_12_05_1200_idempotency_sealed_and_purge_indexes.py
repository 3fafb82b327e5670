"""idempotency answers sealed, their keys and fingerprints keyed HMACs; indexes for the retention purge

Revision ID: 20261205120000
Revises: 20261205110000
Create Date: 2026-12-05 12:00:00

Written by hand (decision 0104). The stored answers repeated the requests' text; they are deleted rather than
converted, since a migration holds no field key and each is a replay copy at most two days old (a client
retrying across the upgrade with a key sent before it gets its request applied again: upgrade when no client
retries). The bodies are now sealed bytes; `key` and `request_hash` hold keyed HMACs. The purge of
delivered outbox events (and, in cases, of processed event ids) reads them by age through the new indexes.
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op
from sqlalchemy.dialects.postgresql import BYTEA, JSONB

revision: str = '20261205120000'
down_revision: str | None = '20261205110000'
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

SCHEMA = "cases"


def upgrade() -> None:
    op.execute("DELETE FROM cases.idempotency_keys")
    op.drop_column("idempotency_keys", "response_body", schema=SCHEMA)
    op.add_column("idempotency_keys", sa.Column("response_sealed", BYTEA, nullable=True), schema=SCHEMA)
    op.create_index("ix_outbox_events_delivered", "outbox_events", ["delivered_at"], schema=SCHEMA,
                    postgresql_where=sa.text("status = 'delivered'"))
    op.create_index("ix_processed_events_processed_at", "processed_events", ["processed_at"], schema=SCHEMA)


def downgrade() -> None:
    op.drop_index("ix_processed_events_processed_at", table_name="processed_events", schema=SCHEMA)
    op.drop_index("ix_outbox_events_delivered", table_name="outbox_events", schema=SCHEMA)
    op.execute("DELETE FROM cases.idempotency_keys")
    op.drop_column("idempotency_keys", "response_sealed", schema=SCHEMA)
    op.add_column("idempotency_keys", sa.Column("response_body", JSONB, nullable=True), schema=SCHEMA)
