"""Measure the statistics at scale: `python -m bench.stats --cases 100000 [--cases 1000000]`.

Creates a scratch database on the test server (DATABASE_URL, or the embedded PostgreSQL), migrates the
cases schema, loads N synthetic cases with COPY (intakes, children, cases: no names; triggers off, then
`cases.stats_rebuild()` as a bulk loader does), then times, with the service's own role:
- `summarize` grouped by territory, sex and age band (the docs/quality.md figure), national scope, summed from
  the counts cube; the same counts made distinct over the facts table, and over the base tables
  (cases ⋈ intakes ⋈ children);
- the same with a period that is not whole months (a steering viewer's is widened to whole months);
- a provincial committee's summary (one prefecture), five dimensions by commune (facts path), every indicator;
- a write then the summary in one transaction (no refresh to pay: the triggers kept the facts);
- intakes per second through `create_intake` (--intakes), with the triggers maintaining the statistics.
Prints medians and p95 over repeated runs and writes them as JSON with --json. Times are noisy on shared
machines: compare the figures of one run with each other.
"""

from __future__ import annotations

import argparse
import asyncio
import functools
import json
import math
import random
import secrets
import statistics
import time
import uuid
from collections.abc import Awaitable, Callable
from datetime import UTC, date, datetime, timedelta
from pathlib import Path
from typing import Any

import asyncpg
import sqlalchemy as sa
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from cases_service.core.context import Context
from cases_service.core.protection import Protector
from cases_service.core.reference import ReferenceData
from cases_service.core.tables import APPEND_ONLY_TABLES, MIGRATIONS_DIR, SCHEMA
from cases_service.intakes import service as intakes
from cases_service.intakes.schemas import AdultCreate, ChildCreate, IntakeCreate
from cases_service.stats import repository as q
from cases_service.stats import service as domain
from cases_service.stats.suppression import Perturbation
from himaya.auth import Principal
from himaya.db import create_engine
from himaya.migrations import provision
from himaya.scopes import Role, scopes_for
from himaya.settings import to_asyncpg_url
from himaya_dev.testing.plugin import replace_db, server_admin_url, with_user

CITIES = ("04.421", "04.441", "04.501", "01.511", "03.061", "07.351", "09.001")
BASE_QUERY = """
SELECT c.prefecture_code, ch.sex,
       CASE WHEN a.age < 1 THEN 'under_1' WHEN a.age <= 4 THEN '1_4' ELSE '5_plus' END AS age_band,
       count(DISTINCT c.child_id), count(*), count(DISTINCT c.intake_id)
  FROM cases.cases c JOIN cases.intakes i ON i.id = c.intake_id JOIN cases.children ch ON ch.id = c.child_id
 CROSS JOIN LATERAL (SELECT date_part('year', age((i.reported_at AT TIME ZONE 'Africa/Casablanca')::date,
                                                  ch.reference_birth_date)) AS age) a
 GROUP BY 1, 2, 3
"""


