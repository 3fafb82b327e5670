"""Concurrency through the gateway, with the real processes: retries of one POST, updates with one ETag."""

from __future__ import annotations

import asyncio
from collections import Counter

import pytest

from tests.faults_support import (
    FaultEnv,
    fault_env_fixture,
    intake_body,
    new_key,
    open_case,
    referred_case,
    report,
    scale,
)

pytestmark = [pytest.mark.stack, pytest.mark.timeout(600)]


@pytest.fixture(scope="session")
def env(request: pytest.FixtureRequest) -> FaultEnv:
    return fault_env_fixture(request)


class TestConcurrentRetriesOfOnePost:
    async def test_fifty_retries_of_one_intake_open_one_case_and_get_byte_identical_answers(
            self, env: FaultEnv) -> None:
        n = 50
        key, body = new_key("burst"), intake_body(4242, children=2)
        before = int(env.iso.psql("SELECT count(*) FROM cases.intakes"))
        headers = env.actors.headers("police", **{"Idempotency-Key": key})
        async with env.async_client(timeout=60.0) as client:
            answers = await asyncio.gather(*(client.post("/v1/intakes", json=body, headers=headers)
                                             for _ in range(n)))
        assert Counter(a.status_code for a in answers) == {201: n}
        assert len({a.content for a in answers}) == 1
        assert int(env.iso.psql("SELECT count(*) FROM cases.intakes")) - before == 1
        assert sum(a.headers.get("idempotent-replayed") == "true" for a in answers) == n - 1
        report("50 concurrent retries of one intake", requests=n, objects_created=1, distinct_bodies=1)

    async def test_fifty_retries_of_one_prosecutor_decision_record_it_once(self, env: FaultEnv) -> None:
        n = 50
        _, referral_id = await asyncio.to_thread(referred_case, env, 4343)
        headers = env.actors.headers("prosecution_system", **{"Idempotency-Key": new_key("decision")})
        body = {"type": "emergency_placement", "concerns": "child", "decided_at": "2026-03-05T09:00:00+01:00"}
        async with env.async_client(timeout=60.0) as client:
            answers = await asyncio.gather(*(client.post(f"/v1/referrals/{referral_id}/decisions", json=body,
                                                         headers=headers) for _ in range(n)))
            detail = await client.get(f"/v1/referrals/{referral_id}",
                                      headers=env.actors.headers("prosecution_system"))
        assert Counter(a.status_code for a in answers) == {201: n}
        assert len({a.content for a in answers}) == 1
        assert [d["id"] for d in detail.json()["decisions"]] == [answers[0].json()["id"]]
        report("50 concurrent retries of one decision", requests=n, objects_created=1, distinct_bodies=1)


class TestConcurrentUpdatesWithOneEtag:
    async def test_exactly_one_patch_wins_and_the_others_get_412(self, env: FaultEnv) -> None:
        n = scale(20, 100)
        case_id = await asyncio.to_thread(open_case, env, 4444)
        headers = env.actors.headers("manager")
        levels = ["low", "medium", "high", "immediate"]
        async with env.async_client(timeout=60.0) as client:
            read = await client.get(f"/v1/cases/{case_id}", headers=headers)
            etag, version = read.headers["etag"], read.json()["version"]
            answers = await asyncio.gather(*(client.patch(
                f"/v1/cases/{case_id}", json={"risk_level": levels[i % 4]}, headers={**headers, "If-Match": etag})
                for i in range(n)))
            after = await client.get(f"/v1/cases/{case_id}", headers=headers)
        assert Counter(a.status_code for a in answers) == {200: 1, 412: n - 1}
        winner = next(a for a in answers if a.status_code == 200)
        assert all(a.headers["content-type"] == "application/problem+json" for a in answers if a.status_code == 412)
        assert after.json()["version"] == version + 1
        assert after.json()["risk_level"] == winner.json()["risk_level"]
        assert after.headers["etag"] == winner.headers["etag"] != etag
        report("concurrent PATCH with one ETag", requests=n, won=1, precondition_failed=n - 1)
