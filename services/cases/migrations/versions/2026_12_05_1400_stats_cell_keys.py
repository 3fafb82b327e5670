"""stats cell keys: a record key per fact and the sum of the keys per cube cell (cell-key perturbation)

Revision ID: 20261205140000
Revises: 20261205130000
Create Date: 2026-12-05 14:00:00

Written by hand (tables and functions of revision 20261129121500, which autogenerate leaves alone); see
docs/decisions/0106-stats-cell-key-perturbation.md. Every case gets a fixed `record_key` (32 bits of the md5 of
its id) in `stats_case_facts`, and the journal `stats_cells` sums them in `key_sum`, so that the statistics
can derive each published cell's key (the sum of its cases' record keys, modulo 2^32) from the cube alone and
perturb the cell's counts consistently. `stats_sync`, `stats_rebuild` and `stats_compact` are redefined with
the new column (the text below is that of 20261129121500 plus the key); the downgrade restores them.
"""

# ruff: noqa: S608 (every statement is built from constants of this file, never from input)
from collections.abc import Sequence

from alembic import op

revision: str = '20261205140000'
down_revision: str | None = '20261205130000'
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

PILOT_BAND = "CASE age_group WHEN 0 THEN 0 WHEN 1 THEN 1 ELSE 2 END"
MARRAKECH_BAND = "CASE age_group WHEN 0 THEN 0 WHEN 1 THEN 1 WHEN 2 THEN 1 WHEN 3 THEN 2 WHEN 4 THEN 3 ELSE 4 END"
COLUMNS = ("case_id, child_id, intake_id, reported_on, month, region_code, prefecture_code, commune_code, status, "
           "is_repeat, repeat_of_case_id, sex, age_years, age_group, nationality, exploitation_pattern, place_type, "
           "night, source")
WEIGHTS = ("child_simple", "intake_simple", "wi_all", "wi_sex", "wi_pilot", "wi_sex_pilot", "wi_marrakech",
           "wi_sex_marrakech")
CELL_KEY = "month, region_code, prefecture_code, commune_code, sex, age_group"
CELL_COUNTS = ("cases", "children", "i_all", "i_sex", "i_pilot", "i_sex_pilot", "i_marrakech", "i_sex_marrakech")
CELL_SUMS = ("sum(sign)", "sum(sign * child_simple::int)", "sum(sign * wi_all)", "sum(sign * wi_sex)",
             "sum(sign * wi_pilot)", "sum(sign * wi_sex_pilot)", "sum(sign * wi_marrakech)",
             "sum(sign * wi_sex_marrakech)")
# A case's record key: fixed for the life of the case (a rebuild gives the same), uniform over 32 bits.
RECORD_KEY = "('x' || left(md5(case_id::text), 8))::bit(32)::bigint"


def _parts(keys: bool) -> tuple[tuple[str, ...], tuple[str, ...], tuple[str, ...]]:
    """The facts' extra columns, the journal's counts and their sums, with or without the record keys."""
    if not keys:
        return WEIGHTS, CELL_COUNTS, CELL_SUMS
    return (*WEIGHTS, "record_key"), (*CELL_COUNTS, "key_sum"), (*CELL_SUMS, "sum(sign * record_key)")


def weighted(where: str, child_simple: str, *, keys: bool) -> str:
    """The facts rows (weights and, with `keys`, the record key) of the source rows matching `where`."""
    record_key = f", {RECORD_KEY} AS record_key" if keys else ""
    return f"""
SELECT {COLUMNS}, {child_simple} AS child_simple, intake_simple,
       (intake_simple AND r_all = 1)::int::smallint AS wi_all,
       (intake_simple AND r_sex = 1)::int::smallint AS wi_sex,
       (intake_simple AND r_pilot = 1)::int::smallint AS wi_pilot,
       (intake_simple AND r_sex_pilot = 1)::int::smallint AS wi_sex_pilot,
       (intake_simple AND r_marrakech = 1)::int::smallint AS wi_marrakech,
       (intake_simple AND r_sex_marrakech = 1)::int::smallint AS wi_sex_marrakech{record_key}
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


def sync(keys: bool) -> str:
    extra, counts, sums = _parts(keys)
    return f"""
CREATE OR REPLACE FUNCTION cases.stats_sync(changed uuid[]) RETURNS void LANGUAGE plpgsql AS $$
DECLARE
    kids uuid[];
    touched uuid[];
