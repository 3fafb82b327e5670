"""duplicate reviews and merged children: one decision per pair of children; a merged child points to its survivor

Revision ID: 20261129115354
Revises: 20261129113055
Create Date: 2026-11-29 11:53:56.009137
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op
from sqlalchemy.dialects import postgresql

revision: str = '20261129115354'
down_revision: str | None = '20261129113055'
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_table('duplicate_reviews',
    sa.Column('id', sa.UUID(), nullable=False),
    sa.Column('child_low_id', sa.UUID(), nullable=False),
    sa.Column('child_high_id', sa.UUID(), nullable=False),
    sa.Column('decision', sa.Text(), nullable=False),
    sa.Column('survivor_child_id', sa.UUID(), nullable=True),
    sa.Column('merged_child_id', sa.UUID(), nullable=True),
    sa.Column('name_score', sa.Numeric(precision=4, scale=3), nullable=True),
    sa.Column('note_enc', postgresql.BYTEA(), nullable=True),
    sa.Column('reviewed_by', sa.Text(), nullable=False),
    sa.Column('reviewer_organization_id', sa.UUID(), nullable=True),
    sa.Column('reviewed_at', sa.DateTime(timezone=True), server_default=sa.text('now()'), nullable=False),
    sa.CheckConstraint("decision IN ('same','not_same')", name='ck_duplicate_reviews_decision'),
    sa.CheckConstraint('child_low_id < child_high_id', name='ck_duplicate_reviews_pair_order'),
    sa.ForeignKeyConstraint(['child_high_id'], ['cases.children.id'], ),
    sa.ForeignKeyConstraint(['child_low_id'], ['cases.children.id'], ),
    sa.ForeignKeyConstraint(['merged_child_id'], ['cases.children.id'], ),
    sa.ForeignKeyConstraint(['survivor_child_id'], ['cases.children.id'], ),
    sa.PrimaryKeyConstraint('id'),
    sa.UniqueConstraint('child_low_id', 'child_high_id', name='uq_duplicate_reviews_pair'),
    schema='cases'
    )
    op.create_index('ix_duplicate_reviews_high', 'duplicate_reviews', ['child_high_id'], unique=False, schema='cases')
    op.add_column('children', sa.Column('merged_into_id', sa.UUID(), nullable=True), schema='cases')
    op.add_column('children', sa.Column('merged_at', sa.DateTime(timezone=True), nullable=True), schema='cases')
    op.create_index('ix_children_merged_into', 'children', ['merged_into_id'], unique=False, schema='cases', postgresql_where=sa.text('merged_into_id IS NOT NULL'))
    op.create_foreign_key('fk_children_merged_into_id', 'children', 'children', ['merged_into_id'], ['id'], source_schema='cases', referent_schema='cases')


def downgrade() -> None:
    op.drop_constraint('fk_children_merged_into_id', 'children', schema='cases', type_='foreignkey')
    op.drop_index('ix_children_merged_into', table_name='children', schema='cases', postgresql_where=sa.text('merged_into_id IS NOT NULL'))
    op.drop_column('children', 'merged_at', schema='cases')
    op.drop_column('children', 'merged_into_id', schema='cases')
    op.drop_index('ix_duplicate_reviews_high', table_name='duplicate_reviews', schema='cases')
    op.drop_table('duplicate_reviews', schema='cases')
