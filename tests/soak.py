"""`make soak`: the long forms of the fault-injection, concurrency, bad-input and fuzz suites, then a summary.

    .venv/bin/python tests/soak.py [extra pytest arguments, e.g. -k postgres]

Runs the same tests as `make test` with HIMAYA_SOAK=1: more writers, intakes and Postgres restarts, more
decisions while cases is down, more requests in flight at each SIGTERM, more stalled requests, 100 concurrent
PATCHes, and schemathesis with 60 examples per operation plus its stateful phase. Each suite appends what it
tried and what held to a JSON-lines file; this script prints them as a table and exits with pytest's status.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
SUITES = ["tests/test_faults_processes.py", "tests/test_concurrency_gateway.py", "tests/test_bad_input_gateway.py",
          "tests/test_fuzz_openapi.py"]


def main(argv: list[str]) -> int:
    """Run the long forms and print the summary."""
    with tempfile.TemporaryDirectory(prefix="himaya-soak-") as tmp:
        report_path = Path(tmp) / "soak.jsonl"
        env = {**os.environ, "HIMAYA_SOAK": "1", "HIMAYA_SOAK_REPORT": str(report_path)}
        started = time.monotonic()
        status = subprocess.call(
            [sys.executable, "-m", "pytest", *SUITES, "-p", "no:cacheprovider", "-q", "-rfE",
             "-o", "timeout=3600", *argv], cwd=ROOT, env=env)
        minutes = (time.monotonic() - started) / 60
        lines = report_path.read_text().splitlines() if report_path.exists() else []
    print(f"\n=== Himaya soak: {len(lines)} scenarios reported in {minutes:.1f} min; pytest exit status {status} ===")
    for line in lines:
        entry = json.loads(line)
        suite = entry.pop("suite")
        facts = ", ".join(f"{k}={json.dumps(v) if isinstance(v, (dict, list)) else v}" for k, v in entry.items())
        print(f"- {suite}: {facts}")
    print("HELD: every suite passed." if status == 0 else "NOT HELD: see the failures above.")
    return status


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
