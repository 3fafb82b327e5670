"""revocations: the deny-list every token verifier polls (decision 0103)

Revision ID: 20261205100000
Revises: 20261129110012
Create Date: 2026-12-05 10:00:00
"""
from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = '20261205100000'
down_revision: str | None = '20261129110012'
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_table(
        'revocations',
        sa.Column('id', sa.BigInteger(), sa.Identity(always=True), nullable=False),
        sa.Column('subject', sa.Text(), nullable=True),
        sa.Column('min_version', sa.Integer(), nullable=True),
        sa.Column('kid', sa.Text(), nullable=True),
        sa.Column('issued_after', sa.DateTime(timezone=True), nullable=True),
        sa.Column('reason', sa.Text(), nullable=False),
        sa.Column('created_at', sa.DateTime(timezone=True), server_default=sa.text('now()'), nullable=False),
        sa.Column('expires_at', sa.DateTime(timezone=True), nullable=False),
        sa.CheckConstraint(
            "(subject IS NOT NULL AND min_version IS NOT NULL AND kid IS NULL AND issued_after IS NULL)"
            " OR (subject IS NULL AND min_version IS NULL AND kid IS NOT NULL)", name='subject_or_key'),
        sa.CheckConstraint("subject IS NULL OR subject ~ '^(user|client):[0-9a-f-]{36}$'", name='subject_form'),
        sa.PrimaryKeyConstraint('id'),
        schema='identity',
    )
    op.create_index('ix_revocations_expires', 'revocations', ['expires_at'], unique=False, schema='identity')
    op.create_index('ix_revocations_subject', 'revocations', ['subject'], unique=False, schema='identity')
    op.create_index('ix_revocations_kid', 'revocations', ['kid'], unique=False, schema='identity')


def downgrade() -> None:
    op.drop_table('revocations', schema='identity')
