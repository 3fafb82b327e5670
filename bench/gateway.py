"""Gateway throughput against direct-to-service throughput, same authenticated GET, same concurrency.

    .venv/bin/python -m bench.gateway                     # the real stack (fresh database), GET /v1/me
    .venv/bin/python -m bench.gateway --endpoint '/v1/cases/{case_id}' --case-id <uuid>
    .venv/bin/python -m bench.gateway --upstream synthetic   # a token-verifying app without a database

Everything listens on free ports. Direct and gateway runs alternate (`--rounds`) so that a noisy
neighbour hurts both alike; the ratio is total gateway requests over total direct requests. Prints a
table and writes bench-results/bench.json.
"""

from __future__ import annotations

import argparse
import contextlib
import json
import os
import secrets
import socket
import subprocess
import sys
import time
import uuid
from collections.abc import Iterator
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit, urlunsplit

import httpx

from bench.load import LoadResult, ensure_wrk, run_load

ROOT = Path(__file__).resolve().parents[1]
RESULTS = ROOT / "bench-results"
TARGET = 0.85
# The bench measures the proxy, not the limits: it raises them far above what one run can send.
NO_LIMITS = {"GATEWAY_RATE_LIMIT_PER_CLIENT": "100000000", "GATEWAY_RATE_LIMIT_PER_IP": "100000000"}


def free_port() -> int:
    """A TCP port nobody listens on right now."""
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def wait_ready(url: str, proc: subprocess.Popen[bytes], timeout: float = 60.0) -> None:
    """Block until `url` answers 200."""
    deadline = time.monotonic() + timeout
    with httpx.Client(timeout=2.0) as client:
        while True:
            if proc.poll() is not None:
                raise RuntimeError(f"process for {url} exited with {proc.returncode}")
            with contextlib.suppress(httpx.HTTPError):
                if client.get(url).status_code == 200:
                    return
            if time.monotonic() > deadline:
                raise TimeoutError(f"{url} not ready in {timeout:.0f}s")
            time.sleep(0.1)


def uvicorn(app: str, port: int, env: dict[str, str], log: Path, workers: int = 1) -> subprocess.Popen[bytes]:
    """Start `app` (a factory) under uvicorn the way the stack does (uvloop and httptools when installed)."""
    cmd = [sys.executable, "-m", "uvicorn", app, "--factory", "--host", "127.0.0.1", "--port", str(port),
           "--no-access-log", "--log-level", "warning"]
    if workers > 1:
        cmd += ["--workers", str(workers)]
    log.parent.mkdir(parents=True, exist_ok=True)
    return subprocess.Popen(cmd, env={**os.environ, **env, "PYTHONUNBUFFERED": "1"}, cwd=ROOT,  # noqa: S603
                            stdout=log.open("ab"), stderr=subprocess.STDOUT, start_new_session=True)


def stop(proc: subprocess.Popen[bytes]) -> None:
    """Stop a process group started here."""
    if proc.poll() is None:
        with contextlib.suppress(ProcessLookupError):
            os.killpg(proc.pid, 15)
        try:
            proc.wait(timeout=20)
        except subprocess.TimeoutExpired:
            os.killpg(proc.pid, 9)
            proc.wait()


@contextlib.contextmanager
def synthetic_target(args: argparse.Namespace) -> Iterator[dict[str, Any]]:
    """The baseline app and a gateway in front of it; a token the app trusts."""
    from himaya_dev.testing.plugin import TokenFactory

    tokens = TokenFactory.generate()
    up_port, gw_port = free_port(), free_port()
    upstream_url = f"http://127.0.0.1:{up_port}"
    logs = RESULTS / "logs"
    procs = [uvicorn("bench.upstream:create_app", up_port, {"BENCH_JWKS": json.dumps(tokens.jwks)},
                     logs / "upstream.log")]
    try:
        wait_ready(upstream_url + "/readyz", procs[0])
        env = {"HIMAYA_ENV": "local", "GATEWAY_JWKS_URL": upstream_url + "/.well-known/jwks.json",
               **{f"GATEWAY_{s}_URL": upstream_url for s in ("IDENTITY", "CASES", "REFERRALS")}, **NO_LIMITS}
        procs.append(uvicorn("gateway_service.main:create_app", gw_port, env, logs / "gateway.log",
                             workers=args.gateway_workers))
        wait_ready(f"http://127.0.0.1:{gw_port}/readyz", procs[1])
        path = args.endpoint.format(case_id=args.case_id or uuid.uuid4())
        yield {"direct": upstream_url + path, "gateway": f"http://127.0.0.1:{gw_port}" + path,
               "pids": {"upstream": procs[0].pid, "gateway": procs[1].pid},
               "headers": tokens.headers(role="case_manager", scopes=["cases:read"], org=uuid.uuid4()),
               "upstream": "synthetic (token-verifying FastAPI app, no database)"}
    finally:
        for proc in reversed(procs):
            stop(proc)


