"""Load generators: wrk (installed from Debian's packages when missing and running as root), or a Python
fallback on aiohttp with the same closed-loop model (N connections, each sending its next request as soon
as the previous answer arrived)."""

from __future__ import annotations

import asyncio
import os
import re
import shutil
import subprocess
import time
from dataclasses import asdict, dataclass

import aiohttp


@dataclass
class LoadResult:
    """Throughput and latency of one load run."""

    tool: str
    requests: int
    errors: int
    seconds: float
    rps: float
    p50_ms: float
    p99_ms: float

    def as_dict(self) -> dict[str, float | int | str]:
        """JSON-ready figures."""
        return asdict(self)


def ensure_wrk() -> str | None:
    """The path of wrk, installing Debian's package when it is missing and we are root."""
    path = shutil.which("wrk")
    if path or os.geteuid() != 0 or not shutil.which("apt-get"):
        return path
    print("bench: installing wrk (apt-get install -y wrk)…", flush=True)
    env = {**os.environ, "DEBIAN_FRONTEND": "noninteractive"}
    install = ["apt-get", "install", "-y", "-q", "wrk"]
    if subprocess.run(install, env=env, capture_output=True).returncode != 0:  # noqa: S603
        subprocess.run(["apt-get", "update", "-q"], env=env, capture_output=True)  # noqa: S607
        subprocess.run(install, env=env, capture_output=True)  # noqa: S603
    return shutil.which("wrk")


_UNITS = {"us": 0.001, "ms": 1.0, "s": 1000.0, "m": 60_000.0}


def _ms(text: str) -> float:
    match = re.fullmatch(r"([\d.]+)(us|ms|s|m)", text.strip())
    if not match:
        raise ValueError(f"unparsable wrk latency {text!r}")
    return float(match.group(1)) * _UNITS[match.group(2)]


def run_wrk(wrk: str, url: str, *, headers: dict[str, str], connections: int, seconds: float,
            threads: int = 1) -> LoadResult:
    """Run wrk against `url` and parse its summary."""
    cmd = [wrk, f"-t{threads}", f"-c{connections}", f"-d{max(1, round(seconds))}s", "--latency", "--timeout", "10s"]
    for name, value in headers.items():
        cmd += ["-H", f"{name}: {value}"]
    out = subprocess.run([*cmd, url], capture_output=True, text=True, check=True).stdout  # noqa: S603
    requests = int(re.search(r"(\d+) requests in ([\d.]+)(\w+)", out).group(1))  # type: ignore[union-attr]
    duration = re.search(r"requests in ([\d.]+\w+)", out).group(1)  # type: ignore[union-attr]
    non2xx = re.search(r"Non-2xx or 3xx responses: (\d+)", out)
    socket_errors = re.search(r"Socket errors: connect (\d+), read (\d+), write (\d+), timeout (\d+)", out)
    errors = int(non2xx.group(1)) if non2xx else 0
    if socket_errors:
        errors += sum(int(g) for g in socket_errors.groups())
    p50 = re.search(r"^\s+50%\s+(\S+)", out, re.M).group(1)  # type: ignore[union-attr]
    p99 = re.search(r"^\s+99%\s+(\S+)", out, re.M).group(1)  # type: ignore[union-attr]
    secs = _ms(duration) / 1000
    return LoadResult("wrk", requests, errors, secs, requests / secs, _ms(p50), _ms(p99))


async def _python_load(url: str, headers: dict[str, str], connections: int, seconds: float) -> LoadResult:
    latencies: list[float] = []
    errors = 0
    deadline = time.perf_counter() + seconds
    connector = aiohttp.TCPConnector(limit=connections)
    async with aiohttp.ClientSession(connector=connector, headers=headers) as session:

        async def worker() -> None:
            nonlocal errors
            while (start := time.perf_counter()) < deadline:
                try:
                    async with session.get(url) as response:
                        await response.read()
                        if response.status >= 400:
                            errors += 1
                except aiohttp.ClientError:
                    errors += 1
                latencies.append(time.perf_counter() - start)

        began = time.perf_counter()
        await asyncio.gather(*(worker() for _ in range(connections)))
        elapsed = time.perf_counter() - began
    latencies.sort()
    n = len(latencies)
    return LoadResult("python-aiohttp", n, errors, elapsed, n / elapsed,
                      latencies[n // 2] * 1000 if n else 0.0, latencies[min(n - 1, int(n * 0.99))] * 1000 if n else 0.0)


def run_load(url: str, *, headers: dict[str, str], connections: int, seconds: float,
             wrk: str | None) -> LoadResult:
    """Load `url` with wrk when available, else with the Python generator."""
    if wrk:
        return run_wrk(wrk, url, headers=headers, connections=connections, seconds=seconds)
    return asyncio.run(_python_load(url, headers, connections, seconds))
