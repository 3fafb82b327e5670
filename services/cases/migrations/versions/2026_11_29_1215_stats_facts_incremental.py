"""stats facts maintained incrementally: a facts table and a counts cube kept by triggers, no refresh

Revision ID: 20261129121500
Revises: 20261129115354
Create Date: 2026-11-29 12:15:00

Written by hand (tables maintained by triggers, functions, a view); see docs/decisions/0061-stats-incremental.md.
Replaces the materialised view `stats_case_facts` (refreshed wholesale, 7-12 s at a million cases, paid by the
first read after a write) with:
- `stats_case_facts`, a TABLE of one row per case with every dimension derived, plus the weights that make
  unique counts additive (`child_simple`: the child has no other case; `intake_simple`: every case of the
  intake lies in one commune; `wi_*`: 1 on the first case of its intake among those that agree on the
  grouped child attributes);
- `stats_cells`, an append-only journal of additive counts by month x commune x sex x age group (compacted
  by `stats_compact()`), from which a summary sums a few thousand rows instead of counting a million;
- statement triggers (transition tables) on cases, intakes and children calling `stats_sync(case ids)`,
  which recomputes the facts of the affected intakes and children, writes the changed ones and journals
  the difference of their counts; `stats_rebuild()` recomputes everything (bulk loads with triggers off).
Both tables carry the comment "maintained by hand", which `himaya.migrations.run_env` tells autogenerate
to leave alone.
"""

# ruff: noqa: S608 (every statement is built from constants of this file, never from input)
from collections.abc import Sequence

from alembic import op

revision: str = '20261129121500'
down_revision: str | None = '20261129115354'
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

HAND = "maintained by hand (triggers of migration 20261129121500); autogenerate leaves it alone"

# Age groups: the common refinement of the pilot (<1, 1-4, 5+) and Marrakech (<1, 1-5, 6-13, 14-17, 18+)
# bands (cases_service.stats.queries.AGE_GROUPS), so the cube serves both schemes.
AGE_GROUP = """CASE WHEN a.age_years IS NULL THEN NULL WHEN a.age_years < 1 THEN 0 WHEN a.age_years <= 4 THEN 1
                    WHEN a.age_years = 5 THEN 2 WHEN a.age_years <= 13 THEN 3 WHEN a.age_years <= 17 THEN 4
                    ELSE 5 END"""
PILOT_BAND = "CASE age_group WHEN 0 THEN 0 WHEN 1 THEN 1 ELSE 2 END"
MARRAKECH_BAND = "CASE age_group WHEN 0 THEN 0 WHEN 1 THEN 1 WHEN 2 THEN 1 WHEN 3 THEN 2 WHEN 4 THEN 3 ELSE 4 END"

SOURCE = f"""
CREATE VIEW cases.stats_case_facts_source AS
SELECT c.id AS case_id, c.child_id, c.intake_id, d.reported_on,
       date_trunc('month', d.reported_on)::date AS month,
       c.region_code, c.prefecture_code, c.commune_code, c.status,
       c.repeat_of_case_id IS NOT NULL AS is_repeat, c.repeat_of_case_id,
       ch.sex, a.age_years, ({AGE_GROUP})::smallint AS age_group, ch.nationality::text AS nationality,
       i.exploitation_pattern, i.place_type, i.night, i.source
  FROM cases.cases c
  JOIN cases.intakes i ON i.id = c.intake_id
  JOIN cases.children ch ON ch.id = c.child_id
  CROSS JOIN LATERAL (SELECT (i.reported_at AT TIME ZONE 'Africa/Casablanca')::date AS reported_on) d
  CROSS JOIN LATERAL (SELECT GREATEST(0, CASE
           WHEN ch.birth_date IS NOT NULL THEN date_part('year', age(d.reported_on, ch.birth_date))
           WHEN ch.estimated_age_years IS NOT NULL THEN
               floor(ch.estimated_age_years + (d.reported_on - COALESCE(ch.age_estimated_on, d.reported_on)) / 365.25)
           ELSE date_part('year', age(d.reported_on, ch.reference_birth_date))
       END)::smallint AS age_years) a
"""

COLUMNS = ("case_id, child_id, intake_id, reported_on, month, region_code, prefecture_code, commune_code, status, "
           "is_repeat, repeat_of_case_id, sex, age_years, age_group, nationality, exploitation_pattern, place_type, "
           "night, source")