@contextlib.contextmanager
def stack_target(args: argparse.Namespace) -> Iterator[dict[str, Any]]:
    """The real four processes on a fresh database; a token from identity's password grant."""
    from himaya_dev import devstack

    server_url, _ = devstack.admin_database_url()
    parts = urlsplit(server_url)
    name = "himaya_bench_" + secrets.token_hex(4)
    admin_url = urlunsplit((parts.scheme, parts.netloc, "/" + name, parts.query, parts.fragment))
    devstack.ensure_database(admin_url)
    ports = {s.name: free_port() for s in devstack.SERVICES}
    config = devstack.StackConfig(admin_url=admin_url, ports=ports, extra=NO_LIMITS)
    services = devstack.Stack(config, log_dir=RESULTS / "logs")
    gateway = devstack.Stack(config, log_dir=RESULTS / "logs", workers=args.gateway_workers)
    try:
        devstack.migrate(config)
        for svc in devstack.DB_SERVICES:
            services.start(svc.name)
        gateway.start("gateway")
        services.wait_ready(tuple(s.name for s in devstack.DB_SERVICES))
        gateway.wait_ready(("gateway",))
        gw = config.base_url("gateway")
        response = httpx.post(gw + "/v1/auth/token", data={
            "grant_type": "password", "username": devstack.ADMIN_USERNAME,
            "password": config.secrets["admin_password"]}, timeout=10)
        if response.status_code != 200:
            raise SystemExit(f"bench: cannot log in through {gw}/v1/auth/token ({response.status_code}); "
                             "identity's token endpoint is needed for --upstream stack "
                             "(use --upstream synthetic meanwhile)")
        token = response.json()["access_token"]
        path = args.endpoint.format(case_id=args.case_id or uuid.uuid4())
        service = __import__("gateway_service.routing", fromlist=["route"]).route(urlsplit(path).path)
        yield {"direct": config.base_url(service) + path, "gateway": gw + path,
               "pids": {"upstream": services.procs[service].pid, "gateway": gateway.procs["gateway"].pid},
               "headers": {"Authorization": f"Bearer {token}"}, "upstream": f"{service} (real stack)"}
    finally:
        gateway.stop_all()
        services.stop_all()
        import asyncio

        import asyncpg

        async def drop() -> None:
            conn = await asyncpg.connect(server_url)
            try:
                await conn.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
            finally:
                await conn.close()

        asyncio.run(drop())


def cpu_seconds(pid: int) -> float:
    """CPU time (user + system) of a process and its children (uvicorn workers)."""
    try:
        import psutil
    except ImportError:
        return float("nan")
    proc = psutil.Process(pid)
    total = 0.0
    for p in [proc, *proc.children(recursive=True)]:
        times = p.cpu_times()
        total += times.user + times.system
    return total


