"""cases domain tables

Revision ID: 20261129105930
Revises: 20261129105306
Create Date: 2026-11-29 10:59:31.134078
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op
from sqlalchemy.dialects import postgresql

revision: str = '20261129105930'
down_revision: str | None = '20261129105306'
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_table('case_number_sequences',
    sa.Column('prefecture_code', sa.Text(), nullable=False),
    sa.Column('year', sa.SmallInteger(), nullable=False),
    sa.Column('last_value', sa.Integer(), nullable=False),
    sa.PrimaryKeyConstraint('prefecture_code', 'year'),
    schema='cases'
    )
    op.create_table('children',
    sa.Column('id', sa.UUID(), nullable=False),
    sa.Column('first_name_enc', postgresql.BYTEA(), nullable=True),
    sa.Column('last_name_enc', postgresql.BYTEA(), nullable=True),
    sa.Column('first_name_ar_enc', postgresql.BYTEA(), nullable=True),
    sa.Column('last_name_ar_enc', postgresql.BYTEA(), nullable=True),
    sa.Column('description_enc', postgresql.BYTEA(), nullable=True),
    sa.Column('name_tokens', postgresql.ARRAY(sa.Text()), server_default='{}', nullable=False),
    sa.Column('sex', sa.Text(), nullable=False),
    sa.Column('birth_date', sa.Date(), nullable=True),
    sa.Column('estimated_age_years', sa.Numeric(precision=5, scale=2), nullable=True),
    sa.Column('age_estimated_on', sa.Date(), nullable=True),
    sa.Column('reference_birth_date', sa.Date(), nullable=False),
    sa.Column('nationality', sa.String(length=2), nullable=True),
    sa.Column('civil_status_registered', sa.Boolean(), nullable=True),
    sa.Column('birth_act_reference_enc', postgresql.BYTEA(), nullable=True),
    sa.Column('schooling', sa.Text(), server_default='unknown', nullable=False),
    sa.Column('disability', sa.Boolean(), nullable=True),
    sa.Column('version', sa.Integer(), server_default='1', nullable=False),
    sa.Column('created_at', sa.DateTime(timezone=True), server_default=sa.text('now()'), nullable=False),
    sa.Column('updated_at', sa.DateTime(timezone=True), server_default=sa.text('now()'), nullable=False),
    sa.PrimaryKeyConstraint('id'),
    schema='cases'
    )
    op.create_index('ix_children_name_tokens', 'children', ['name_tokens'], unique=False, schema='cases', postgresql_using='gin')
    op.create_index('ix_children_sex_birth', 'children', ['sex', 'reference_birth_date'], unique=False, schema='cases')
    op.create_table('idempotency_keys',
    sa.Column('caller', sa.Text(), nullable=False),
    sa.Column('key', sa.Text(), nullable=False),
    sa.Column('request_hash', postgresql.BYTEA(), nullable=False),
    sa.Column('status_code', sa.SmallInteger(), nullable=False),
    sa.Column('response_body', postgresql.JSONB(astext_type=sa.Text()), nullable=True),
    sa.Column('response_headers', postgresql.JSONB(astext_type=sa.Text()), server_default='{}', nullable=False),
    sa.Column('created_at', sa.DateTime(timezone=True), server_default=sa.text('now()'), nullable=False),
    sa.PrimaryKeyConstraint('caller', 'key'),
    schema='cases'
    )
    op.create_index('ix_idempotency_keys_created', 'idempotency_keys', ['created_at'], unique=False, schema='cases')
    op.create_table('institutions',
    sa.Column('id', sa.UUID(), nullable=False),
    sa.Column('organization_id', sa.UUID(), nullable=False),
    sa.Column('name', sa.Text(), nullable=False),
    sa.Column('prefecture_code', sa.Text(), nullable=False),
    sa.Column('places', sa.Integer(), nullable=False),
    sa.Column('emergency_vacancies', sa.Integer(), server_default='0', nullable=False),
    sa.Column('version', sa.Integer(), server_default='1', nullable=False),
    sa.Column('created_at', sa.DateTime(timezone=True), server_default=sa.text('now()'), nullable=False),
    sa.Column('updated_at', sa.DateTime(timezone=True), server_default=sa.text('now()'), nullable=False),
    sa.CheckConstraint('places >= 0 AND emergency_vacancies >= 0', name='ck_institutions_capacity'),
    sa.PrimaryKeyConstraint('id'),
    sa.UniqueConstraint('organization_id'),
    schema='cases'
    )
    op.create_index('ix_institutions_prefecture', 'institutions', ['prefecture_code'], unique=False, schema='cases')
    op.create_table('outings',
    sa.Column('id', sa.UUID(), nullable=False),
    sa.Column('field_team_id', sa.UUID(), nullable=False),
    sa.Column('started_at', sa.DateTime(timezone=True), nullable=False),
    sa.Column('ended_at', sa.DateTime(timezone=True), nullable=True),
    sa.Column('region_code', sa.Text(), nullable=False),
    sa.Column('prefecture_code', sa.Text(), nullable=False),
    sa.Column('commune_code', sa.Text(), nullable=False),
    sa.Column('members_present', postgresql.ARRAY(sa.UUID()), server_default='{}', nullable=False),
    sa.Column('organization_id', sa.UUID(), nullable=True),
    sa.Column('created_by', sa.Text(), nullable=False),
    sa.Column('created_at', sa.DateTime(timezone=True), server_default=sa.text('now()'), nullable=False),
    sa.PrimaryKeyConstraint('id'),
    schema='cases'
    )
    op.create_index('ix_outings_prefecture_started', 'outings', ['prefecture_code', sa.literal_column('started_at DESC'), sa.literal_column('id DESC')], unique=False, schema='cases')
    op.create_table('processed_events',
    sa.Column('event_id', sa.UUID(), nullable=False),
    sa.Column('event_type', sa.Text(), nullable=False),
    sa.Column('case_id', sa.UUID(), nullable=True),
    sa.Column('processed_at', sa.DateTime(timezone=True), server_default=sa.text('now()'), nullable=False),
    sa.PrimaryKeyConstraint('event_id'),
    schema='cases'
    )
    op.create_table('intakes',
    sa.Column('id', sa.UUID(), nullable=False),
    sa.Column('outing_id', sa.UUID(), nullable=True),
    sa.Column('reported_at', sa.DateTime(timezone=True), nullable=False),
    sa.Column('source', sa.Text(), nullable=False),
    sa.Column('region_code', sa.Text(), nullable=False),
    sa.Column('prefecture_code', sa.Text(), nullable=False),
    sa.Column('commune_code', sa.Text(), nullable=False),
    sa.Column('court_code', sa.Text(), nullable=False),
    sa.Column('place_type', sa.Text(), nullable=False),
    sa.Column('night', sa.Boolean(), nullable=False),
    sa.Column('exploitation_pattern', sa.Text(), nullable=False),
    sa.Column('narrative_enc', postgresql.BYTEA(), nullable=True),
    sa.Column('organization_id', sa.UUID(), nullable=True),
    sa.Column('created_by', sa.Text(), nullable=False),
    sa.Column('created_at', sa.DateTime(timezone=True), server_default=sa.text('now()'), nullable=False),
    sa.ForeignKeyConstraint(['outing_id'], ['cases.outings.id'], ),
    sa.PrimaryKeyConstraint('id'),
    schema='cases'
    )
    op.create_index('ix_intakes_outing', 'intakes', ['outing_id'], unique=False, schema='cases', postgresql_where=sa.text('outing_id IS NOT NULL'))
    op.create_index('ix_intakes_reported', 'intakes', ['reported_at'], unique=False, schema='cases')
    op.create_table('adults',
    sa.Column('id', sa.UUID(), nullable=False),
    sa.Column('intake_id', sa.UUID(), nullable=True),
    sa.Column('first_name_enc', postgresql.BYTEA(), nullable=True),
    sa.Column('last_name_enc', postgresql.BYTEA(), nullable=True),
    sa.Column('first_name_ar_enc', postgresql.BYTEA(), nullable=True),
    sa.Column('last_name_ar_enc', postgresql.BYTEA(), nullable=True),
    sa.Column('name_tokens', postgresql.ARRAY(sa.Text()), server_default='{}', nullable=False),
    sa.Column('sex', sa.Text(), nullable=True),
    sa.Column('age_years', sa.SmallInteger(), nullable=True),
    sa.Column('cnie_enc', postgresql.BYTEA(), nullable=True),
    sa.Column('cnie_index', postgresql.BYTEA(), nullable=True),
    sa.Column('nationality', sa.String(length=2), nullable=True),
    sa.Column('suspected_offender', sa.Boolean(), server_default=sa.text('false'), nullable=False),
    sa.Column('offence_notes_enc', postgresql.BYTEA(), nullable=True),
    sa.Column('created_at', sa.DateTime(timezone=True), server_default=sa.text('now()'), nullable=False),
    sa.ForeignKeyConstraint(['intake_id'], ['cases.intakes.id'], ),
    sa.PrimaryKeyConstraint('id'),
    schema='cases'
    )
    op.create_index('ix_adults_cnie_index', 'adults', ['cnie_index'], unique=False, schema='cases', postgresql_where=sa.text('cnie_index IS NOT NULL'))
    op.create_index('ix_adults_intake', 'adults', ['intake_id'], unique=False, schema='cases')
    op.create_index('ix_adults_name_tokens', 'adults', ['name_tokens'], unique=False, schema='cases', postgresql_using='gin')
    op.create_table('cases',
    sa.Column('id', sa.UUID(), nullable=False),
    sa.Column('case_number', sa.Text(), nullable=False),
    sa.Column('child_id', sa.UUID(), nullable=False),
    sa.Column('intake_id', sa.UUID(), nullable=False),
    sa.Column('region_code', sa.Text(), nullable=False),
    sa.Column('prefecture_code', sa.Text(), nullable=False),
    sa.Column('commune_code', sa.Text(), nullable=False),
    sa.Column('court_code', sa.Text(), nullable=False),
    sa.Column('status', sa.Text(), nullable=False),
    sa.Column('suspended_from_status', sa.Text(), nullable=True),
    sa.Column('risk_level', sa.Text(), nullable=True),
    sa.Column('trafficking_suspected', sa.Boolean(), server_default=sa.text('false'), nullable=False),
    sa.Column('lead_organization_id', sa.UUID(), nullable=True),
    sa.Column('case_manager_id', sa.UUID(), nullable=True),
    sa.Column('repeat_of_case_id', sa.UUID(), nullable=True),
    sa.Column('transferred_from_case_id', sa.UUID(), nullable=True),
    sa.Column('transferred_to_case_id', sa.UUID(), nullable=True),
    sa.Column('age_at_intake_years', sa.Numeric(precision=5, scale=2), nullable=True),
    sa.Column('duplicate_checked_at', sa.DateTime(timezone=True), nullable=True),
    sa.Column('opened_at', sa.DateTime(timezone=True), nullable=False),
    sa.Column('closed_at', sa.DateTime(timezone=True), nullable=True),
    sa.Column('closure_reason_enc', postgresql.BYTEA(), nullable=True),
    sa.Column('version', sa.Integer(), server_default='1', nullable=False),
    sa.Column('updated_at', sa.DateTime(timezone=True), server_default=sa.text('now()'), nullable=False),
    sa.CheckConstraint("status IN ('reported','screened','referred_to_prosecution','interim_measure','under_assessment','in_care','follow_up','closed','suspended','transferred_out','closed_not_in_scope')", name='ck_cases_status'),
    sa.ForeignKeyConstraint(['child_id'], ['cases.children.id'], ),
    sa.ForeignKeyConstraint(['intake_id'], ['cases.intakes.id'], ),
    sa.ForeignKeyConstraint(['repeat_of_case_id'], ['cases.cases.id'], ),
    sa.ForeignKeyConstraint(['transferred_from_case_id'], ['cases.cases.id'], ),
    sa.ForeignKeyConstraint(['transferred_to_case_id'], ['cases.cases.id'], ),
    sa.PrimaryKeyConstraint('id'),
    sa.UniqueConstraint('case_number'),
    schema='cases'
    )
    op.create_index('ix_cases_child', 'cases', ['child_id', sa.literal_column('opened_at DESC')], unique=False, schema='cases')
    op.create_index('ix_cases_commune_opened', 'cases', ['commune_code', sa.literal_column('opened_at DESC'), sa.literal_column('id DESC')], unique=False, schema='cases')
    op.create_index('ix_cases_intake', 'cases', ['intake_id'], unique=False, schema='cases')
    op.create_index('ix_cases_opened', 'cases', [sa.literal_column('opened_at DESC'), sa.literal_column('id DESC')], unique=False, schema='cases')
    op.create_index('ix_cases_prefecture_opened', 'cases', ['prefecture_code', sa.literal_column('opened_at DESC'), sa.literal_column('id DESC')], unique=False, schema='cases')
    op.create_index('ix_cases_region_opened', 'cases', ['region_code', sa.literal_column('opened_at DESC'), sa.literal_column('id DESC')], unique=False, schema='cases')
    op.create_index('ix_cases_status_prefecture_opened', 'cases', ['status', 'prefecture_code', sa.literal_column('opened_at DESC'), sa.literal_column('id DESC')], unique=False, schema='cases')
    op.create_index('uq_cases_one_open_per_child', 'cases', ['child_id'], unique=True, schema='cases', postgresql_where=sa.text("status NOT IN ('closed','closed_not_in_scope','transferred_out')"))
    op.create_table('assessments',
    sa.Column('id', sa.UUID(), nullable=False),
    sa.Column('case_id', sa.UUID(), nullable=False),
    sa.Column('type', sa.Text(), nullable=False),
    sa.Column('status', sa.Text(), nullable=False),
    sa.Column('completed_at', sa.DateTime(timezone=True), nullable=True),
    sa.Column('summary_enc', postgresql.BYTEA(), nullable=True),
    sa.Column('created_by', sa.Text(), nullable=False),
    sa.Column('created_at', sa.DateTime(timezone=True), server_default=sa.text('now()'), nullable=False),
    sa.ForeignKeyConstraint(['case_id'], ['cases.cases.id'], ),
    sa.PrimaryKeyConstraint('id'),
    schema='cases'
    )
    op.create_index('ix_assessments_case', 'assessments', ['case_id', 'created_at'], unique=False, schema='cases')
    op.create_table('care_plans',
    sa.Column('id', sa.UUID(), nullable=False),
    sa.Column('case_id', sa.UUID(), nullable=False),
    sa.Column('objectives_enc', postgresql.BYTEA(), nullable=True),
    sa.Column('status', sa.Text(), nullable=False),
    sa.Column('validated_by', sa.Text(), nullable=True),
    sa.Column('validated_at', sa.DateTime(timezone=True), nullable=True),
    sa.Column('created_by', sa.Text(), nullable=False),
    sa.Column('created_at', sa.DateTime(timezone=True), server_default=sa.text('now()'), nullable=False),
    sa.ForeignKeyConstraint(['case_id'], ['cases.cases.id'], ),
    sa.PrimaryKeyConstraint('id'),
    schema='cases'
    )
    op.create_index('ix_care_plans_case', 'care_plans', ['case_id', 'created_at'], unique=False, schema='cases')
    op.create_table('case_access_grants',
    sa.Column('case_id', sa.UUID(), nullable=False),
    sa.Column('organization_id', sa.UUID(), nullable=False),
    sa.Column('source_id', sa.UUID(), nullable=False),
    sa.Column('kind', sa.Text(), nullable=False),
    sa.Column('granted_at', sa.DateTime(timezone=True), server_default=sa.text('now()'), nullable=False),
    sa.Column('revoked_at', sa.DateTime(timezone=True), nullable=True),
    sa.ForeignKeyConstraint(['case_id'], ['cases.cases.id'], ),
    sa.PrimaryKeyConstraint('case_id', 'organization_id', 'source_id'),
    schema='cases'
    )
    op.create_index('ix_case_access_grants_org_active', 'case_access_grants', ['organization_id', 'case_id'], unique=False, schema='cases', postgresql_where=sa.text('revoked_at IS NULL'))
    op.create_table('case_adults',
    sa.Column('case_id', sa.UUID(), nullable=False),
    sa.Column('adult_id', sa.UUID(), nullable=False),
    sa.Column('claimed_relationship', sa.Text(), nullable=False),
    sa.Column('created_at', sa.DateTime(timezone=True), server_default=sa.text('now()'), nullable=False),
    sa.ForeignKeyConstraint(['adult_id'], ['cases.adults.id'], ),
    sa.ForeignKeyConstraint(['case_id'], ['cases.cases.id'], ),
    sa.PrimaryKeyConstraint('case_id', 'adult_id'),
    schema='cases'
    )
    op.create_index('ix_case_adults_adult', 'case_adults', ['adult_id'], unique=False, schema='cases')
    op.create_table('case_events',
    sa.Column('id', sa.BigInteger(), sa.Identity(always=True), nullable=False),
    sa.Column('case_id', sa.UUID(), nullable=False),
    sa.Column('occurred_at', sa.DateTime(timezone=True), server_default=sa.text('now()'), nullable=False),
    sa.Column('actor', sa.Text(), nullable=False),
    sa.Column('actor_organization_id', sa.UUID(), nullable=True),
    sa.Column('event_type', sa.Text(), nullable=False),
    sa.Column('from_status', sa.Text(), nullable=True),
    sa.Column('to_status', sa.Text(), nullable=True),
    sa.Column('data', postgresql.JSONB(astext_type=sa.Text()), server_default='{}', nullable=False),
    sa.Column('reason_enc', postgresql.BYTEA(), nullable=True),
    sa.Column('source_event_id', sa.UUID(), nullable=True),
    sa.ForeignKeyConstraint(['case_id'], ['cases.cases.id'], ),
    sa.PrimaryKeyConstraint('id'),
    schema='cases'
    )
    op.create_index('ix_case_events_case', 'case_events', ['case_id', 'id'], unique=False, schema='cases')
    op.create_table('follow_ups',
    sa.Column('id', sa.UUID(), nullable=False),
    sa.Column('case_id', sa.UUID(), nullable=False),
    sa.Column('visited_at', sa.DateTime(timezone=True), nullable=False),
    sa.Column('child_seen', sa.Boolean(), nullable=False),
    sa.Column('attending_school', sa.Boolean(), nullable=True),
    sa.Column('begging_observed', sa.Boolean(), nullable=False),
    sa.Column('next_visit_due', sa.Date(), nullable=True),
    sa.Column('notes_enc', postgresql.BYTEA(), nullable=True),
    sa.Column('created_by', sa.Text(), nullable=False),
    sa.Column('created_at', sa.DateTime(timezone=True), server_default=sa.text('now()'), nullable=False),
    sa.ForeignKeyConstraint(['case_id'], ['cases.cases.id'], ),
    sa.PrimaryKeyConstraint('id'),
    schema='cases'
    )
    op.create_index('ix_follow_ups_case', 'follow_ups', ['case_id', 'visited_at'], unique=False, schema='cases')
    op.create_table('judicial_measures',
    sa.Column('id', sa.UUID(), nullable=False),
    sa.Column('case_id', sa.UUID(), nullable=False),
    sa.Column('referral_id', sa.UUID(), nullable=True),
    sa.Column('decision_id', sa.UUID(), nullable=True),
    sa.Column('source_event_id', sa.UUID(), nullable=True),
    sa.Column('decision_type', sa.Text(), nullable=False),
    sa.Column('concerns', sa.Text(), nullable=False),
    sa.Column('adult_id', sa.UUID(), nullable=True),
    sa.Column('decided_at', sa.DateTime(timezone=True), nullable=False),
    sa.Column('reference', sa.Text(), nullable=True),
    sa.Column('active', sa.Boolean(), nullable=False),
    sa.Column('lifted_at', sa.DateTime(timezone=True), nullable=True),
    sa.Column('lifted_by_id', sa.UUID(), nullable=True),
    sa.Column('created_at', sa.DateTime(timezone=True), server_default=sa.text('now()'), nullable=False),
    sa.ForeignKeyConstraint(['case_id'], ['cases.cases.id'], ),
    sa.PrimaryKeyConstraint('id'),
    schema='cases'
    )
    op.create_index('ix_judicial_measures_case', 'judicial_measures', ['case_id', 'decided_at'], unique=False, schema='cases')
    op.create_table('service_deliveries',
    sa.Column('id', sa.UUID(), nullable=False),
    sa.Column('case_id', sa.UUID(), nullable=False),
    sa.Column('beneficiary', sa.Text(), nullable=False),
    sa.Column('service_type', sa.Text(), nullable=False),
    sa.Column('provider_organization_id', sa.UUID(), nullable=True),
    sa.Column('status', sa.Text(), nullable=False),
    sa.Column('notes_enc', postgresql.BYTEA(), nullable=True),
    sa.Column('created_by', sa.Text(), nullable=False),
    sa.Column('created_at', sa.DateTime(timezone=True), server_default=sa.text('now()'), nullable=False),
    sa.Column('version', sa.Integer(), server_default='1', nullable=False),
    sa.Column('updated_at', sa.DateTime(timezone=True), server_default=sa.text('now()'), nullable=False),
    sa.ForeignKeyConstraint(['case_id'], ['cases.cases.id'], ),
    sa.PrimaryKeyConstraint('id'),
    schema='cases'
    )
    op.create_index('ix_service_deliveries_case', 'service_deliveries', ['case_id', 'created_at'], unique=False, schema='cases')
    op.create_table('filiation_checks',
    sa.Column('id', sa.UUID(), nullable=False),
    sa.Column('case_id', sa.UUID(), nullable=False),
    sa.Column('adult_id', sa.UUID(), nullable=False),
    sa.Column('claimed_relationship', sa.Text(), nullable=False),
    sa.Column('methods', postgresql.ARRAY(sa.Text()), nullable=False),
    sa.Column('dna_order_reference_enc', postgresql.BYTEA(), nullable=True),
    sa.Column('dna_order_measure_id', sa.UUID(), nullable=True),
    sa.Column('result', sa.Text(), nullable=False),
    sa.Column('notes_enc', postgresql.BYTEA(), nullable=True),
    sa.Column('created_by', sa.Text(), nullable=False),
    sa.Column('created_at', sa.DateTime(timezone=True), server_default=sa.text('now()'), nullable=False),
    sa.Column('version', sa.Integer(), server_default='1', nullable=False),
    sa.Column('updated_at', sa.DateTime(timezone=True), server_default=sa.text('now()'), nullable=False),
    sa.ForeignKeyConstraint(['adult_id'], ['cases.adults.id'], ),
    sa.ForeignKeyConstraint(['case_id'], ['cases.cases.id'], ),
    sa.ForeignKeyConstraint(['dna_order_measure_id'], ['cases.judicial_measures.id'], ),
    sa.PrimaryKeyConstraint('id'),
    schema='cases'
    )
    op.create_index('ix_filiation_checks_case', 'filiation_checks', ['case_id', 'created_at'], unique=False, schema='cases')
    op.create_table('placements',
    sa.Column('id', sa.UUID(), nullable=False),
    sa.Column('case_id', sa.UUID(), nullable=False),
    sa.Column('institution_id', sa.UUID(), nullable=False),
    sa.Column('organization_id', sa.UUID(), nullable=False),
    sa.Column('order_measure_id', sa.UUID(), nullable=False),
    sa.Column('emergency', sa.Boolean(), nullable=False),
    sa.Column('started_at', sa.DateTime(timezone=True), nullable=False),
    sa.Column('ended_at', sa.DateTime(timezone=True), nullable=True),
    sa.Column('created_by', sa.Text(), nullable=False),
    sa.Column('created_at', sa.DateTime(timezone=True), server_default=sa.text('now()'), nullable=False),
    sa.ForeignKeyConstraint(['case_id'], ['cases.cases.id'], ),
    sa.ForeignKeyConstraint(['institution_id'], ['cases.institutions.id'], ),
    sa.ForeignKeyConstraint(['order_measure_id'], ['cases.judicial_measures.id'], ),
    sa.PrimaryKeyConstraint('id'),
    schema='cases'
    )
    op.create_index('ix_placements_case', 'placements', ['case_id'], unique=False, schema='cases')
    op.create_index('ix_placements_institution_active', 'placements', ['institution_id'], unique=False, schema='cases', postgresql_where=sa.text('ended_at IS NULL'))
    op.create_index('ix_placements_org_active', 'placements', ['organization_id', 'case_id'], unique=False, schema='cases', postgresql_where=sa.text('ended_at IS NULL'))


def downgrade() -> None:
    op.drop_index('ix_placements_org_active', table_name='placements', schema='cases', postgresql_where=sa.text('ended_at IS NULL'))
    op.drop_index('ix_placements_institution_active', table_name='placements', schema='cases', postgresql_where=sa.text('ended_at IS NULL'))
    op.drop_index('ix_placements_case', table_name='placements', schema='cases')
    op.drop_table('placements', schema='cases')
    op.drop_index('ix_filiation_checks_case', table_name='filiation_checks', schema='cases')
    op.drop_table('filiation_checks', schema='cases')
    op.drop_index('ix_service_deliveries_case', table_name='service_deliveries', schema='cases')
    op.drop_table('service_deliveries', schema='cases')
    op.drop_index('ix_judicial_measures_case', table_name='judicial_measures', schema='cases')
    op.drop_table('judicial_measures', schema='cases')
    op.drop_index('ix_follow_ups_case', table_name='follow_ups', schema='cases')
    op.drop_table('follow_ups', schema='cases')
    op.drop_index('ix_case_events_case', table_name='case_events', schema='cases')
    op.drop_table('case_events', schema='cases')
    op.drop_index('ix_case_adults_adult', table_name='case_adults', schema='cases')
    op.drop_table('case_adults', schema='cases')
    op.drop_index('ix_case_access_grants_org_active', table_name='case_access_grants', schema='cases', postgresql_where=sa.text('revoked_at IS NULL'))
    op.drop_table('case_access_grants', schema='cases')
    op.drop_index('ix_care_plans_case', table_name='care_plans', schema='cases')
    op.drop_table('care_plans', schema='cases')
    op.drop_index('ix_assessments_case', table_name='assessments', schema='cases')
    op.drop_table('assessments', schema='cases')
    op.drop_index('uq_cases_one_open_per_child', table_name='cases', schema='cases', postgresql_where=sa.text("status NOT IN ('closed','closed_not_in_scope','transferred_out')"))
    op.drop_index('ix_cases_status_prefecture_opened', table_name='cases', schema='cases')
    op.drop_index('ix_cases_region_opened', table_name='cases', schema='cases')
    op.drop_index('ix_cases_prefecture_opened', table_name='cases', schema='cases')
    op.drop_index('ix_cases_opened', table_name='cases', schema='cases')
    op.drop_index('ix_cases_intake', table_name='cases', schema='cases')
    op.drop_index('ix_cases_commune_opened', table_name='cases', schema='cases')
    op.drop_index('ix_cases_child', table_name='cases', schema='cases')
    op.drop_table('cases', schema='cases')
    op.drop_index('ix_adults_name_tokens', table_name='adults', schema='cases', postgresql_using='gin')
    op.drop_index('ix_adults_intake', table_name='adults', schema='cases')
    op.drop_index('ix_adults_cnie_index', table_name='adults', schema='cases', postgresql_where=sa.text('cnie_index IS NOT NULL'))
    op.drop_table('adults', schema='cases')
    op.drop_index('ix_intakes_reported', table_name='intakes', schema='cases')
    op.drop_index('ix_intakes_outing', table_name='intakes', schema='cases', postgresql_where=sa.text('outing_id IS NOT NULL'))
    op.drop_table('intakes', schema='cases')
    op.drop_table('processed_events', schema='cases')
    op.drop_index('ix_outings_prefecture_started', table_name='outings', schema='cases')
    op.drop_table('outings', schema='cases')
    op.drop_index('ix_institutions_prefecture', table_name='institutions', schema='cases')
    op.drop_table('institutions', schema='cases')
    op.drop_index('ix_idempotency_keys_created', table_name='idempotency_keys', schema='cases')
    op.drop_table('idempotency_keys', schema='cases')
    op.drop_index('ix_children_sex_birth', table_name='children', schema='cases')
    op.drop_index('ix_children_name_tokens', table_name='children', schema='cases', postgresql_using='gin')
    op.drop_table('children', schema='cases')
    op.drop_table('case_number_sequences', schema='cases')