WEIGHTS = ("child_simple", "intake_simple", "wi_all", "wi_sex", "wi_pilot", "wi_sex_pilot", "wi_marrakech",
           "wi_sex_marrakech")
CELL_KEY = "month, region_code, prefecture_code, commune_code, sex, age_group"
CELL_COUNTS = ("cases", "children", "i_all", "i_sex", "i_pilot", "i_sex_pilot", "i_marrakech", "i_sex_marrakech")
# The journal's counts of a set of facts rows `f` (each signed by `sign`).
CELL_SUMS = ("sum(sign)", "sum(sign * child_simple::int)", "sum(sign * wi_all)", "sum(sign * wi_sex)",
             "sum(sign * wi_pilot)", "sum(sign * wi_sex_pilot)", "sum(sign * wi_marrakech)",
             "sum(sign * wi_sex_marrakech)")


def weighted(where: str, child_simple: str) -> str:
    """The facts rows (weights included) of the source rows matching `where`; every intake they touch must
    be complete in that set (the windows rank the cases of one intake)."""
    return f"""
SELECT {COLUMNS}, {child_simple} AS child_simple, intake_simple,
       (intake_simple AND r_all = 1)::int::smallint AS wi_all,
       (intake_simple AND r_sex = 1)::int::smallint AS wi_sex,
       (intake_simple AND r_pilot = 1)::int::smallint AS wi_pilot,
       (intake_simple AND r_sex_pilot = 1)::int::smallint AS wi_sex_pilot,
       (intake_simple AND r_marrakech = 1)::int::smallint AS wi_marrakech,
       (intake_simple AND r_sex_marrakech = 1)::int::smallint AS wi_sex_marrakech
  FROM (SELECT s.*,
               min(commune_code) OVER i = max(commune_code) OVER i AS intake_simple,
               row_number() OVER (PARTITION BY intake_id ORDER BY case_id) AS r_all,
               row_number() OVER (PARTITION BY intake_id, sex ORDER BY case_id) AS r_sex,
               row_number() OVER (PARTITION BY intake_id, {PILOT_BAND} ORDER BY case_id) AS r_pilot,
               row_number() OVER (PARTITION BY intake_id, sex, {PILOT_BAND} ORDER BY case_id) AS r_sex_pilot,
               row_number() OVER (PARTITION BY intake_id, {MARRAKECH_BAND} ORDER BY case_id) AS r_marrakech,
               row_number() OVER (PARTITION BY intake_id, sex, {MARRAKECH_BAND} ORDER BY case_id)
                   AS r_sex_marrakech,
               count(*) OVER (PARTITION BY child_id) AS child_cases
          FROM cases.stats_case_facts_source s
         WHERE {where}
        WINDOW i AS (PARTITION BY intake_id)) w
"""


FACTS_TABLE = f"""
CREATE TABLE cases.stats_case_facts (
    case_id uuid PRIMARY KEY,
    child_id uuid NOT NULL,
    intake_id uuid NOT NULL,
    reported_on date NOT NULL,
    month date NOT NULL,
    region_code text NOT NULL,
    prefecture_code text NOT NULL,
    commune_code text NOT NULL,
    status text NOT NULL,
    is_repeat boolean NOT NULL,
    repeat_of_case_id uuid,
    sex text NOT NULL,
    age_years smallint,
    age_group smallint,
    nationality text,
    exploitation_pattern text NOT NULL,
    place_type text NOT NULL,
    night boolean NOT NULL,
    source text NOT NULL,
    child_simple boolean NOT NULL,
    intake_simple boolean NOT NULL,
    {", ".join(f"{w} smallint NOT NULL" for w in WEIGHTS[2:])}
)"""

CELLS_TABLE = f"""
CREATE TABLE cases.stats_cells (
    id bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    month date NOT NULL,
    region_code text NOT NULL,
    prefecture_code text NOT NULL,
    commune_code text NOT NULL,
    sex text NOT NULL,
    age_group smallint,
    {", ".join(f"{c} integer NOT NULL" for c in CELL_COUNTS)}
)"""

