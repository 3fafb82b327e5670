"""stats case facts: a materialised view of one row per case for the statistics, refreshed on change

Revision ID: 20261129110723
Revises: 20261129105930
Create Date: 2026-11-29 11:07:24.044469

Written by hand (Alembic does not autogenerate views, triggers or functions); see
docs/decisions/0060-stats-case-facts.md. `cases.stats_changes` advances after every statement that writes
cases, intakes or children; `cases.stats_refresh()` (SECURITY DEFINER: refreshing needs the owner's right)
records the mark it saw, then refreshes the facts, so a read refreshes only when something changed.
"""

from collections.abc import Sequence

from alembic import op

revision: str = '20261129110723'
down_revision: str | None = '20261129105930'
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

FACTS = """
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
"""


def upgrade() -> None:
    op.execute("CREATE SEQUENCE cases.stats_changes MINVALUE 0 START 0")
    op.execute("""
        CREATE FUNCTION cases.stats_mark_change() RETURNS trigger LANGUAGE plpgsql AS $$
        BEGIN
            PERFORM nextval('cases.stats_changes');
            RETURN NULL;
        END $$""")
    for table in ("cases", "intakes", "children"):
        op.execute(f"CREATE TRIGGER stats_mark_change AFTER INSERT OR UPDATE OR DELETE OR TRUNCATE "
                   f"ON cases.{table} FOR EACH STATEMENT EXECUTE FUNCTION cases.stats_mark_change()")
    op.execute(FACTS)
    op.execute("CREATE UNIQUE INDEX ux_stats_case_facts_case ON cases.stats_case_facts (case_id)")
    op.execute("CREATE INDEX ix_stats_case_facts_reported ON cases.stats_case_facts (reported_on)")
    op.execute("""
        CREATE MATERIALIZED VIEW cases.stats_facts_meta AS
        SELECT (SELECT CASE WHEN is_called THEN last_value ELSE last_value - 1 END
                  FROM cases.stats_changes) AS change_mark,
               now() AS refreshed_at""")
    op.execute("""
        CREATE FUNCTION cases.stats_refresh() RETURNS void LANGUAGE plpgsql SECURITY DEFINER
        SET search_path = pg_catalog, pg_temp AS $$
        BEGIN
            -- One refresher at a time; the mark is read before the facts so no change is ever skipped.
            PERFORM pg_advisory_xact_lock(hashtext('cases.stats_refresh'));
            REFRESH MATERIALIZED VIEW cases.stats_facts_meta;
            REFRESH MATERIALIZED VIEW CONCURRENTLY cases.stats_case_facts;
        END $$""")


def downgrade() -> None:
    op.execute("DROP FUNCTION cases.stats_refresh()")
    op.execute("DROP MATERIALIZED VIEW cases.stats_facts_meta")
    op.execute("DROP MATERIALIZED VIEW cases.stats_case_facts")
    for table in ("cases", "intakes", "children"):
        op.execute(f"DROP TRIGGER stats_mark_change ON cases.{table}")
    op.execute("DROP FUNCTION cases.stats_mark_change()")
    op.execute("DROP SEQUENCE cases.stats_changes")
