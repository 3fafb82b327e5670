"""stats facts repeat link: the facts view carries repeat_of_case_id, so recidivism is a hash join

Revision ID: 20261129113055
Revises: 20261129110723
Create Date: 2026-11-29 11:30:56.099001

Written by hand (a materialised view). Measured: counting repeats through cases.repeat_of_case_id, which
has no index, was quadratic (over ten minutes at 100,000 cases); over the view it is one hash join.
"""

from collections.abc import Sequence

from alembic import op

revision: str = '20261129113055'
down_revision: str | None = '20261129110723'
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def facts(*, with_repeat_link: bool) -> str:
    """The facts view's definition (revision 20261129110723's, plus repeat_of_case_id when asked)."""
    link = "c.repeat_of_case_id," if with_repeat_link else ""
    return f"""
CREATE MATERIALIZED VIEW cases.stats_case_facts AS
SELECT c.id AS case_id,
       c.child_id,
       c.intake_id,
       d.reported_on,
       c.region_code,
       c.prefecture_code,
       c.commune_code,
       c.status,
       c.repeat_of_case_id IS NOT NULL AS is_repeat,
       {link}
       ch.sex,
       GREATEST(0, CASE
           WHEN ch.birth_date IS NOT NULL THEN date_part('year', age(d.reported_on, ch.birth_date))
           WHEN ch.estimated_age_years IS NOT NULL THEN
               floor(ch.estimated_age_years + (d.reported_on - COALESCE(ch.age_estimated_on, d.reported_on)) / 365.25)
           ELSE date_part('year', age(d.reported_on, ch.reference_birth_date))
       END)::smallint AS age_years,
       ch.nationality,
       i.exploitation_pattern,
       i.place_type,
       i.night,
       i.source
  FROM cases.cases c
  JOIN cases.intakes i ON i.id = c.intake_id
  JOIN cases.children ch ON ch.id = c.child_id
  CROSS JOIN LATERAL (SELECT (i.reported_at AT TIME ZONE 'Africa/Casablanca')::date AS reported_on) d
"""  # noqa: S608 (a constant definition, no input)


def _recreate(*, with_repeat_link: bool) -> None:
    op.execute("DROP MATERIALIZED VIEW cases.stats_case_facts")
    op.execute(facts(with_repeat_link=with_repeat_link))
    op.execute("CREATE UNIQUE INDEX ux_stats_case_facts_case ON cases.stats_case_facts (case_id)")
    op.execute("CREATE INDEX ix_stats_case_facts_reported ON cases.stats_case_facts (reported_on)")
    if with_repeat_link:
        op.execute("CREATE INDEX ix_stats_case_facts_repeat ON cases.stats_case_facts (repeat_of_case_id) "
                   "WHERE repeat_of_case_id IS NOT NULL")


def upgrade() -> None:
    _recreate(with_repeat_link=True)


def downgrade() -> None:
    _recreate(with_repeat_link=False)