def measure(target: dict[str, Any], args: argparse.Namespace, wrk: str | None) -> dict[str, Any]:
    """Alternate direct and gateway runs; sum them per side."""
    with httpx.Client(timeout=10) as client:
        for side in ("direct", "gateway"):
            r = client.get(target[side], headers=target["headers"])
            if r.status_code != 200:
                raise SystemExit(f"bench: {side} GET {target[side]} answered {r.status_code}: {r.text[:300]}")
    load = {"headers": target["headers"], "connections": args.connections, "wrk": wrk}
    for side in ("direct", "gateway"):  # warm-up: pools, caches, JIT-less but lazy imports
        run_load(target[side], seconds=2, **load)
    runs: dict[str, list[LoadResult]] = {"direct": [], "gateway": []}
    # CPU per request of each process during the gateway runs: unlike a rate, it barely moves when the
    # machine is shared, so it shows what the gateway costs next to the service it fronts.
    cpu = {"upstream": 0.0, "gateway": 0.0}
    for _ in range(args.rounds):
        for side in ("direct", "gateway"):
            before = {name: cpu_seconds(pid) for name, pid in target["pids"].items()}
            runs[side].append(run_load(target[side], seconds=args.seconds, **load))
            if side == "gateway":
                for name, pid in target["pids"].items():
                    cpu[name] += cpu_seconds(pid) - before[name]
    summary: dict[str, Any] = {}
    for side, results in runs.items():
        total = sum(r.requests for r in results)
        secs = sum(r.seconds for r in results)
        summary[side] = {
            "rps": total / secs, "requests": total, "errors": sum(r.errors for r in results),
            "p50_ms": sorted(r.p50_ms for r in results)[len(results) // 2],
            "p99_ms": max(r.p99_ms for r in results), "runs": [r.as_dict() for r in results],
        }
    summary["ratio"] = summary["gateway"]["rps"] / summary["direct"]["rps"]
    proxied = summary["gateway"]["requests"]
    summary["cpu_us_per_request"] = {name: seconds / proxied * 1e6 for name, seconds in cpu.items()}
    return summary


def main(argv: list[str] | None = None) -> int:
    """Run the bench, print the table, write bench-results/bench.json."""
    parser = argparse.ArgumentParser(prog="bench.gateway", description=__doc__,
                                     formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--upstream", choices=("stack", "synthetic"), default="stack")
    parser.add_argument("--endpoint", default=None,
                        help="path of the authenticated GET; {case_id} is replaced (default: /v1/me on the "
                             "stack, /v1/cases/{case_id} on the synthetic upstream)")
    parser.add_argument("--case-id", default=None)
    parser.add_argument("--connections", type=int, default=64)
    parser.add_argument("--seconds", type=float, default=10.0)
    parser.add_argument("--rounds", type=int, default=2)
    parser.add_argument("--gateway-workers", type=int, default=1)
    args = parser.parse_args(argv)
    args.endpoint = args.endpoint or ("/v1/me" if args.upstream == "stack" else "/v1/cases/{case_id}")
    wrk = ensure_wrk()
    target_cm = stack_target if args.upstream == "stack" else synthetic_target
    with target_cm(args) as target:
        summary = measure(target, args, wrk)
    tool = "wrk" if wrk else "python-aiohttp"
    report = {"benchmark": "gateway_vs_direct", "endpoint": args.endpoint, "upstream": target["upstream"],
              "tool": tool, "connections": args.connections, "seconds_per_run": args.seconds,
              "rounds": args.rounds, "gateway_workers": args.gateway_workers, "cpus": os.cpu_count(),
              "target_ratio": TARGET, **summary}
    RESULTS.mkdir(exist_ok=True)
    out = RESULTS / "bench.json"
    existing = json.loads(out.read_text()) if out.exists() else {}
    existing["gateway"] = report
    out.write_text(json.dumps(existing, indent=2) + "\n")
    d, g = summary["direct"], summary["gateway"]
    print(f"\nGET {args.endpoint} — {report['upstream']}; {tool}, {args.connections} connections, "
          f"{args.rounds}×{args.seconds:.0f}s per side\n")
    print(f"{'':10}{'req/s':>10}{'p50 ms':>9}{'p99 ms':>9}{'errors':>8}")
    for label, row in (("direct", d), ("gateway", g)):
        print(f"{label:10}{row['rps']:>10.0f}{row['p50_ms']:>9.2f}{row['p99_ms']:>9.2f}{row['errors']:>8}")
    cpu = summary["cpu_us_per_request"]
    print(f"\nCPU per proxied request: gateway {cpu['gateway']:.0f} µs, upstream {cpu['upstream']:.0f} µs")
    verdict = "meets" if summary["ratio"] >= TARGET else "BELOW"
    print(f"\ngateway/direct throughput ratio: {summary['ratio']:.3f} ({verdict} the {TARGET} target)")
    print(f"written to {out.relative_to(ROOT)}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
