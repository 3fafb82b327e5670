"""webhook subscriptions remember what their owner may read (decision 0105)

`owner_scopes` holds the scopes of the subscription's creator that decide what it receives
(`referrals:read`, `offences:read`), captured at creation. Deliveries re-check them for every event:
without `referrals:read` nothing is delivered, without `offences:read` a decision's offence fields are
removed. Subscriptions created before this revision get an empty set, so they receive nothing until their
organisation subscribes again with a client that holds the read scope (fail closed).

Revision ID: 20261205100000
Revises: 20261129140000
Create Date: 2026-12-05 10:00:00
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op
from sqlalchemy.dialects import postgresql

revision: str = '20261205100000'
down_revision: str | None = '20261129140000'
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

SCHEMA = 'referrals'


def upgrade() -> None:
    op.add_column('webhook_subscriptions',
                  sa.Column('owner_scopes', postgresql.ARRAY(sa.Text), nullable=False, server_default='{}'),
                  schema=SCHEMA)


def downgrade() -> None:
    op.drop_column('webhook_subscriptions', 'owner_scopes', schema=SCHEMA)
