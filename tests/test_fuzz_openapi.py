"""Property-based fuzzing (schemathesis) of every operation of the gateway's merged OpenAPI, authenticated, with
valid and invalid inputs: zero 5xx and zero responses that break their own documented schema or media type.

One run per token (a case manager, who writes cases; the administrator, who writes the directory). Bounded
under `make test` (a few examples per operation, no stateful phase); `make soak` runs many more examples and
the stateful phase (sequences following the OpenAPI links). The token endpoint is left out: its brute-force
protection would throttle this machine's address (identity's own tests cover it).
"""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest

from tests.faults_support import SOAK, FaultEnv, fault_env_fixture, report, scale

pytestmark = [pytest.mark.slow, pytest.mark.stack, pytest.mark.timeout(3600 if SOAK else 900)]

CHECKS = "not_a_server_error,response_schema_conformance,content_type_conformance"
SCHEMATHESIS = Path(sys.executable).with_name("schemathesis")


@pytest.fixture(scope="session")
def env(request: pytest.FixtureRequest) -> FaultEnv:
    return fault_env_fixture(request)


def run_schemathesis(env: FaultEnv, token: str, out: Path) -> dict:
    """Run the schemathesis CLI against the gateway and return its JSON report.

    One worker: with two, CPython 3.11's `ast` occasionally races inside hypothesis ("AST constructor recursion
    depth mismatch"), an error of the fuzzer, not of the API.
    """
    phases = "examples,coverage,fuzzing,stateful" if SOAK else "examples,coverage,fuzzing"
    command = [
        str(SCHEMATHESIS), "run", env.iso.url() + "/openapi.json",
        "--header", f"Authorization: Bearer {token}",
        "--checks", CHECKS, "--mode", "all", "--phases", phases,
        "--max-examples", str(scale(4, 60)), "--workers", "1", "--request-timeout", "40",
        "--exclude-path", "/v1/auth/token", "--seed", "20260302" if not SOAK else "0",
        "--report", "json", "--report-json-path", str(out / "report.json"),
        "--report-dir", str(out), "--no-color", "--output-truncate", "true",
    ]
    if SOAK:
        command.remove("--seed")
        command.remove("0")
    completed = subprocess.run(command, capture_output=True, text=True, cwd=out, timeout=3500)
    (out / "output.txt").write_text(completed.stdout + completed.stderr)
    assert (out / "report.json").exists(), completed.stdout[-3000:] + completed.stderr[-3000:]
    result = json.loads((out / "report.json").read_text())
    result["output"] = completed.stdout
    return dict(result)


class TestFuzzTheMergedOpenAPI:
    @pytest.mark.parametrize("actor", ["manager", "admin"])
    def test_no_5xx_and_no_answer_breaks_its_schema(self, env: FaultEnv, actor: str,
                                                    tmp_path: Path) -> None:
        doc = env.wait_openapi_complete()
        result = run_schemathesis(env, env.actors.token(actor), tmp_path)
        cases = result["test_cases"]
        report(f"schemathesis as {actor}", operations=result["operations"]["tested"], test_cases=cases["generated"],
               failures=result["failures"], errors=result["errors"], phases=list(result["phases"]))
        assert result["operations"]["tested"] >= len([op for item in doc["paths"].values() for op in item]) - 1
        assert cases["generated"] > 0
        summary = result["output"][result["output"].find("FAILURES"):][-6000:]
        assert result["failures"] == [], summary
        assert result["errors"] == [], summary
        assert all(env.stack.procs[name].poll() is None for name in env.stack.procs)
