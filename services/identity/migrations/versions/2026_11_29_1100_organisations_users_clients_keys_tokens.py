"""organisations users clients keys tokens field teams

Revision ID: 20261129110012
Revises: 20261129105258
Create Date: 2026-11-29 11:00:12.433463
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op
from sqlalchemy.dialects import postgresql

revision: str = '20261129110012'
down_revision: str | None = '20261129105258'
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_table('idempotency_keys',
    sa.Column('caller', sa.Text(), nullable=False),
    sa.Column('key', sa.Text(), nullable=False),
    sa.Column('request_hash', postgresql.BYTEA(), nullable=False),
    sa.Column('status_code', sa.SmallInteger(), nullable=False),
    sa.Column('response_body', postgresql.JSONB(astext_type=sa.Text()), nullable=True),
    sa.Column('response_headers', postgresql.JSONB(astext_type=sa.Text()), server_default='{}', nullable=False),
    sa.Column('created_at', sa.DateTime(timezone=True), server_default=sa.text('now()'), nullable=False),
    sa.PrimaryKeyConstraint('caller', 'key'),
    schema='identity'
    )
    op.create_index('ix_idempotency_keys_created', 'idempotency_keys', ['created_at'], unique=False, schema='identity')
    op.create_table('login_throttles',
    sa.Column('key', sa.Text(), nullable=False),
    sa.Column('failures', sa.Integer(), nullable=False),
    sa.Column('window_started_at', sa.DateTime(timezone=True), nullable=False),
    sa.Column('blocked_until', sa.DateTime(timezone=True), nullable=True),
    sa.PrimaryKeyConstraint('key'),
    schema='identity'
    )
    op.create_table('signing_keys',
    sa.Column('kid', sa.Text(), nullable=False),
    sa.Column('algorithm', sa.Text(), server_default='EdDSA', nullable=False),
    sa.Column('public_jwk', postgresql.JSONB(astext_type=sa.Text()), nullable=False),
    sa.Column('private_key_encrypted', postgresql.BYTEA(), nullable=False),
    sa.Column('kek_id', sa.Text(), nullable=False),
    sa.Column('created_at', sa.DateTime(timezone=True), server_default=sa.text('now()'), nullable=False),
    sa.Column('activates_at', sa.DateTime(timezone=True), nullable=False),
    sa.Column('retires_at', sa.DateTime(timezone=True), nullable=True),
    sa.Column('expires_at', sa.DateTime(timezone=True), nullable=True),
    sa.PrimaryKeyConstraint('kid'),
    schema='identity'
    )
    op.create_table('territories',
    sa.Column('code', sa.Text(), nullable=False),
    sa.Column('level', sa.Text(), nullable=False),
    sa.Column('name_fr', sa.Text(), nullable=False),
    sa.Column('name_ar', sa.Text(), nullable=False),
    sa.Column('parent_code', sa.Text(), nullable=True),
    sa.Column('phase', sa.Text(), nullable=True),
    sa.Column('case_prefix', sa.Text(), nullable=True),
    sa.CheckConstraint("level IN ('region', 'prefecture', 'commune', 'arrondissement')", name='level_known'),
    sa.ForeignKeyConstraint(['parent_code'], ['identity.territories.code'], ),
    sa.PrimaryKeyConstraint('code'),
    sa.UniqueConstraint('case_prefix'),
    schema='identity'
    )
    op.create_index('ix_territories_level', 'territories', ['level', 'code'], unique=False, schema='identity')
    op.create_index('ix_territories_parent', 'territories', ['parent_code', 'code'], unique=False, schema='identity')
    op.create_table('courts',
    sa.Column('code', sa.Text(), nullable=False),
    sa.Column('name_fr', sa.Text(), nullable=False),
    sa.Column('name_ar', sa.Text(), nullable=False),
    sa.Column('kind', sa.Text(), nullable=False),
    sa.Column('appeal_court_code', sa.Text(), nullable=True),
    sa.Column('territory_code', sa.Text(), nullable=False),
    sa.CheckConstraint("kind IN ('appeal', 'first_instance')", name='kind_known'),
    sa.ForeignKeyConstraint(['appeal_court_code'], ['identity.courts.code'], ),
    sa.ForeignKeyConstraint(['territory_code'], ['identity.territories.code'], ),
    sa.PrimaryKeyConstraint('code'),
    schema='identity'
    )
    op.create_table('field_teams',
    sa.Column('id', sa.UUID(), nullable=False),
    sa.Column('territory_code', sa.Text(), nullable=False),
    sa.Column('name', sa.Text(), nullable=False),
    sa.Column('created_at', sa.DateTime(timezone=True), server_default=sa.text('now()'), nullable=False),
    sa.Column('updated_at', sa.DateTime(timezone=True), server_default=sa.text('now()'), nullable=False),
    sa.Column('version', sa.Integer(), server_default='1', nullable=False),
    sa.ForeignKeyConstraint(['territory_code'], ['identity.territories.code'], ),
    sa.PrimaryKeyConstraint('id'),
    sa.UniqueConstraint('territory_code', 'name', name='uq_field_teams_territory_name'),
    schema='identity'
    )
    op.create_table('organizations',
    sa.Column('id', sa.UUID(), nullable=False),
    sa.Column('name', sa.Text(), nullable=False),
    sa.Column('type', sa.Text(), nullable=False),
    sa.Column('territory_code', sa.Text(), nullable=False),
    sa.Column('court_code', sa.Text(), nullable=True),
    sa.Column('created_at', sa.DateTime(timezone=True), server_default=sa.text('now()'), nullable=False),
    sa.Column('updated_at', sa.DateTime(timezone=True), server_default=sa.text('now()'), nullable=False),
    sa.Column('version', sa.Integer(), server_default='1', nullable=False),
    sa.ForeignKeyConstraint(['court_code'], ['identity.courts.code'], ),
    sa.PrimaryKeyConstraint('id'),
    sa.UniqueConstraint('name', 'territory_code', name='uq_organizations_name_territory'),
    schema='identity'
    )
    op.create_index('ix_organizations_territory', 'organizations', ['territory_code', 'id'], unique=False, schema='identity')
    op.create_table('api_clients',
    sa.Column('id', sa.UUID(), nullable=False),
    sa.Column('name', sa.Text(), nullable=False),
    sa.Column('organization_id', sa.UUID(), nullable=False),
    sa.Column('scopes', postgresql.ARRAY(sa.Text()), nullable=False),
    sa.Column('territories', postgresql.ARRAY(sa.Text()), nullable=False),
    sa.Column('active', sa.Boolean(), server_default=sa.text('true'), nullable=False),
    sa.Column('created_at', sa.DateTime(timezone=True), server_default=sa.text('now()'), nullable=False),
    sa.Column('updated_at', sa.DateTime(timezone=True), server_default=sa.text('now()'), nullable=False),
    sa.Column('version', sa.Integer(), server_default='1', nullable=False),
    sa.ForeignKeyConstraint(['organization_id'], ['identity.organizations.id'], ),
    sa.PrimaryKeyConstraint('id'),
    sa.UniqueConstraint('organization_id', 'name', name='uq_api_clients_org_name'),
    schema='identity'
    )
    op.create_table('users',
    sa.Column('id', sa.UUID(), nullable=False),
    sa.Column('username', sa.Text(), nullable=False),
    sa.Column('full_name', sa.Text(), nullable=False),
    sa.Column('email', sa.Text(), nullable=True),
    sa.Column('organization_id', sa.UUID(), nullable=False),
    sa.Column('role', sa.Text(), nullable=False),
    sa.Column('territories', postgresql.ARRAY(sa.Text()), nullable=False),
    sa.Column('active', sa.Boolean(), server_default=sa.text('true'), nullable=False),
    sa.Column('password_hash', sa.Text(), nullable=False),
    sa.Column('password_changed_at', sa.DateTime(timezone=True), server_default=sa.text('now()'), nullable=False),
    sa.Column('last_login_at', sa.DateTime(timezone=True), nullable=True),
    sa.Column('created_at', sa.DateTime(timezone=True), server_default=sa.text('now()'), nullable=False),
    sa.Column('updated_at', sa.DateTime(timezone=True), server_default=sa.text('now()'), nullable=False),
    sa.Column('version', sa.Integer(), server_default='1', nullable=False),
    sa.ForeignKeyConstraint(['organization_id'], ['identity.organizations.id'], ),
    sa.PrimaryKeyConstraint('id'),
    schema='identity'
    )
    op.create_index('ix_users_organization', 'users', ['organization_id', 'id'], unique=False, schema='identity')
    op.create_index('uq_users_username', 'users', [sa.literal_column('lower(username)')], unique=True, schema='identity')
    op.create_table('client_secrets',
    sa.Column('id', sa.UUID(), nullable=False),
    sa.Column('client_id', sa.UUID(), nullable=False),
    sa.Column('secret_hash', postgresql.BYTEA(), nullable=False),
    sa.Column('created_at', sa.DateTime(timezone=True), server_default=sa.text('now()'), nullable=False),
    sa.Column('expires_at', sa.DateTime(timezone=True), nullable=True),
    sa.ForeignKeyConstraint(['client_id'], ['identity.api_clients.id'], ),
    sa.PrimaryKeyConstraint('id'),
    sa.UniqueConstraint('secret_hash'),
    schema='identity'
    )
    op.create_index('ix_client_secrets_client', 'client_secrets', ['client_id'], unique=False, schema='identity')
    op.create_table('field_team_members',
    sa.Column('field_team_id', sa.UUID(), nullable=False),
    sa.Column('user_id', sa.UUID(), nullable=False),
    sa.ForeignKeyConstraint(['field_team_id'], ['identity.field_teams.id'], ondelete='CASCADE'),
    sa.ForeignKeyConstraint(['user_id'], ['identity.users.id'], ),
    sa.PrimaryKeyConstraint('field_team_id', 'user_id'),
    schema='identity'
    )
    op.create_index('ix_field_team_members_user', 'field_team_members', ['user_id'], unique=False, schema='identity')
    op.create_table('refresh_tokens',
    sa.Column('id', sa.UUID(), nullable=False),
    sa.Column('family_id', sa.UUID(), nullable=False),
    sa.Column('user_id', sa.UUID(), nullable=False),
    sa.Column('token_hash', postgresql.BYTEA(), nullable=False),
    sa.Column('created_at', sa.DateTime(timezone=True), server_default=sa.text('now()'), nullable=False),
    sa.Column('expires_at', sa.DateTime(timezone=True), nullable=False),
    sa.Column('used_at', sa.DateTime(timezone=True), nullable=True),
    sa.Column('revoked_at', sa.DateTime(timezone=True), nullable=True),
    sa.ForeignKeyConstraint(['user_id'], ['identity.users.id'], ),
    sa.PrimaryKeyConstraint('id'),
    sa.UniqueConstraint('token_hash'),
    schema='identity'
    )
    op.create_index('ix_refresh_tokens_family', 'refresh_tokens', ['family_id'], unique=False, schema='identity')
    op.create_index('ix_refresh_tokens_user', 'refresh_tokens', ['user_id'], unique=False, schema='identity')


def downgrade() -> None:
    op.drop_index('ix_refresh_tokens_user', table_name='refresh_tokens', schema='identity')
    op.drop_index('ix_refresh_tokens_family', table_name='refresh_tokens', schema='identity')
    op.drop_table('refresh_tokens', schema='identity')
    op.drop_index('ix_field_team_members_user', table_name='field_team_members', schema='identity')
    op.drop_table('field_team_members', schema='identity')
    op.drop_index('ix_client_secrets_client', table_name='client_secrets', schema='identity')
    op.drop_table('client_secrets', schema='identity')
    op.drop_index('uq_users_username', table_name='users', schema='identity')
    op.drop_index('ix_users_organization', table_name='users', schema='identity')
    op.drop_table('users', schema='identity')
    op.drop_table('api_clients', schema='identity')
    op.drop_index('ix_organizations_territory', table_name='organizations', schema='identity')
    op.drop_table('organizations', schema='identity')
    op.drop_table('field_teams', schema='identity')
    op.drop_table('courts', schema='identity')
    op.drop_index('ix_territories_parent', table_name='territories', schema='identity')
    op.drop_index('ix_territories_level', table_name='territories', schema='identity')
    op.drop_table('territories', schema='identity')
    op.drop_table('signing_keys', schema='identity')
    op.drop_table('login_throttles', schema='identity')
    op.drop_index('ix_idempotency_keys_created', table_name='idempotency_keys', schema='identity')
    op.drop_table('idempotency_keys', schema='identity')
