"""audit checkpoints: signed, chained checkpoints of the audit chains' heads; CHECK on the chain number

Revision ID: 20261205130000
Revises: 20261205120000
Create Date: 2026-12-05 13:00:00
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op
from sqlalchemy.dialects import postgresql

revision: str = '20261205130000'
down_revision: str | None = '20261205120000'
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_table('audit_checkpoints',
    sa.Column('number', sa.BigInteger(), autoincrement=False, nullable=False),
    sa.Column('created_at', sa.DateTime(timezone=True), nullable=False),
    sa.Column('heads', postgresql.JSONB(astext_type=sa.Text()), nullable=False),
    sa.Column('prev_hash', postgresql.BYTEA(), nullable=False),
    sa.Column('hash', postgresql.BYTEA(), nullable=False),
    sa.Column('key_id', sa.Text(), nullable=False),
    sa.Column('signature', postgresql.BYTEA(), nullable=False),
    sa.CheckConstraint('number >= 1', name='ck_audit_checkpoints_number'),
    sa.PrimaryKeyConstraint('number'),
    schema='referrals'
    )
    op.create_check_constraint('ck_audit_events_chain', 'audit_events', 'chain >= 0 AND chain < 8', schema='referrals')


def downgrade() -> None:
    op.drop_constraint('ck_audit_events_chain', 'audit_events', schema='referrals', type_='check')
    op.drop_table('audit_checkpoints', schema='referrals')