def _rows(n_cases: int, rng: random.Random, communes: dict[str, list[str]], courts: dict[str, str]
          ) -> tuple[list[tuple[Any, ...]], list[tuple[Any, ...]], list[tuple[Any, ...]]]:
    intakes: list[tuple[Any, ...]] = []
    children: list[tuple[Any, ...]] = []
    cases: list[tuple[Any, ...]] = []
    start = datetime(2019, 12, 4, tzinfo=UTC)
    span = (datetime(2026, 11, 1, tzinfo=UTC) - start).total_seconds()
    made = 0
    repeat_pool: list[tuple[uuid.UUID, uuid.UUID, date]] = []
    while made < n_cases:
        prefecture = rng.choice(CITIES)
        commune = rng.choice(communes[prefecture])
        reported = start + timedelta(seconds=rng.random() * span)
        iid = uuid.uuid4()
        intakes.append((iid, reported, rng.choice(("field_patrol", "judicial_police", "ngo", "citizen")),
                        prefecture[:2], prefecture, commune, courts[prefecture],
                        rng.choice(("traffic_light", "mosque", "market", "tourist_site")), rng.random() < 0.5,
                        rng.choice(("with_adult", "alone", "selling_as_cover")), "client:bench"))
        for _ in range(rng.choice((1, 1, 1, 2))):
            if made >= n_cases:
                break
            status = rng.choice(("reported", "screened", "in_care", "follow_up", "closed"))
            repeat_of = None
            if repeat_pool and rng.random() < 0.05:
                child_id, repeat_of, _born = repeat_pool.pop()
            else:
                child_id = uuid.uuid4()
                born = reported.date() - timedelta(days=rng.randrange(0, 17 * 365))
                children.append((child_id, rng.choice(("female", "male")), born,
                                 rng.choice(("MA",) * 20 + ("SN", "SY")), []))
                _born = born
            cid = uuid.uuid4()
            if repeat_of is None and status == "closed":
                repeat_pool.append((child_id, cid, _born))
            elif repeat_of is not None:
                status = "reported"
            cases.append((cid, f"B-{made:08d}", child_id, child_id, iid, prefecture[:2], prefecture, commune,
                          courts[prefecture], status, repeat_of, reported))
            made += 1
    return intakes, children, cases


async def _load(admin_url: str, n_cases: int) -> None:
    ref = ReferenceData.load()
    communes: dict[str, list[str]] = {}
    for code, level in ref.levels.items():
        if level == "commune":
            communes.setdefault(ref.parents[code], []).append(code)
    courts = {p: ref.default_courts[p] for p in CITIES}
    intakes, children, cases = _rows(n_cases, random.Random(8), communes, courts)  # noqa: S311
    conn = await asyncpg.connect(admin_url)
    try:
        # Triggers off for the load (as pg_restore --disable-triggers), the statistics rebuilt after it.
        await conn.execute("SET session_replication_role = replica")
        await conn.copy_records_to_table("intakes", schema_name=SCHEMA, records=intakes, columns=[
            "id", "reported_at", "source", "region_code", "prefecture_code", "commune_code", "court_code",
            "place_type", "night", "exploitation_pattern", "created_by"])
        await conn.copy_records_to_table("children", schema_name=SCHEMA, records=children, columns=[
            "id", "sex", "reference_birth_date", "nationality", "name_tokens"])
        await conn.execute("UPDATE cases.children SET birth_date = reference_birth_date")
        await conn.copy_records_to_table("cases", schema_name=SCHEMA, records=cases, columns=[
            # recorded_child_id: the child the case was opened with (a trigger fills it, off during the load).
            "id", "case_number", "child_id", "recorded_child_id", "intake_id", "region_code", "prefecture_code",
            "commune_code", "court_code", "status", "repeat_of_case_id", "opened_at"])
        await conn.execute("ANALYZE cases.intakes; ANALYZE cases.children; ANALYZE cases.cases")
        await conn.execute("SET session_replication_role = origin")
    finally:
        await conn.close()


async def _time(fn: Callable[[], Awaitable[Any]], runs: int) -> dict[str, float]:
    await fn()  # warm the caches and the plan
    samples = []
    for _ in range(runs):
        t0 = time.perf_counter()
        await fn()
        samples.append((time.perf_counter() - t0) * 1000)
    samples.sort()
    return {"median_ms": round(statistics.median(samples), 1),
            "p95_ms": round(samples[min(len(samples) - 1, math.ceil(len(samples) * 0.95) - 1)], 1), "runs": runs}


def _intake_principal() -> Principal:
    return Principal(subject_id=uuid.uuid4(), subject_type="user", role=Role.CASE_MANAGER.value,
                     scopes=frozenset(scopes_for(Role.CASE_MANAGER)), territories=("MA",),
                     organization_id=uuid.uuid4(), organization_type="cape")