BEGIN
    IF changed IS NULL OR cardinality(changed) = 0 THEN
        RETURN;
    END IF;
    SELECT array_agg(DISTINCT k) INTO kids FROM (
        SELECT child_id FROM cases.cases WHERE id = ANY(changed)
        UNION ALL SELECT child_id FROM cases.stats_case_facts WHERE case_id = ANY(changed)) x(k);
    SELECT array_agg(DISTINCT t) INTO touched FROM (
        SELECT intake_id FROM cases.cases WHERE id = ANY(changed) OR child_id = ANY(kids)
        UNION ALL SELECT intake_id FROM cases.stats_case_facts WHERE case_id = ANY(changed) OR child_id = ANY(kids)
        ) x(t);
    WITH fresh AS (
        {weighted("s.intake_id = ANY(touched)",
                  "(SELECT count(*) FROM cases.cases x WHERE x.child_id = w.child_id) = 1", keys=keys)}
    ), stale AS (
        SELECT * FROM cases.stats_case_facts WHERE intake_id = ANY(touched)
    ), gone AS (
        SELECT s.* FROM stale s
         WHERE NOT EXISTS (SELECT 1 FROM fresh f WHERE f.case_id = s.case_id AND (f.*) IS NOT DISTINCT FROM (s.*))
    ), came AS (
        SELECT f.* FROM fresh f
         WHERE NOT EXISTS (SELECT 1 FROM stale s WHERE s.case_id = f.case_id AND (f.*) IS NOT DISTINCT FROM (s.*))
    ), journal AS (
        INSERT INTO cases.stats_cells ({CELL_KEY}, {", ".join(counts)})
        SELECT {CELL_KEY}, {", ".join(sums)}
          FROM (SELECT 1 AS sign, * FROM came UNION ALL SELECT -1, * FROM gone) d
         GROUP BY {CELL_KEY}
        HAVING {" OR ".join(f"{s} <> 0" for s in sums)}
    ), removed AS (
        DELETE FROM cases.stats_case_facts t
         WHERE t.case_id IN (SELECT case_id FROM gone)
           AND t.case_id NOT IN (SELECT case_id FROM came)
    )
    INSERT INTO cases.stats_case_facts SELECT * FROM came
        ON CONFLICT (case_id) DO UPDATE SET ({COLUMNS}, {", ".join(extra)})
            = ({", ".join(f"EXCLUDED.{c.strip()}" for c in (COLUMNS + ", " + ", ".join(extra)).split(","))});
END $$"""


def rebuild(keys: bool) -> str:
    _, counts, sums = _parts(keys)
    return f"""
CREATE OR REPLACE FUNCTION cases.stats_rebuild() RETURNS void LANGUAGE plpgsql AS $$
BEGIN
    PERFORM pg_advisory_xact_lock(hashtext('cases.stats_rebuild'));
    TRUNCATE cases.stats_case_facts, cases.stats_cells;
    INSERT INTO cases.stats_case_facts {weighted("true", "child_cases = 1", keys=keys)};
    INSERT INTO cases.stats_cells ({CELL_KEY}, {", ".join(counts)})
    SELECT {CELL_KEY}, {", ".join(sums)}
      FROM (SELECT 1 AS sign, * FROM cases.stats_case_facts) f
     GROUP BY {CELL_KEY};
    ANALYZE cases.stats_case_facts;
    ANALYZE cases.stats_cells;
END $$"""


def compact(keys: bool) -> str:
    _, counts, _ = _parts(keys)
    return f"""
CREATE OR REPLACE FUNCTION cases.stats_compact() RETURNS boolean LANGUAGE plpgsql AS $$
BEGIN
    IF NOT pg_try_advisory_xact_lock(hashtext('cases.stats_compact')) THEN
        RETURN false;
    END IF;
    WITH gone AS (DELETE FROM cases.stats_cells RETURNING *)
    INSERT INTO cases.stats_cells ({CELL_KEY}, {", ".join(counts)})
    SELECT {CELL_KEY}, {", ".join(f"sum({c})" for c in counts)}
      FROM gone GROUP BY {CELL_KEY}
    HAVING {" OR ".join(f"sum({c}) <> 0" for c in counts)};
    DELETE FROM cases.stats_cells_meta;
    INSERT INTO cases.stats_cells_meta SELECT COALESCE(max(id), 0) FROM cases.stats_cells;
    RETURN true;
END $$"""


def _functions(keys: bool) -> None:
    op.execute(sync(keys))
    op.execute(rebuild(keys))
    op.execute(compact(keys))


def upgrade() -> None:
    op.execute("ALTER TABLE cases.stats_case_facts ADD COLUMN record_key bigint NOT NULL DEFAULT 0")
    op.execute("ALTER TABLE cases.stats_case_facts ALTER COLUMN record_key DROP DEFAULT")
    op.execute("ALTER TABLE cases.stats_cells ADD COLUMN key_sum bigint NOT NULL DEFAULT 0")
    _functions(keys=True)
    op.execute("SELECT cases.stats_rebuild()")


def downgrade() -> None:
    op.execute("ALTER TABLE cases.stats_cells DROP COLUMN key_sum")
    op.execute("ALTER TABLE cases.stats_case_facts DROP COLUMN record_key")
    _functions(keys=False)
    op.execute("SELECT cases.stats_rebuild()")