SYNC = f"""
CREATE FUNCTION cases.stats_sync(changed uuid[]) RETURNS void LANGUAGE plpgsql AS $$
DECLARE
    kids uuid[];
    touched uuid[];
BEGIN
    IF changed IS NULL OR cardinality(changed) = 0 THEN
        RETURN;
    END IF;
    -- The children of the changed cases (now and as last counted), then every intake of those cases and of
    -- those children's other cases: the facts whose weights may change.
    SELECT array_agg(DISTINCT k) INTO kids FROM (
        SELECT child_id FROM cases.cases WHERE id = ANY(changed)
        UNION ALL SELECT child_id FROM cases.stats_case_facts WHERE case_id = ANY(changed)) x(k);
    SELECT array_agg(DISTINCT t) INTO touched FROM (
        SELECT intake_id FROM cases.cases WHERE id = ANY(changed) OR child_id = ANY(kids)
        UNION ALL SELECT intake_id FROM cases.stats_case_facts WHERE case_id = ANY(changed) OR child_id = ANY(kids)
        ) x(t);
    WITH fresh AS (
        {weighted("s.intake_id = ANY(touched)",
                  "(SELECT count(*) FROM cases.cases x WHERE x.child_id = w.child_id) = 1")}
    ), stale AS (
        SELECT * FROM cases.stats_case_facts WHERE intake_id = ANY(touched)
    ), gone AS (
        SELECT s.* FROM stale s
         WHERE NOT EXISTS (SELECT 1 FROM fresh f WHERE f.case_id = s.case_id AND (f.*) IS NOT DISTINCT FROM (s.*))
    ), came AS (
        SELECT f.* FROM fresh f
         WHERE NOT EXISTS (SELECT 1 FROM stale s WHERE s.case_id = f.case_id AND (f.*) IS NOT DISTINCT FROM (s.*))
    ), journal AS (
        INSERT INTO cases.stats_cells ({CELL_KEY}, {", ".join(CELL_COUNTS)})
        SELECT {CELL_KEY}, {", ".join(CELL_SUMS)}
          FROM (SELECT 1 AS sign, * FROM came UNION ALL SELECT -1, * FROM gone) d
         GROUP BY {CELL_KEY}
        HAVING {" OR ".join(f"{s} <> 0" for s in CELL_SUMS)}
    ), removed AS (
        DELETE FROM cases.stats_case_facts t
         WHERE t.case_id IN (SELECT case_id FROM gone)
           AND t.case_id NOT IN (SELECT case_id FROM came)
    )
    INSERT INTO cases.stats_case_facts SELECT * FROM came
        ON CONFLICT (case_id) DO UPDATE SET ({COLUMNS}, {", ".join(WEIGHTS)})
            = ({", ".join(f"EXCLUDED.{c.strip()}" for c in (COLUMNS + ", " + ", ".join(WEIGHTS)).split(","))});
END $$"""

REBUILD = f"""
CREATE FUNCTION cases.stats_rebuild() RETURNS void LANGUAGE plpgsql AS $$
BEGIN
    PERFORM pg_advisory_xact_lock(hashtext('cases.stats_rebuild'));
    TRUNCATE cases.stats_case_facts, cases.stats_cells;
    INSERT INTO cases.stats_case_facts {weighted("true", "child_cases = 1")};
    INSERT INTO cases.stats_cells ({CELL_KEY}, {", ".join(CELL_COUNTS)})
    SELECT {CELL_KEY}, {", ".join(CELL_SUMS)}
      FROM (SELECT 1 AS sign, * FROM cases.stats_case_facts) f
     GROUP BY {CELL_KEY};
    ANALYZE cases.stats_case_facts;
    ANALYZE cases.stats_cells;
END $$"""

COMPACT = f"""
CREATE FUNCTION cases.stats_compact() RETURNS boolean LANGUAGE plpgsql AS $$
BEGIN
    -- One compaction at a time; a reader that finds one running reads the journal as it is.
    IF NOT pg_try_advisory_xact_lock(hashtext('cases.stats_compact')) THEN
        RETURN false;
    END IF;
    WITH gone AS (DELETE FROM cases.stats_cells RETURNING *)
    INSERT INTO cases.stats_cells ({CELL_KEY}, {", ".join(CELL_COUNTS)})
    SELECT {CELL_KEY}, {", ".join(f"sum({c})" for c in CELL_COUNTS)}
      FROM gone GROUP BY {CELL_KEY}
    HAVING {" OR ".join(f"sum({c}) <> 0" for c in CELL_COUNTS)};
    DELETE FROM cases.stats_cells_meta;
    INSERT INTO cases.stats_cells_meta SELECT COALESCE(max(id), 0) FROM cases.stats_cells;
    RETURN true;
END $$"""