async def intake_throughput(maker: async_sessionmaker[AsyncSession], n: int) -> dict[str, float]:
    """Intakes per second through `create_intake`, one committed transaction each (one or two children and
    their mother, as in the field), in one process: what a write costs with the statistics' maintenance."""
    protector = Protector.from_settings(field_keys={"k1": "bench-field-key-" + "f" * 32}, active_kid=None,
                                        blind_index_key="bench-blind-index-" + "b" * 32)
    reference = ReferenceData.load()
    principal = _intake_principal()
    rng = random.Random(11)  # noqa: S311
    samples = []
    for i in range(n):
        data = IntakeCreate(
            reported_at=datetime(2026, 3, 1, 10, tzinfo=UTC) + timedelta(minutes=i), source="field_patrol",
            commune_code="04.421.01", place_type="traffic_light", night=i % 2 == 0,
            exploitation_pattern="with_adult",
            children=[ChildCreate(first_name=f"Qux{i}x{k}", sex=rng.choice(("female", "male")),
                                  estimated_age_years=rng.randint(0, 12)) for k in range(1 + (i % 4 == 0))],
            adults=[AdultCreate(first_name=f"Vyx{i}", sex="female", claimed_relationship="mother")])
        t0 = time.perf_counter()
        async with maker() as session, session.begin():
            await intakes.create_intake(ctx=Context(session=session, principal=principal, protector=protector,
                                                        reference=reference), data=data)
        samples.append(time.perf_counter() - t0)
    samples.sort()
    return {"intakes_per_s": round(n / sum(samples), 1), "median_ms": round(statistics.median(samples) * 1000, 1),
            "p95_ms": round(samples[min(n - 1, math.ceil(n * 0.95) - 1)] * 1000, 1), "runs": n}


@functools.cache
def _keys() -> tuple[Protector, ReferenceData]:
    return (Protector.from_settings(field_keys={"k1": "bench-field-key-" + "f" * 32}, active_kid=None,
                                    blind_index_key="bench-index-key-" + "i" * 32), ReferenceData.load())


def _ctx(session: AsyncSession, territories: tuple[str, ...]) -> Context:
    """A steering-committee caller's context over `territories` (statistics read no identifying value)."""
    protector, reference = _keys()
    return Context(session=session, principal=_principal(territories), protector=protector, reference=reference)


def _principal(territories: tuple[str, ...]) -> Principal:
    return Principal(subject_id=uuid.uuid4(), subject_type="user", role=Role.STEERING_VIEWER.value,
                     scopes=frozenset(scopes_for(Role.STEERING_VIEWER)), territories=territories,
                     organization_id=None, organization_type="ministry")


