"""referrals decisions webhooks

Revision ID: 20261129110015
Revises: 20261129105313
Create Date: 2026-11-29 11:00:15.866084
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op
from sqlalchemy.dialects import postgresql

revision: str = '20261129110015'
down_revision: str | None = '20261129105313'
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.execute(sa.schema.CreateSequence(sa.Sequence('referral_change_seq', schema='referrals')))
    op.create_table('idempotency_keys',
    sa.Column('caller', sa.Text(), nullable=False),
    sa.Column('key', sa.Text(), nullable=False),
    sa.Column('request_hash', postgresql.BYTEA(), nullable=False),
    sa.Column('status_code', sa.SmallInteger(), nullable=False),
    sa.Column('response_body', postgresql.JSONB(astext_type=sa.Text()), nullable=True),
    sa.Column('response_headers', postgresql.JSONB(astext_type=sa.Text()), server_default='{}', nullable=False),
    sa.Column('created_at', sa.DateTime(timezone=True), server_default=sa.text('now()'), nullable=False),
    sa.PrimaryKeyConstraint('caller', 'key'),
    schema='referrals'
    )
    op.create_index('ix_idempotency_keys_created', 'idempotency_keys', ['created_at'], unique=False, schema='referrals')
    op.create_table('prosecutor_decisions',
    sa.Column('id', sa.UUID(), nullable=False),
    sa.Column('referral_id', sa.UUID(), nullable=False),
    sa.Column('case_id', sa.UUID(), nullable=False),
    sa.Column('type', sa.Text(), nullable=False),
    sa.Column('concerns', sa.Text(), nullable=False),
    sa.Column('adult_id', sa.UUID(), nullable=True),
    sa.Column('legal_basis', sa.Text(), nullable=True),
    sa.Column('decided_at', sa.DateTime(timezone=True), nullable=False),
    sa.Column('notes', sa.Text(), nullable=True),
    sa.Column('recorded_by', sa.Text(), nullable=False),
    sa.Column('organization_id', sa.UUID(), nullable=False),
    sa.Column('created_at', sa.DateTime(timezone=True), nullable=False),
    sa.CheckConstraint("(concerns = 'adult') = (adult_id IS NOT NULL)", name='ck_prosecutor_decisions_adult'),
    sa.CheckConstraint("concerns IN ('child', 'adult')", name='ck_prosecutor_decisions_concerns'),
    sa.PrimaryKeyConstraint('id'),
    schema='referrals'
    )
    op.create_index('ix_prosecutor_decisions_referral', 'prosecutor_decisions', ['referral_id', 'created_at'], unique=False, schema='referrals')
    op.create_table('referral_history',
    sa.Column('id', sa.BigInteger(), sa.Identity(always=True), nullable=False),
    sa.Column('referral_id', sa.UUID(), nullable=False),
    sa.Column('event_type', sa.Text(), nullable=False),
    sa.Column('from_status', sa.Text(), nullable=True),
    sa.Column('to_status', sa.Text(), nullable=False),
    sa.Column('actor', sa.Text(), nullable=False),
    sa.Column('actor_organization_id', sa.UUID(), nullable=True),
    sa.Column('note', sa.Text(), nullable=True),
    sa.Column('occurred_at', sa.DateTime(timezone=True), nullable=False),
    sa.PrimaryKeyConstraint('id'),
    schema='referrals'
    )
    op.create_index('ix_referral_history_referral', 'referral_history', ['referral_id', 'id'], unique=False, schema='referrals')
    op.create_table('referrals',
    sa.Column('id', sa.UUID(), nullable=False),
    sa.Column('case_id', sa.UUID(), nullable=False),
    sa.Column('kind', sa.Text(), nullable=False),
    sa.Column('status', sa.Text(), nullable=False),
    sa.Column('sender_organization_id', sa.UUID(), nullable=False),
    sa.Column('target_organization_id', sa.UUID(), nullable=False),
    sa.Column('target_organization_type', sa.Text(), nullable=False),
    sa.Column('reason', sa.Text(), nullable=False),
    sa.Column('urgency', sa.Text(), nullable=False),
    sa.Column('service_type', sa.Text(), nullable=True),
    sa.Column('snapshot', postgresql.JSONB(astext_type=sa.Text()), nullable=False),
    sa.Column('external_reference', sa.Text(), nullable=True),
    sa.Column('outcome', sa.Text(), nullable=True),
    sa.Column('rejection_reason', sa.Text(), nullable=True),
    sa.Column('cancellation_reason', sa.Text(), nullable=True),
    sa.Column('created_by', sa.Text(), nullable=False),
    sa.Column('created_at', sa.DateTime(timezone=True), nullable=False),
    sa.Column('updated_at', sa.DateTime(timezone=True), nullable=False),
    sa.Column('closed_at', sa.DateTime(timezone=True), nullable=True),
    sa.Column('version', sa.Integer(), nullable=False),
    sa.Column('change_seq', sa.BigInteger(), nullable=False),
    sa.CheckConstraint("(kind = 'service') = (service_type IS NOT NULL)", name='ck_referrals_service_type'),
    sa.CheckConstraint("kind IN ('prosecution', 'service')", name='ck_referrals_kind'),
    sa.PrimaryKeyConstraint('id'),
    sa.UniqueConstraint('change_seq', name='uq_referrals_change_seq'),
    schema='referrals'
    )
    op.create_index('ix_referrals_case', 'referrals', ['case_id'], unique=False, schema='referrals')
    op.create_index('ix_referrals_incoming', 'referrals', ['target_organization_id', 'change_seq'], unique=False, schema='referrals')
    op.create_index('ix_referrals_outgoing', 'referrals', ['sender_organization_id', 'change_seq'], unique=False, schema='referrals')
    op.create_index('uq_referrals_open_per_target', 'referrals', ['case_id', 'target_organization_id', 'kind'], unique=True, schema='referrals', postgresql_where=sa.text("status IN ('sent', 'acknowledged', 'accepted', 'decided')"))
    op.create_table('webhook_subscriptions',
    sa.Column('id', sa.UUID(), nullable=False),
    sa.Column('organization_id', sa.UUID(), nullable=False),
    sa.Column('url', sa.Text(), nullable=False),
    sa.Column('events', postgresql.ARRAY(sa.Text()), nullable=False),
    sa.Column('secret', sa.Text(), nullable=False),
    sa.Column('description', sa.Text(), nullable=True),
    sa.Column('active', sa.Boolean(), server_default=sa.text('true'), nullable=False),
    sa.Column('created_by', sa.Text(), nullable=False),
    sa.Column('created_at', sa.DateTime(timezone=True), nullable=False),
    sa.PrimaryKeyConstraint('id'),
    schema='referrals'
    )
    op.create_index('ix_webhook_subscriptions_org', 'webhook_subscriptions', ['organization_id', 'created_at'], unique=False, schema='referrals')
    op.create_index('ix_outbox_events_destination', 'outbox_events', ['destination', sa.literal_column('created_at DESC'), 'id'], unique=False, schema='referrals')
    op.create_index('ix_outbox_events_line', 'outbox_events', ['destination', 'aggregate_id'], unique=False, schema='referrals', postgresql_where=sa.text("status = 'pending'"))


def downgrade() -> None:
    op.drop_index('ix_outbox_events_line', table_name='outbox_events', schema='referrals', postgresql_where=sa.text("status = 'pending'"))
    op.drop_index('ix_outbox_events_destination', table_name='outbox_events', schema='referrals')
    op.drop_index('ix_webhook_subscriptions_org', table_name='webhook_subscriptions', schema='referrals')
    op.drop_table('webhook_subscriptions', schema='referrals')
    op.drop_index('uq_referrals_open_per_target', table_name='referrals', schema='referrals', postgresql_where=sa.text("status IN ('sent', 'acknowledged', 'accepted', 'decided')"))
    op.drop_index('ix_referrals_outgoing', table_name='referrals', schema='referrals')
    op.drop_index('ix_referrals_incoming', table_name='referrals', schema='referrals')
    op.drop_index('ix_referrals_case', table_name='referrals', schema='referrals')
    op.drop_table('referrals', schema='referrals')
    op.drop_index('ix_referral_history_referral', table_name='referral_history', schema='referrals')
    op.drop_table('referral_history', schema='referrals')
    op.drop_index('ix_prosecutor_decisions_referral', table_name='prosecutor_decisions', schema='referrals')
    op.drop_table('prosecutor_decisions', schema='referrals')
    op.drop_index('ix_idempotency_keys_created', table_name='idempotency_keys', schema='referrals')
    op.drop_table('idempotency_keys', schema='referrals')
    op.execute(sa.schema.DropSequence(sa.Sequence('referral_change_seq', schema='referrals')))