CASE_COLUMNS = ("child_id", "intake_id", "region_code", "prefecture_code", "commune_code", "status",
                "repeat_of_case_id")
INTAKE_COLUMNS = ("reported_at", "exploitation_pattern", "place_type", "night", "source")
CHILD_COLUMNS = ("sex", "birth_date", "estimated_age_years", "age_estimated_on", "reference_birth_date",
                 "nationality")


def _differs(columns: Sequence[str]) -> str:
    return f"({', '.join('n.' + c for c in columns)}) IS DISTINCT FROM ({', '.join('o.' + c for c in columns)})"


TRIGGER_FUNCTIONS = {
    "stats_cases_inserted": "PERFORM cases.stats_sync(ARRAY(SELECT id FROM new_rows));",
    "stats_cases_deleted": "PERFORM cases.stats_sync(ARRAY(SELECT id FROM old_rows));",
    "stats_cases_updated": f"""PERFORM cases.stats_sync(ARRAY(
        SELECT n.id FROM new_rows n JOIN old_rows o ON o.id = n.id WHERE {_differs(CASE_COLUMNS)}));""",
    "stats_intakes_updated": f"""PERFORM cases.stats_sync(ARRAY(
        SELECT c.id FROM cases.cases c WHERE c.intake_id IN (
            SELECT n.id FROM new_rows n JOIN old_rows o ON o.id = n.id WHERE {_differs(INTAKE_COLUMNS)})));""",
    "stats_children_updated": f"""PERFORM cases.stats_sync(ARRAY(
        SELECT c.id FROM cases.cases c WHERE c.child_id IN (
            SELECT n.id FROM new_rows n JOIN old_rows o ON o.id = n.id WHERE {_differs(CHILD_COLUMNS)})));""",
    "stats_truncated": "DELETE FROM cases.stats_case_facts; DELETE FROM cases.stats_cells;",
}
TRIGGERS = (
    ("stats_cases_inserted", "cases", "INSERT", "new_rows"),
    ("stats_cases_deleted", "cases", "DELETE", "old_rows"),
    ("stats_cases_updated", "cases", "UPDATE", "both"),
    ("stats_intakes_updated", "intakes", "UPDATE", "both"),
    ("stats_children_updated", "children", "UPDATE", "both"),
)

# ---- the materialised view this revision replaces (revisions 20261129110723 and 20261129113055) ----------
OLD_FACTS = """
CREATE MATERIALIZED VIEW cases.stats_case_facts AS
SELECT c.id AS case_id, c.child_id, c.intake_id, d.reported_on, c.region_code, c.prefecture_code, c.commune_code,
       c.status, c.repeat_of_case_id IS NOT NULL AS is_repeat, c.repeat_of_case_id, ch.sex,
       GREATEST(0, CASE
           WHEN ch.birth_date IS NOT NULL THEN date_part('year', age(d.reported_on, ch.birth_date))
           WHEN ch.estimated_age_years IS NOT NULL THEN
               floor(ch.estimated_age_years + (d.reported_on - COALESCE(ch.age_estimated_on, d.reported_on)) / 365.25)
           ELSE date_part('year', age(d.reported_on, ch.reference_birth_date))
       END)::smallint AS age_years,
       ch.nationality, i.exploitation_pattern, i.place_type, i.night, i.source
  FROM cases.cases c
  JOIN cases.intakes i ON i.id = c.intake_id
  JOIN cases.children ch ON ch.id = c.child_id
  CROSS JOIN LATERAL (SELECT (i.reported_at AT TIME ZONE 'Africa/Casablanca')::date AS reported_on) d
"""


def _drop_view_machinery() -> None:
    op.execute("DROP FUNCTION cases.stats_refresh()")
    op.execute("DROP MATERIALIZED VIEW cases.stats_facts_meta")
    op.execute("DROP MATERIALIZED VIEW cases.stats_case_facts")
    for table in ("cases", "intakes", "children"):
        op.execute(f"DROP TRIGGER stats_mark_change ON cases.{table}")
    op.execute("DROP FUNCTION cases.stats_mark_change()")
    op.execute("DROP SEQUENCE cases.stats_changes")