async def measure(n_cases: int, runs: int, intakes: int = 0) -> dict[str, Any]:
    """Load `n_cases` into a scratch database, time every figure, drop the database."""
    server = server_admin_url()
    tag = secrets.token_hex(4)
    name = f"himaya_bench_{tag}"
    admin = await asyncpg.connect(replace_db(server, "postgres"))
    await admin.execute(f'CREATE DATABASE "{name}"')
    await admin.close()
    admin_url = replace_db(server, name)
    app_url = with_user(admin_url, f"himaya_cases_b{tag}", secrets.token_urlsafe(16))
    out: dict[str, Any] = {"cases": n_cases}
    noise = Perturbation(secrets.token_bytes(32))  # the protected path (a steering viewer's), as in production
    try:
        await asyncio.to_thread(provision, admin_url=admin_url, app_url=app_url, schema=SCHEMA,
                                migrations_dir=MIGRATIONS_DIR, append_only=APPEND_ONLY_TABLES)
        t0 = time.perf_counter()
        await _load(admin_url, n_cases)
        out["copy_load_s"] = round(time.perf_counter() - t0, 1)
        engine = create_engine(to_asyncpg_url(app_url), pool_size=2)
        maker = async_sessionmaker(engine, expire_on_commit=False)

        async def in_tx(work: Callable[[AsyncSession], Awaitable[Any]]) -> Any:
            async with maker() as session, session.begin():
                return await work(session)

        async def rebuild() -> None:
            conn = await asyncpg.connect(admin_url)
            try:
                await conn.execute("SELECT cases.stats_rebuild()")
            finally:
                await conn.close()

        out["rebuild_from_scratch"] = await _time(rebuild, 1)
        national = domain.StatsQuery(group_by=("territory", "sex", "age_band"))
        out["summary_national_territory_sex_age"] = await _time(lambda: in_tx(
            lambda s: domain.summarize(_ctx(s, ("MA",)), query=national,
                                       perturbation=noise)), runs)
        scope = q.CaseScope(("MA",), None, None, None)
        dims = [(n, q.dimension(n, territory_level="prefecture", age_scheme="pilot", phases=domain.phases()))
                for n in national.group_by]
        out["same_counts_distinct_over_facts"] = await _time(lambda: in_tx(
            lambda s: q.summary_rows(s, dimensions=dims, filters=scope.where())), max(3, runs // 3))
        partial = domain.StatsQuery(group_by=("territory", "sex", "age_band"), period_from=date(2020, 3, 15),
                                    period_to=date(2025, 10, 20))
        out["summary_period_not_whole_months"] = await _time(lambda: in_tx(
            lambda s: domain.summarize(_ctx(s, ("MA",)), query=partial,
                                       perturbation=noise)), runs)
        out["summary_one_prefecture"] = await _time(lambda: in_tx(
            lambda s: domain.summarize(_ctx(s, ("04.421",)), query=national,
                                       perturbation=noise)), runs)
        every = domain.StatsQuery(group_by=("territory", "sex", "age_band", "month", "exploitation_pattern"),
                                  territory_level="commune")
        out["summary_five_dimensions_commune"] = await _time(lambda: in_tx(
            lambda s: domain.summarize(_ctx(s, ("MA",)), query=every,
                                       perturbation=noise)), max(3, runs // 3))
        out["base_tables_same_counts"] = await _time(lambda: in_tx(
            lambda s: s.execute(sa.text(BASE_QUERY))), max(3, runs // 3))
        out["indicators_national"] = await _time(lambda: in_tx(
            lambda s: domain.indicators(_ctx(s, ("MA",)), query=domain.StatsQuery(),
                                        perturbation=noise)),
            max(3, runs // 3))

        async def write_then_read(session: AsyncSession) -> None:
            # A correction of a child's sex: the triggers move its case to another cell of the cube.
            await session.execute(sa.text(
                "UPDATE cases.children SET sex = CASE sex WHEN 'female' THEN 'male' ELSE 'female' END "
                "WHERE id = (SELECT child_id FROM cases.cases WHERE case_number = 'B-00000001')"))
            await domain.summarize(_ctx(session, ("MA",)), query=national,
                                   perturbation=noise)

        out["summary_after_a_write"] = await _time(lambda: in_tx(write_then_read), max(2, runs // 5))
        if intakes:
            out["intake_throughput"] = await intake_throughput(maker, intakes)
        await engine.dispose()
    finally:
        admin = await asyncpg.connect(replace_db(server, "postgres"))
        await admin.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
        await admin.execute(f'DROP ROLE IF EXISTS "himaya_cases_b{tag}"')
        await admin.close()
    return out


def main() -> int:
    """Command-line entry point."""
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--cases", type=int, action="append", help="cases to load (repeatable)")
    parser.add_argument("--runs", type=int, default=15)
    parser.add_argument("--intakes", type=int, default=200, help="intakes to time after the reads (0: none)")
    parser.add_argument("--json", type=Path)
    args = parser.parse_args()
    results = [asyncio.run(measure(n, args.runs, args.intakes)) for n in (args.cases or [100_000])]
    for r in results:
        print(f"\n{r['cases']:,} cases (COPY load {r['copy_load_s']} s)")
        for key, value in r.items():
            if key == "intake_throughput":
                print(f"  {key:<40} {value['intakes_per_s']:>8} /s   median {value['median_ms']} ms"
                      f"   p95 {value['p95_ms']} ms")
            elif isinstance(value, dict):
                print(f"  {key:<40} median {value['median_ms']:>8} ms   p95 {value['p95_ms']:>8} ms")
    if args.json:
        args.json.write_text(json.dumps(results, indent=2))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
