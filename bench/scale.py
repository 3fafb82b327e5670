"""Every performance figure of docs/quality.md, measured in one run: `python -m bench.scale [--cases N | --million]`.

1. `make run` on an installed checkout: a throw-away embedded PostgreSQL (initialised once, then stopped),
   then the timed path of `python -m himaya_dev.devstack run` — start the server, check the migrations, start
   the four processes, wait until every /readyz answers — on free ports.
2. A scratch database on the test server, migrated and seeded like `make run`'s, filled with N synthetic
   cases by `cases_service.scale` (COPY, the service's own encryption); the four processes on free ports,
   a case manager of the seven loaded prefectures and a national steering viewer provisioned through the
   gateway, and one case created through the API.
3. The figures, each next to its baseline and its target: gateway/direct and service/bare-handler
   throughput of GET /v1/cases/{id} (wrk, same concurrency, alternating runs), intakes per second through
   the gateway (wrk with a Lua script: unique Idempotency-Key and names per request), the filtered list's
   first and a deep page (cursor), the statistics summary, name search (Latin and Arabic, misspelt),
   idle RSS of each process. Writes bench-results/bench.json (key "quality").

Latency figures are sequential requests through the gateway (one client), p50/p95 over --samples. The
machine is shared: compare figures of one run, and read ratios rather than rates.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import json
import os
import secrets
import statistics
import subprocess
import sys
import tempfile
import time
import uuid
from pathlib import Path
from typing import Any

import asyncpg
import httpx

from bench.gateway import NO_LIMITS, RESULTS, ROOT, cpu_seconds, free_port, stop, uvicorn, wait_ready
from bench.load import ensure_wrk, run_load
from himaya.pagination import encode_cursor
from himaya_dev import devstack, embedded_pg
from himaya_dev.testing.plugin import replace_db, server_admin_url

PREFECTURES = ("01.511", "03.061", "04.421", "04.441", "04.501", "07.351", "09.001")
COMMUNES = ("04.421.01.03", "04.441.01.02", "04.501.01", "07.351.01.03", "01.511.01.01", "03.061.01", "09.001.01")
SEARCHES = ("Mohamad Alaui", "Khadija Benani", "Soukaina Chraybi", "محمد العلوي", "خديجة بناني", "يوسف الادريسي")
TARGETS = {
    "gateway_direct_ratio": (">=", 0.85), "get_case_vs_bare_ratio": (">=", 0.5), "intakes_per_second": (">=", 400),
    "list_first_page_p95_ms": ("<=", 50), "list_deep_vs_first_p95": ("<=", 1.5), "stats_summary_p95_ms": ("<=", 300),
    "name_search_p95_ms": ("<=", 100), "idle_rss_mb_max": ("<=", 120), "make_run_seconds": ("<=", 15),
}


def _pct(samples: list[float], q: float) -> float:
    ordered = sorted(samples)
    return ordered[min(len(ordered) - 1, max(0, round(q * len(ordered)) - 1))]


def _timed(client: httpx.Client, url: str, headers: dict[str, str], samples: int) -> dict[str, Any]:
    """p50/p95 of sequential GETs (after two warm-ups); an error instead when the endpoint fails."""
    for _ in range(2):
        r = client.get(url, headers=headers)
        if r.status_code != 200:
            print(f"bench: GET {url} answered {r.status_code}: {r.text[:200]}", flush=True)
            return {"error": f"{r.status_code} {r.text[:300]}", "p50_ms": None, "p95_ms": None}
    times = []
    for _ in range(samples):
        t0 = time.perf_counter()
        r = client.get(url, headers=headers)
        times.append((time.perf_counter() - t0) * 1000)
        r.raise_for_status()
    return {"p50_ms": round(statistics.median(times), 1), "p95_ms": round(_pct(times, 0.95), 1), "n": samples}


# ---- 1. make run ----------------------------------------------------------------------------------------

def measure_make_run() -> dict[str, float]:
    """Seconds from a stopped embedded server to four ready services, the second time (installed checkout)."""
    out: dict[str, float] = {}
    with tempfile.TemporaryDirectory(prefix="himaya-run-") as tmp:
        data = Path(tmp)
        os.chmod(data, 0o755)  # noqa: S103 - the embedded server may run as another user
        port = free_port()
        for label in ("first_run_s", "installed_checkout_s"):
            t0 = time.perf_counter()
            pg = embedded_pg.ensure_running(data / "pg", port)
            admin_url = pg.url(devstack.DB_NAME)
            devstack.ensure_database(admin_url)
            config = devstack.StackConfig(admin_url=admin_url, ports={s.name: free_port() for s in devstack.SERVICES},
                                          secrets=devstack.dev_secrets(data))
            devstack.migrate(config, skip_current=True)
            stack = devstack.Stack(config, log_dir=RESULTS / "logs" / "make-run")
            try:
                stack.start_all()
                stack.wait_ready()
                out[label] = round(time.perf_counter() - t0, 1)
            finally:
                stack.stop_all()
                embedded_pg.stop(data / "pg")
    return out


# ---- 2. the loaded stack --------------------------------------------------------------------------------

class Loaded:
    """A scratch database with N cases and the four processes on free ports."""

    def __init__(self, cases: int, *, database: str | None = None) -> None:
        self.cases = cases
        server = server_admin_url()
        self.server = server
        self.name = database or "himaya_bench_" + secrets.token_hex(4)
        self.reuse = database is not None
        self.admin_url = replace_db(server, self.name)
        # Tokens live an hour: at a million cases a run outlasts the default ten minutes.
        self.config = devstack.StackConfig(admin_url=self.admin_url,
                                           ports={s.name: free_port() for s in devstack.SERVICES},
                                           extra={**NO_LIMITS, "IDENTITY_ACCESS_TOKEN_TTL": "3600"})
        self.stack = devstack.Stack(self.config, log_dir=RESULTS / "logs")
        self.load_report: dict[str, Any] = {}

    def __enter__(self) -> Loaded:
        from cases_service.core.reference import ReferenceData
        from cases_service.scale.__main__ import protector_from_env
        from cases_service.scale.loader import load

        existing = self.reuse and asyncio.run(_count_cases(self.server, self.name))
        devstack.ensure_database(self.admin_url)
        devstack.migrate(self.config)
        if existing:
            self.cases = existing
            self.load_report = {"cases": existing, "seconds": None, "reused_database": self.name}
            print(f"bench: reusing {self.name} ({existing:,} cases)", flush=True)
        else:
            print(f"bench: loading {self.cases:,} cases into {self.name}…", flush=True)
            report = asyncio.run(load(admin_url=self.admin_url, cases=self.cases,
                                      protector=protector_from_env(self.config.env()), reference=ReferenceData.load()))
            self.load_report = {"cases": report.cases, "seconds": report.total_seconds, "phases": report.seconds,
                                "rows": report.rows}
            print(f"bench: loaded in {report.total_seconds} s {report.seconds}", flush=True)
        self.stack.start_all()
        self.stack.wait_ready(timeout=300)
        return self

    def __exit__(self, *exc: object) -> None:
        self.stack.stop_all()
        if self.reuse:
            return  # kept for the next run

        async def drop() -> None:
            conn = await asyncpg.connect(replace_db(self.server, "postgres"))
            try:
                await conn.execute(f'DROP DATABASE IF EXISTS "{self.name}" WITH (FORCE)')
            finally:
                await conn.close()

        asyncio.run(drop())

    def url(self, service: str) -> str:
        """Base URL of a running service."""
        return self.config.base_url(service)

    def pid(self, service: str) -> int:
        """Process id of a running service."""
        return self.stack.procs[service].pid


async def _count_cases(server: str, name: str) -> int:
    """Cases already in database `name` (0 when it does not exist or holds none)."""
    conn = await asyncpg.connect(replace_db(server, "postgres"))
    try:
        if not await conn.fetchval("SELECT 1 FROM pg_database WHERE datname = $1", name):
            return 0
    finally:
        await conn.close()
    conn = await asyncpg.connect(replace_db(server, name))
    try:
        return int(await conn.fetchval("SELECT CASE WHEN to_regclass('cases.cases') IS NULL THEN 0 "
                                       "ELSE (SELECT count(*) FROM cases.cases) END"))
    finally:
        await conn.close()


def provision(gw: str, admin_password: str) -> dict[str, dict[str, str]]:
    """A CAPE case manager of the loaded prefectures and a national steering viewer; their headers."""
    tag = secrets.token_hex(3)
    with httpx.Client(base_url=gw, timeout=30) as client:
        def token(form: dict[str, str]) -> dict[str, str]:
            r = client.post("/v1/auth/token", data=form)
            r.raise_for_status()
            return {"Authorization": f"Bearer {r.json()['access_token']}"}

        admin = token({"grant_type": "password", "username": devstack.ADMIN_USERNAME, "password": admin_password})

        def create(path: str, body: dict[str, Any]) -> dict[str, Any]:
            r = client.post(path, json=body, headers={**admin, "Idempotency-Key": uuid.uuid4().hex})
            if r.status_code != 201:
                raise SystemExit(f"bench: POST {path} answered {r.status_code}: {r.text[:300]}")
            return dict(r.json())

        cape = create("/v1/organizations", {"name": f"CAPE bench {tag}", "type": "cape", "territory_code": "MA"})
        ministry = create("/v1/organizations", {"name": f"Ministry bench {tag}", "type": "ministry",
                                                "territory_code": "MA"})
        out = {}
        for key, role, org, territories in (("manager", "case_manager", cape, list(PREFECTURES)),
                                            ("steering", "steering_viewer", ministry, ["MA"])):
            password = secrets.token_urlsafe(16)
            create("/v1/users", {"username": f"{key}.{tag}", "full_name": f"Bench {key}", "role": role,
                                 "organization_id": org["id"], "territories": territories, "password": password})
            out[key] = token({"grant_type": "password", "username": f"{key}.{tag}", "password": password})
    return out


def intake_body(n: int) -> dict[str, Any]:
    """An intake in one of the loaded communes."""
    return {"reported_at": "2026-03-02T21:30:00Z", "source": "field_patrol", "commune_code": COMMUNES[n % 7],
            "place_type": "traffic_light", "night": True, "exploitation_pattern": "with_adult",
            "narrative": "Bench intake.", "children": [{"first_name": "Benchchild", "last_name": f"Probe{n}",
                                                         "sex": "female", "estimated_age_years": 4}]}


INTAKE_LUA = """
local names = {"Yassine","Salma","Amine","Khadija","Omar","Imane","Hamza","Aya","Ilyas","Hiba","Anas","Rania"}
local communes = {COMMUNES_LIST}
local n = 0
local run = RUN_ID
request = function()
  n = n + 1
  local body = string.format('{"reported_at":"2026-03-02T21:30:00Z","source":"field_patrol","commune_code":"%s",'
    .. '"place_type":"traffic_light","night":true,"exploitation_pattern":"with_adult",'
    .. '"children":[{"first_name":"%s","last_name":"Wrk%dx%d","sex":"female","estimated_age_years":4}],'
    .. '"adults":[{"first_name":"Fatima","last_name":"Wrk%d","sex":"female","age":31,'
    .. '"claimed_relationship":"mother"}]}',
    communes[(n % #communes) + 1], names[(n % #names) + 1], run, n, n)
  wrk.headers["Idempotency-Key"] = string.format("wrk-%d-%d", run, n)
  wrk.headers["Content-Type"] = "application/json"
  return wrk.format("POST", "/v1/intakes", nil, body)
end
""".replace("COMMUNES_LIST", ",".join(f'"{c}"' for c in COMMUNES))


def intakes_per_second(gw: str, headers: dict[str, str], wrk: str | None, seconds: float,
                       connections: int) -> dict[str, Any]:
    """Intakes created per second through the gateway (wrk, each request a new child and Idempotency-Key)."""
    if not wrk:
        return {"error": "wrk is needed for the intake rate"}
    script = RESULTS / "logs" / "intake.lua"
    # A new run id for every run: wrk's unseeded math.random gave every run the same one, so a second run
    # on one database replayed the first run's Idempotency-Keys instead of creating intakes.
    script.write_text(INTAKE_LUA.replace("RUN_ID", str(secrets.randbelow(10**9))))
    cmd = [wrk, "-t1", f"-c{connections}", f"-d{max(1, round(seconds))}s", "--latency", "--timeout", "10s",
           "-s", str(script), "-H", f"Authorization: {headers['Authorization']}", gw + "/v1/intakes"]
    out = subprocess.run(cmd, capture_output=True, text=True, check=True).stdout  # noqa: S603
    import re

    total = int(re.search(r"(\d+) requests in", out).group(1))  # type: ignore[union-attr]
    non2xx = re.search(r"Non-2xx or 3xx responses: (\d+)", out)
    errors = int(non2xx.group(1)) if non2xx else 0
    rate = float(re.search(r"Requests/sec:\s+([\d.]+)", out).group(1))  # type: ignore[union-attr]
    ok_rate = rate * (total - errors) / total if total else 0.0
    p50 = re.search(r"^\s+50%\s+(\S+)", out, re.M)
    return {"rps": round(ok_rate, 1), "requests": total, "errors": errors, "connections": connections,
            "p50": p50.group(1) if p50 else None}


def wait_idle(pid: int, *, below: float = 0.05, timeout: float = 120.0) -> float:
    """Seconds until the process uses less than `below` of a core over half a second."""
    began = time.monotonic()
    while time.monotonic() - began < timeout:
        used = cpu_seconds(pid)
        time.sleep(0.5)
        if cpu_seconds(pid) - used < below * 0.5:
            break
    return round(time.monotonic() - began, 1)


def postgres_cpu_seconds() -> float:
    """CPU time of the database servers' processes on this machine, the backends that exited included (their
    time is the postmaster's children's: a pool's overflow connections come and go during a run)."""
    import psutil

    total = 0.0
    for proc in psutil.process_iter(["name", "ppid"]):
        if proc.info["name"] not in ("postgres", "postmaster"):
            continue
        with contextlib.suppress(psutil.Error):
            times = proc.cpu_times()
            total += times.user + times.system
            if psutil.Process(proc.info["ppid"]).name() not in ("postgres", "postmaster"):
                total += times.children_user + times.children_system
    return total


async def count_intakes(admin_url: str) -> int:
    """Intakes in the loaded database."""
    conn = await asyncpg.connect(admin_url)
    try:
        return int(await conn.fetchval("SELECT count(*) FROM cases.intakes"))
    finally:
        await conn.close()


def ratio_runs(urls: dict[str, str], headers: dict[str, str], wrk: str | None, *, seconds: float, rounds: int,
               connections: int, pids: dict[str, int]) -> dict[str, Any]:
    """Alternating wrk runs against each url; requests per second per side and CPU per request."""
    load = {"headers": headers, "connections": connections, "wrk": wrk}
    for url in urls.values():
        run_load(url, seconds=2, **load)
    total: dict[str, list[Any]] = {k: [] for k in urls}
    cpu: dict[str, float] = dict.fromkeys(urls, 0.0)
    for _ in range(rounds):
        for side, url in urls.items():
            before = cpu_seconds(pids[side])
            total[side].append(run_load(url, seconds=seconds, **load))
            cpu[side] += cpu_seconds(pids[side]) - before
    out: dict[str, Any] = {}
    for side, results in total.items():
        n = sum(r.requests for r in results)
        secs = sum(r.seconds for r in results)
        out[side] = {"rps": round(n / secs, 1), "requests": n, "errors": sum(r.errors for r in results),
                     "p50_ms": sorted(r.p50_ms for r in results)[len(results) // 2],
                     "cpu_us_per_request": round(cpu[side] / max(1, n) * 1e6)}
    return out


async def deep_cursor(admin_url: str, prefecture: str, status: str, depth: float) -> tuple[str, int]:
    """A cursor `depth` of the way into the list of a prefecture's cases of one status, and the list's size."""
    conn = await asyncpg.connect(admin_url)
    try:
        total = await conn.fetchval("SELECT count(*) FROM cases.cases WHERE prefecture_code = $1 AND status = $2",
                                    prefecture, status)
        row = await conn.fetchrow("SELECT opened_at, id FROM cases.cases WHERE prefecture_code = $1 AND status = $2 "
                                  "ORDER BY opened_at DESC, id DESC OFFSET $3 LIMIT 1", prefecture, status,
                                  int(total * depth))
    finally:
        await conn.close()
    return encode_cursor([row["opened_at"].isoformat(), str(row["id"])]), int(total)


def rss_mb(pid: int) -> float:
    """Resident memory of a process and its children, in MB."""
    import psutil

    proc = psutil.Process(pid)
    return round(sum(p.memory_info().rss for p in [proc, *proc.children(recursive=True)]) / 2**20, 1)


# ---- 3. the run -----------------------------------------------------------------------------------------

def run(args: argparse.Namespace) -> dict[str, Any]:
    """Measure everything; return the report."""
    wrk = ensure_wrk()
    figures: dict[str, Any] = {}
    details: dict[str, Any] = {"cases_loaded": args.cases, "cpus": os.cpu_count(),
                               "load_average_at_start": os.getloadavg()}
    if not args.skip_make_run:
        print("bench: timing make run…", flush=True)
        details["make_run"] = measure_make_run()
        figures["make_run_seconds"] = details["make_run"]["installed_checkout_s"]
    with Loaded(args.cases, database=args.database) as env:
        details["cases_loaded"] = env.cases
        details["load"] = env.load_report
        gw, direct = env.url("gateway"), env.url("cases")
        details["rss_mb_after_start"] = {s.name: rss_mb(env.pid(s.name)) for s in devstack.SERVICES}
        actors = provision(gw, env.config.secrets["admin_password"])
        manager, steering = actors["manager"], actors["steering"]
        with httpx.Client(timeout=30) as client:
            r = client.post(gw + "/v1/intakes", json=intake_body(0),
                            headers={**manager, "Idempotency-Key": uuid.uuid4().hex})
            if r.status_code != 201:
                raise SystemExit(f"bench: POST /v1/intakes answered {r.status_code}: {r.text[:300]}")
            case_id = r.json()["cases"][0]["id"]

            # GET a case: gateway vs direct vs a bare handler with the same SQL.
            base_port = free_port()
            bare = uvicorn("bench.baseline:create_app", base_port, {
                "BENCH_DATABASE_URL": env.config.env()["CASES_DATABASE_URL"],
                "BENCH_TERRITORIES": ",".join(PREFECTURES)}, RESULTS / "logs" / "baseline.log")
            try:
                wait_ready(f"http://127.0.0.1:{base_port}/readyz", bare)
                path = f"/v1/cases/{case_id}"
                print("bench: GET a case (gateway, service, bare handler)…", flush=True)
                get = ratio_runs({"gateway": gw + path, "direct": direct + path,
                                  "bare": f"http://127.0.0.1:{base_port}{path}"}, manager, wrk,
                                 seconds=args.seconds, rounds=args.rounds, connections=args.connections,
                                 pids={"gateway": env.pid("gateway"), "direct": env.pid("cases"), "bare": bare.pid})
            finally:
                stop(bare)
            details["get_case"] = get
            figures["gateway_direct_ratio"] = round(get["gateway"]["rps"] / get["direct"]["rps"], 3)
            figures["get_case_vs_bare_ratio"] = round(get["direct"]["rps"] / get["bare"]["rps"], 3)

            print("bench: intakes through the gateway…", flush=True)
            intakes_before = asyncio.run(count_intakes(env.admin_url))
            pids = {name: env.pid(name) for name in ("gateway", "cases")}
            before = {name: cpu_seconds(pid) for name, pid in pids.items()}
            pg_before = postgres_cpu_seconds()
            details["intakes"] = intakes_per_second(gw, manager, wrk, args.seconds, args.intake_connections)
            figures["intakes_per_second"] = details["intakes"].get("rps")
            # Requests wrk left in flight are still being served: the next figures wait until cases is idle,
            # and the CPU per intake counts that work too (divided over every intake made, answered or not).
            details["intakes"]["drained_s"] = wait_idle(pids["cases"])
            made = asyncio.run(count_intakes(env.admin_url)) - intakes_before
            details["intakes"]["created"] = made
            per_intake = {name: cpu_seconds(pid) - before[name] for name, pid in pids.items()}
            per_intake["postgres (every server process here)"] = postgres_cpu_seconds() - pg_before
            details["intakes"]["cpu_ms_per_intake"] = {k: round(v / max(1, made) * 1000, 1)
                                                       for k, v in per_intake.items()}

            print("bench: lists, statistics, search…", flush=True)
            first = f"{gw}/v1/cases?territory_code=04.421&status=closed&limit=50"
            cursor, total = asyncio.run(deep_cursor(env.admin_url, "04.421", "closed", 0.9))
            lists = {"filter": "territory_code=04.421&status=closed", "matching_cases": total,
                     "first_page": _timed(client, first, manager, args.samples),
                     "deep_page_90pct": _timed(client, first + "&cursor=" + cursor, manager, args.samples),
                     "first_page_sex_age": _timed(
                         client, f"{gw}/v1/cases?territory_code=07.351&sex=female&age_max=4&limit=50", manager,
                         args.samples)}
            details["list"] = lists
            figures["list_first_page_p95_ms"] = lists["first_page"]["p95_ms"]
            if lists["deep_page_90pct"]["p95_ms"] and lists["first_page"]["p95_ms"]:
                figures["list_deep_vs_first_p95"] = round(lists["deep_page_90pct"]["p95_ms"]
                                                          / lists["first_page"]["p95_ms"], 2)
            summary = f"{gw}/v1/stats/summary?group_by=territory&group_by=sex&group_by=age_band"
            details["stats_summary"] = _timed(client, summary, steering, max(5, args.samples // 4))
            figures["stats_summary_p95_ms"] = details["stats_summary"]["p95_ms"]
            searches = {}
            for q in SEARCHES:
                url = str(httpx.URL(f"{gw}/v1/children", params={"q": q}))
                searches[q] = _timed(client, url, manager, max(5, args.samples // 3))
            details["name_search"] = searches
            measured = [v["p95_ms"] for v in searches.values() if v["p95_ms"] is not None]
            figures["name_search_p95_ms"] = max(measured) if measured else None
        time.sleep(3)
        details["rss_mb_idle_after_bench"] = {s.name: rss_mb(env.pid(s.name)) for s in devstack.SERVICES}
        figures["idle_rss_mb_max"] = max(details["rss_mb_idle_after_bench"].values())
    return {"figures": figures, "details": details}


def verdict(name: str, value: Any) -> str:
    """'met' or 'MISSED' against the target of docs/quality.md (the bench's own bar where the two differ)."""
    op, target = TARGETS[name]
    if value is None:
        return "not measured"
    return "met" if (value >= target if op == ">=" else value <= target) else "MISSED"


BASELINES = {
    "gateway_direct_ratio": "direct to cases, same GET, same concurrency",
    "get_case_vs_bare_ratio": "bare Starlette+asyncpg, same SQL",
    "intakes_per_second": "(absolute)",
    "list_first_page_p95_ms": "(absolute)",
    "list_deep_vs_first_p95": "first page p95",
    "stats_summary_p95_ms": "(absolute)",
    "name_search_p95_ms": "(absolute, worst of 6 queries)",
    "idle_rss_mb_max": "(absolute, largest process)",
    "make_run_seconds": "(absolute)",
}


def main(argv: list[str] | None = None) -> int:
    """Run, print the table, write bench-results/bench.json."""
    parser = argparse.ArgumentParser(prog="bench.scale", description=__doc__,
                                     formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--cases", type=int, default=100_000)
    parser.add_argument("--million", action="store_true", help="load 1,000,000 cases (docs/quality.md's scale)")
    parser.add_argument("--seconds", type=float, default=8.0)
    parser.add_argument("--rounds", type=int, default=3)
    parser.add_argument("--connections", type=int, default=32)
    parser.add_argument("--intake-connections", type=int, default=32)
    parser.add_argument("--samples", type=int, default=60)
    parser.add_argument("--skip-make-run", action="store_true")
    parser.add_argument("--database", help="keep the loaded data in this database: load it on the first run, "
                                           "reuse it (migrated to head) on the next ones")
    args = parser.parse_args(argv)
    if args.million:
        args.cases = 1_000_000
    report = run(args)
    figures = report["figures"]
    load = report["details"]["load"]
    loaded = f"load {load['seconds']} s" if load.get("seconds") is not None else f"reused {load['reused_database']}"
    print(f"\nPerformance figures of docs/quality.md — {report['details']['cases_loaded']:,} cases loaded "
          f"({loaded}), {os.cpu_count()} cores\n")
    print(f"{'figure':<28}{'measured':>11}  {'target':<9}{'verdict':<14}baseline")
    for name, (op, target) in TARGETS.items():
        value = figures.get(name)
        shown = "-" if value is None else f"{value:g}"
        print(f"{name:<28}{shown:>11}  {op + ' ' + str(target):<9}{verdict(name, value):<14}{BASELINES[name]}")
    get = report["details"]["get_case"]
    print(f"\nGET a case req/s: gateway {get['gateway']['rps']}, direct {get['direct']['rps']}, bare "
          f"{get['bare']['rps']}; CPU µs/request: gateway {get['gateway']['cpu_us_per_request']}, cases "
          f"{get['direct']['cpu_us_per_request']}, bare {get['bare']['cpu_us_per_request']}")
    intakes = report["details"]["intakes"]
    print(f"intakes: {intakes.get('created')} made, {intakes.get('errors')} errors, p50 {intakes.get('p50')}; "
          f"CPU ms per intake {intakes.get('cpu_ms_per_intake')}")
    lists = report["details"]["list"]
    print(f"list p50/p95 ms: first {lists['first_page']['p50_ms']}/{lists['first_page']['p95_ms']}, deep "
          f"{lists['deep_page_90pct']['p50_ms']}/{lists['deep_page_90pct']['p95_ms']} "
          f"({lists['matching_cases']:,} matching)")
    report["verdicts"] = {name: verdict(name, figures.get(name)) for name in TARGETS}
    report["targets"] = {name: f"{op} {t}" for name, (op, t) in TARGETS.items()}
    RESULTS.mkdir(exist_ok=True)
    out = RESULTS / "bench.json"
    existing = json.loads(out.read_text()) if out.exists() else {}
    existing["quality"] = report
    out.write_text(json.dumps(existing, indent=2, default=str) + "\n")
    print(f"written to {out.relative_to(ROOT)}")
    return 0


if __name__ == "__main__":
    with contextlib.suppress(KeyboardInterrupt):
        sys.exit(main())