def upgrade() -> None:
    _drop_view_machinery()
    op.execute(SOURCE)
    op.execute(FACTS_TABLE)
    op.execute("CREATE INDEX ix_stats_case_facts_reported ON cases.stats_case_facts (reported_on)")
    op.execute("CREATE INDEX ix_stats_case_facts_repeat ON cases.stats_case_facts (repeat_of_case_id) "
               "WHERE repeat_of_case_id IS NOT NULL")
    op.execute("CREATE INDEX ix_stats_case_facts_intake ON cases.stats_case_facts (intake_id)")
    op.execute("CREATE INDEX ix_stats_case_facts_child ON cases.stats_case_facts (child_id)")
    op.execute("CREATE INDEX ix_stats_case_facts_complex ON cases.stats_case_facts (reported_on) "
               "WHERE NOT (child_simple AND intake_simple)")
    op.execute(CELLS_TABLE)
    op.execute("CREATE TABLE cases.stats_cells_meta (compacted_through bigint NOT NULL)")
    op.execute("INSERT INTO cases.stats_cells_meta VALUES (0)")
    for table in ("stats_case_facts", "stats_cells", "stats_cells_meta"):
        op.execute(f"COMMENT ON TABLE cases.{table} IS '{HAND}'")
    op.execute(SYNC)
    op.execute(REBUILD)
    op.execute(COMPACT)
    for name, body in TRIGGER_FUNCTIONS.items():
        op.execute(f"CREATE FUNCTION cases.{name}() RETURNS trigger LANGUAGE plpgsql AS $$ "
                   f"BEGIN {body} RETURN NULL; END $$")
    for name, table, event, tables in TRIGGERS:
        referencing = {"new_rows": "NEW TABLE AS new_rows", "old_rows": "OLD TABLE AS old_rows",
                       "both": "OLD TABLE AS old_rows NEW TABLE AS new_rows"}[tables]
        op.execute(f"CREATE TRIGGER {name} AFTER {event} ON cases.{table} REFERENCING {referencing} "
                   f"FOR EACH STATEMENT EXECUTE FUNCTION cases.{name}()")
    for table in ("cases", "intakes", "children"):
        op.execute(f"CREATE TRIGGER stats_truncated AFTER TRUNCATE ON cases.{table} "
                   f"FOR EACH STATEMENT EXECUTE FUNCTION cases.stats_truncated()")
    op.execute("SELECT cases.stats_rebuild()")


def downgrade() -> None:
    for table in ("cases", "intakes", "children"):
        op.execute(f"DROP TRIGGER stats_truncated ON cases.{table}")
    for name, table, _, _ in TRIGGERS:
        op.execute(f"DROP TRIGGER {name} ON cases.{table}")
    for name in TRIGGER_FUNCTIONS:
        op.execute(f"DROP FUNCTION cases.{name}()")
    for fn in ("stats_compact()", "stats_rebuild()", "stats_sync(uuid[])"):
        op.execute(f"DROP FUNCTION cases.{fn}")
    op.execute("DROP TABLE cases.stats_cells_meta, cases.stats_cells, cases.stats_case_facts")
    op.execute("DROP VIEW cases.stats_case_facts_source")
    # The materialised view of revision 20261129113055, its freshness mark and refresh.
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
    op.execute(OLD_FACTS)
    op.execute("CREATE UNIQUE INDEX ux_stats_case_facts_case ON cases.stats_case_facts (case_id)")
    op.execute("CREATE INDEX ix_stats_case_facts_reported ON cases.stats_case_facts (reported_on)")
    op.execute("CREATE INDEX ix_stats_case_facts_repeat ON cases.stats_case_facts (repeat_of_case_id) "
               "WHERE repeat_of_case_id IS NOT NULL")
    op.execute("""
        CREATE MATERIALIZED VIEW cases.stats_facts_meta AS
        SELECT (SELECT CASE WHEN is_called THEN last_value ELSE last_value - 1 END
                  FROM cases.stats_changes) AS change_mark,
               now() AS refreshed_at""")
    op.execute("""
        CREATE FUNCTION cases.stats_refresh() RETURNS void LANGUAGE plpgsql SECURITY DEFINER
        SET search_path = pg_catalog, pg_temp AS $$
        BEGIN
            PERFORM pg_advisory_xact_lock(hashtext('cases.stats_refresh'));
            REFRESH MATERIALIZED VIEW cases.stats_facts_meta;
            REFRESH MATERIALIZED VIEW CONCURRENTLY cases.stats_case_facts;
        END $$""")
