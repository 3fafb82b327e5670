"""merge requests across territories, unmerge, and the record each case was opened with

Revision ID: 20261205100000
Revises: 20261129142000
Create Date: 2026-12-05 10:00:00

Decision 0100:
- `cases.recorded_child_id`: the child record a case was opened with. A merge moves `child_id` to the
  survivor and never this column; reads show the child's identity from it, an unmerge moves cases back to it.
  Existing rows take their current `child_id`; a BEFORE INSERT trigger fills it the same way for writers
  that leave it out (bulk loaders), so the column is NOT NULL.
- `child_merge_requests`: "same child" said of a child the requester may not see, pending until a case
  manager of the other child's territory accepts or refuses it.
- `duplicate_reviews`: the request a merge came from, the repeat links it set, and the unmerge that undid it.
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op
from sqlalchemy.dialects import postgresql

revision: str = '20261205100000'
down_revision: str | None = '20261129142000'
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

FILL_RECORDED = """
CREATE FUNCTION cases.cases_fill_recorded_child() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    NEW.recorded_child_id := COALESCE(NEW.recorded_child_id, NEW.child_id);
    RETURN NEW;
END $$
"""


def upgrade() -> None:
    op.add_column('cases', sa.Column('recorded_child_id', sa.UUID(), nullable=True), schema='cases')
    op.execute("UPDATE cases.cases SET recorded_child_id = child_id")
    op.alter_column('cases', 'recorded_child_id', nullable=False, schema='cases')
    op.create_foreign_key('fk_cases_recorded_child_id', 'cases', 'children', ['recorded_child_id'], ['id'],
                          source_schema='cases', referent_schema='cases')
    op.create_index('ix_cases_recorded_child', 'cases', ['recorded_child_id'], unique=False, schema='cases')
    op.execute(FILL_RECORDED)
    op.execute("CREATE TRIGGER cases_fill_recorded_child BEFORE INSERT ON cases.cases FOR EACH ROW "
               "EXECUTE FUNCTION cases.cases_fill_recorded_child()")

    op.add_column('duplicate_reviews', sa.Column('merge_request_id', sa.UUID(), nullable=True), schema='cases')
    op.add_column('duplicate_reviews', sa.Column('repeat_links', postgresql.JSONB(astext_type=sa.Text()),
                                                 nullable=True), schema='cases')
    op.add_column('duplicate_reviews', sa.Column('unmerged_at', sa.DateTime(timezone=True), nullable=True),
                  schema='cases')
    op.add_column('duplicate_reviews', sa.Column('unmerged_by', sa.Text(), nullable=True), schema='cases')
    op.add_column('duplicate_reviews', sa.Column('unmerger_organization_id', sa.UUID(), nullable=True),
                  schema='cases')
    op.add_column('duplicate_reviews', sa.Column('unmerge_reason_enc', postgresql.BYTEA(), nullable=True),
                  schema='cases')

    op.create_table('child_merge_requests',
    sa.Column('id', sa.UUID(), nullable=False),
    sa.Column('child_id', sa.UUID(), nullable=False),
    sa.Column('other_child_id', sa.UUID(), nullable=False),
    sa.Column('target_prefecture_codes', postgresql.ARRAY(sa.Text()), nullable=False),
    sa.Column('name_score', sa.Numeric(precision=4, scale=3), nullable=True),
    sa.Column('note_enc', postgresql.BYTEA(), nullable=True),
    sa.Column('status', sa.Text(), server_default='pending', nullable=False),
    sa.Column('requested_by', sa.Text(), nullable=False),
    sa.Column('requester_organization_id', sa.UUID(), nullable=True),
    sa.Column('requested_at', sa.DateTime(timezone=True), server_default=sa.text('now()'), nullable=False),
    sa.Column('decided_by', sa.Text(), nullable=True),
    sa.Column('decider_organization_id', sa.UUID(), nullable=True),
    sa.Column('decided_at', sa.DateTime(timezone=True), nullable=True),
    sa.Column('reason_enc', postgresql.BYTEA(), nullable=True),
    sa.Column('review_id', sa.UUID(), nullable=True),
    sa.CheckConstraint("status IN ('pending','accepted','refused')", name='ck_child_merge_requests_status'),
    sa.CheckConstraint('child_id <> other_child_id', name='ck_child_merge_requests_pair'),
    sa.ForeignKeyConstraint(['child_id'], ['cases.children.id'], ),
    sa.ForeignKeyConstraint(['other_child_id'], ['cases.children.id'], ),
    sa.ForeignKeyConstraint(['review_id'], ['cases.duplicate_reviews.id'], ),
    sa.PrimaryKeyConstraint('id'),
    schema='cases'
    )
    op.create_index('uq_child_merge_requests_pending_pair', 'child_merge_requests',
                    [sa.text('LEAST(child_id, other_child_id)'), sa.text('GREATEST(child_id, other_child_id)')],
                    unique=True, schema='cases', postgresql_where=sa.text("status = 'pending'"))
    op.create_index('ix_child_merge_requests_targets', 'child_merge_requests', ['target_prefecture_codes'],
                    unique=False, schema='cases', postgresql_using='gin',
                    postgresql_where=sa.text("status = 'pending'"))


def downgrade() -> None:
    op.drop_index('ix_child_merge_requests_targets', table_name='child_merge_requests', schema='cases',
                  postgresql_using='gin', postgresql_where=sa.text("status = 'pending'"))
    op.drop_index('uq_child_merge_requests_pending_pair', table_name='child_merge_requests', schema='cases',
                  postgresql_where=sa.text("status = 'pending'"))
    op.drop_table('child_merge_requests', schema='cases')
    for column in ('unmerge_reason_enc', 'unmerger_organization_id', 'unmerged_by', 'unmerged_at', 'repeat_links',
                   'merge_request_id'):
        op.drop_column('duplicate_reviews', column, schema='cases')
    op.execute("DROP TRIGGER cases_fill_recorded_child ON cases.cases")
    op.execute("DROP FUNCTION cases.cases_fill_recorded_child()")
    op.drop_index('ix_cases_recorded_child', table_name='cases', schema='cases')
    op.drop_constraint('fk_cases_recorded_child_id', 'cases', schema='cases', type_='foreignkey')
    op.drop_column('cases', 'recorded_child_id', schema='cases')
