"""Fault injection with the four real processes on their own Postgres server (see tests/faults_support.py).

Bounded under `make test`; `make soak` (tests/soak.py, HIMAYA_SOAK=1) runs the long forms.

What "no 5xx" means under SIGTERM, precisely:
- a request the service had accepted before the signal (in flight) finishes with the answer it would have had
  without the signal (here 201), and its write is in the database;
- a request arriving after the service stopped listening is answered by the gateway with a 502 or 503
  problem+json (the service is gone: retry later); never a 500 (a crash) and never a 504 (a hang);
- when the gateway itself is stopped, a request arriving after it stopped listening gets a connection error
  (there is nobody to answer), and every HTTP answer it did give is below 500.
"""

from __future__ import annotations

import asyncio
import os
import signal
import time
from collections import Counter
from typing import Any

import asyncpg
import httpx
import pytest

from tests.faults_support import (
    FaultEnv,
    fault_env_fixture,
    intake_body,
    new_key,
    referred_case,
    report,
    scale,
    send_with_retries,
)

pytestmark = [pytest.mark.slow, pytest.mark.stack, pytest.mark.timeout(900)]


@pytest.fixture(scope="session")
def env(request: pytest.FixtureRequest) -> FaultEnv:
    return fault_env_fixture(request)


def count_rows(env: FaultEnv, table: str) -> int:
    return int(env.iso.psql(f"SELECT count(*) FROM {table}"))


async def wait_for(predicate: Any, *, within: float, pause: float = 0.5) -> bool:
    """Poll `predicate()` (a coroutine function) until it is true or `within` seconds pass."""
    deadline = time.monotonic() + within
    while time.monotonic() < deadline:
        if await predicate():
            return True
        await asyncio.sleep(pause)
    return bool(await predicate())


class TestPostgresRestartUnderWriteLoad:
    async def test_no_acknowledged_write_is_lost_and_every_retried_intake_succeeds(self, env: FaultEnv) -> None:
        writers, per_writer, restarts = scale(6, 12), scale(10, 120), scale(1, 6)
        total = writers * per_writer
        pids = {name: proc.pid for name, proc in env.stack.procs.items()}
        intakes_before = count_rows(env, "cases.intakes")
        outcomes: list[tuple[dict[str, Any], Any]] = []

        async with env.async_client() as client:
            async def writer(w: int) -> None:
                for i in range(per_writer):
                    body = intake_body(w * 10_000 + i)
                    outcome = await send_with_retries(
                        client, "POST", "/v1/intakes", key=new_key("pg"), json_body=body,
                        headers=env.actors.headers("police"), deadline=time.monotonic() + 120)
                    outcomes.append((body, outcome))

            async def chaos() -> None:
                for r in range(restarts):
                    while len(outcomes) < (r + 1) * total // (restarts + 1):  # noqa: ASYNC110
                        await asyncio.sleep(0.05)
                    await asyncio.to_thread(env.iso.restart_postgres)

            await asyncio.gather(*(writer(w) for w in range(writers)), chaos())

            failed = [o for _, o in outcomes if not o.succeeded]
            assert not failed, [(o.key, o.attempts) for o in failed[:5]]
            faulted = [o for _, o in outcomes if len(o.attempts) > 1]
            assert faulted, "the restart never hit a request: the test tested nothing"
            # While the database was away the services said so (503, retry), they did not crash (500). A rare 502
            # is the gateway reusing a keep-alive connection the service closed at that instant (see the report).
            refused = Counter(a.status or a.error for _, o in outcomes for a in o.attempts[:-1])
            assert set(refused) <= {503, 502, 409}, refused
            # Every acknowledged intake is there, once.
            intake_ids = {o.final.json()["id"] for _, o in outcomes}
            assert len(intake_ids) == total
            assert count_rows(env, "cases.intakes") - intakes_before == total
            case_ids = [o.final.json()["cases"][0]["id"] for _, o in outcomes]
            reads = await asyncio.gather(*(client.get(f"/v1/cases/{c}", headers=env.actors.headers("police"))
                                           for c in case_ids))
            assert Counter(r.status_code for r in reads) == {200: total}
            # The stored first answers survived the restarts: a late retry of each request replays it.
            sample = [o for _, o in outcomes][:: max(1, total // 20)]
            bodies = {o.key: body for body, o in outcomes}
            replays = await asyncio.gather(*(client.post(
                "/v1/intakes", json=bodies[o.key], headers=env.actors.headers("police", **{"Idempotency-Key": o.key}))
                for o in sample))
            assert all(r.status_code == 201 and r.headers.get("idempotent-replayed") == "true" for r in replays)
            assert [r.json()["id"] for r in replays] == [o.final.json()["id"] for o in sample]

        # The services recovered on their own: same processes, all ready, the outbox dispatcher delivers again.
        assert {name: proc.pid for name, proc in env.stack.procs.items()} == pids
        assert all(proc.poll() is None for proc in env.stack.procs.values())
        with env.client() as sync:
            assert sync.get("/readyz").status_code == 200
        case_id, _ = await asyncio.to_thread(referred_case, env, 1)

        async def case_referred() -> bool:
            async with env.async_client() as c:
                response = await c.get(f"/v1/cases/{case_id}", headers=env.actors.headers("police"))
            return bool(response.json()["status"] == "referred_to_prosecution")

        assert await wait_for(case_referred, within=60), "referrals' outbox did not deliver after the restart"
        report("postgres restart under write load", intakes=total, writers=writers, restarts=restarts,
               retried_requests=len(faulted), failed_attempts=dict(refused), lost=0, duplicated=0)


class TestCasesDownWhileDecisionsAreRecorded:
    async def test_every_decision_reaches_cases_once_after_it_restarts(self, env: FaultEnv) -> None:
        n = scale(3, 15)
        referred = [await asyncio.to_thread(referred_case, env, 100 + i) for i in range(n)]
        decision_types = ("emergency_placement", "dna_expertise_order")
        env.stack.stop("cases")
        try:
            async with env.async_client() as client:
                responses = await asyncio.gather(*(client.post(
                    f"/v1/referrals/{referral_id}/decisions",
                    json={"type": t, "concerns": "child", "decided_at": "2026-03-03T10:00:00+01:00"},
                    headers=env.actors.headers("prosecution_system", **{"Idempotency-Key": new_key("dec")}))
                    for _, referral_id in referred for t in decision_types))
            assert [r.status_code for r in responses] == [201] * (n * len(decision_types)), \
                [r.text for r in responses if r.status_code != 201][:3]
            await asyncio.sleep(3)  # the dispatcher tries, fails, backs off
        finally:
            env.stack.start("cases")
            env.stack.wait_ready(("cases",))

        async with env.async_client() as client:
            async def all_delivered() -> bool:
                for case_id, _ in referred:
                    measures = await client.get(f"/v1/cases/{case_id}/judicial-measures",
                                                headers=env.actors.headers("manager"))
                    if len(measures.json()) < len(decision_types):
                        return False
                return True

            assert await wait_for(all_delivered, within=90), "decisions were not delivered after cases restarted"
            await asyncio.sleep(2)  # a duplicate delivery would land now
            for case_id, referral_id in referred:
                measures = (await client.get(f"/v1/cases/{case_id}/judicial-measures",
                                             headers=env.actors.headers("manager"))).json()
                assert sorted(m["decision_type"] for m in measures) == sorted(decision_types)
                assert {m["referral_id"] for m in measures} == {referral_id}
                timeline = (await client.get(f"/v1/cases/{case_id}/timeline", params={"limit": 200},
                                             headers=env.actors.headers("manager"))).json()["items"]
                recorded = [e for e in timeline if e["event_type"] == "referral.decision_recorded"]
                assert len(recorded) == len(decision_types)
                case = (await client.get(f"/v1/cases/{case_id}", headers=env.actors.headers("manager"))).json()
                assert case["status"] == "interim_measure"
        pending = env.iso.psql("SELECT count(*) FROM referrals.outbox_events WHERE delivered_at IS NULL")
        assert pending == 0
        report("cases down while decisions are recorded", referrals=n, decisions=n * len(decision_types),
               delivered_once=n * len(decision_types), duplicates=0)


# service → (table whose lock holds its writes, how to make one write through the gateway)
LOCKED_WRITES = {
    "identity": "identity.organizations",
    "cases": "cases.intakes",
    "referrals": "referrals.prosecutor_decisions",
    "gateway": "cases.intakes",
}


class TestSigtermUnderLoad:
    @pytest.mark.parametrize("service", ["identity", "cases", "referrals", "gateway"])
    async def test_in_flight_requests_finish_and_later_ones_get_no_5xx_but_the_gateways(
            self, env: FaultEnv, service: str) -> None:
        in_flight_n = scale(5, 20)
        a = env.actors
        referral_id = referred_case(env, 500)[1] if service == "referrals" else None

        def write(i: int) -> tuple[str, dict[str, Any], dict[str, str]]:
            if service == "identity":
                return "/v1/organizations", {"name": f"SIGTERM org {new_key()}", "type": "ngo",
                                             "territory_code": "04.421"}, a.headers("admin")
            if service == "referrals":
                return f"/v1/referrals/{referral_id}/decisions", {
                    "type": "medical_care_order", "concerns": "child", "decided_at": "2026-03-04T10:00:00Z",
                    "notes": f"in flight {i}"}, a.headers("prosecution_system", **{"Idempotency-Key": new_key()})
            return "/v1/intakes", intake_body(900 + i), a.headers("police", **{"Idempotency-Key": new_key()})

        background_path = {"identity": "/v1/organizations", "cases": "/v1/cases", "referrals": "/v1/referrals",
                           "gateway": "/v1/cases"}[service]
        background_headers = a.headers("admin" if service == "identity" else "police")
        writes = [write(i) for i in range(in_flight_n)]
        table = LOCKED_WRITES[service]
        lock = await asyncpg.connect(env.iso.config.admin_url)
        watch = await asyncpg.connect(env.iso.config.admin_url)
        proc = env.stack.procs[service]
        exited_at: list[float] = []
        background: list[tuple[float, int | str, str]] = []
        stop_background = asyncio.Event()
        try:
            tx = lock.transaction()
            await tx.start()
            await lock.execute(f"LOCK TABLE {table} IN SHARE ROW EXCLUSIVE MODE")
            async with env.async_client(timeout=60.0) as client:
                in_flight = [asyncio.create_task(client.post(path, json=body, headers=headers))
                             for path, body, headers in writes]

                async def blocked() -> bool:
                    # Not on `lock`: inside a transaction pg_stat_activity is a snapshot taken at first read.
                    waiting = await watch.fetchval(
                        "SELECT count(*) FROM pg_stat_activity WHERE wait_event_type = 'Lock' AND datname = "
                        "current_database()")
                    return bool(waiting >= in_flight_n)

                assert await wait_for(blocked, within=30, pause=0.1), "the writes never reached the lock"

                async def load() -> None:
                    async with env.async_client(timeout=30.0) as other:
                        while not stop_background.is_set():
                            sent = time.monotonic()
                            try:
                                response = await other.get(background_path, headers=background_headers)
                                background.append((sent, response.status_code,
                                                   response.headers.get("content-type", "")))
                            except httpx.TransportError as exc:
                                background.append((sent, type(exc).__name__, ""))
                                await asyncio.sleep(0.05)

                loaders = [asyncio.create_task(load()) for _ in range(3)]
                await asyncio.sleep(0.5)
                os.killpg(proc.pid, signal.SIGTERM)
                await asyncio.sleep(1.0)  # new requests arrive while the in-flight ones still wait
                await tx.commit()
                results = await asyncio.gather(*in_flight, return_exceptions=True)
                code = await asyncio.to_thread(proc.wait, 30)
                exited_at.append(time.monotonic())
                await asyncio.sleep(1.0)
                stop_background.set()
                await asyncio.gather(*loaders)
        finally:
            await lock.close()
            await watch.close()
            env.stack.procs.pop(service, None)
            env.stack.start(service)
            env.stack.wait_ready((service,))

        statuses = [r.status_code if isinstance(r, httpx.Response) else type(r).__name__ for r in results]
        assert statuses == [201] * in_flight_n, [r.text if isinstance(r, httpx.Response) else repr(r)
                                                  for r in results]
        # uvicorn finishes its graceful shutdown, then re-raises the signal: "terminated by SIGTERM", not killed.
        assert code in (0, -signal.SIGTERM)
        # Every in-flight write is in the database (read back through the gateway now the service is back).
        with env.client() as sync:
            for response in results:
                created = response.json()
                if service == "cases" or service == "gateway":
                    path = f"/v1/cases/{created['cases'][0]['id']}"
                    check = sync.get(path, headers=a.headers("police"))
                elif service == "identity":
                    check = sync.get(f"/v1/organizations/{created['id']}", headers=a.headers("admin"))
                else:
                    detail = sync.get(f"/v1/referrals/{referral_id}", headers=a.headers("prosecution_system"))
                    check = detail if created["id"] in {d["id"] for d in detail.json()["decisions"]} else None
                assert check is not None and check.status_code == 200
        outcome = Counter(s for _, s, _ in background)
        for _, status, content_type in background:
            if isinstance(status, str):
                assert service == "gateway", f"connection error {status} from the gateway while {service} stopped"
            elif status >= 500:
                assert service != "gateway" and status in (502, 503), (status, outcome)
                assert content_type == "application/problem+json"
        assert outcome[200] > 0
        report(f"SIGTERM to {service} under load", in_flight_finished=in_flight_n,
               background=dict(outcome), exit_code=code)


class TestSlowUpstream:
    async def test_a_stalled_service_gives_504_problems_without_stalling_the_others(self, env: FaultEnv) -> None:
        stalled_n = scale(24, 150)
        env.restart_service("gateway", GATEWAY_UPSTREAM_TIMEOUTS='{"cases": 1.5}', GATEWAY_UPSTREAM_POOL_SIZE="8")
        cases = env.stack.procs["cases"]
        a = env.actors
        try:
            async with env.async_client(timeout=60.0) as client:
                os.killpg(cases.pid, signal.SIGSTOP)
                try:
                    stalled = [client.get("/v1/cases", headers=a.headers("police")) for _ in range(stalled_n)]
                    others = [client.get("/v1/me", headers=a.headers("police")) for _ in range(10)] + [
                        client.get("/v1/referrals", headers=a.headers("police")) for _ in range(10)]
                    answers = await asyncio.gather(*stalled, *others)
                finally:
                    os.killpg(cases.pid, signal.SIGCONT)
                stalled_answers, other_answers = answers[:stalled_n], answers[stalled_n:]
                assert Counter(r.status_code for r in stalled_answers) == {504: stalled_n}
                assert all(r.headers["content-type"] == "application/problem+json" for r in stalled_answers)
                assert all(r.json()["status"] == 504 for r in stalled_answers)
                assert Counter(r.status_code for r in other_answers) == {200: 20}
                # No pile-up: once cases has worked off the abandoned requests, the gateway serves it normally,
                # through the same 8-connection pool, more requests than the pool holds (4 at a time).
                env.stack.wait_ready(("cases",))
                after = []
                for start in range(0, stalled_n, 4):
                    after += await asyncio.gather(*(client.get("/v1/cases", headers=a.headers("police"))
                                                    for _ in range(min(4, stalled_n - start))))
                assert Counter(r.status_code for r in after) == {200: stalled_n}
            report("slow upstream (SIGSTOP)", stalled_requests=stalled_n, answered_504=stalled_n,
                   other_services_served=20, served_after_resume=stalled_n)
        finally:
            env.restart_service("gateway", GATEWAY_UPSTREAM_TIMEOUTS="", GATEWAY_UPSTREAM_POOL_SIZE="")

    async def test_a_write_held_by_a_lock_times_out_and_its_retry_replays_one_intake(self, env: FaultEnv) -> None:
        env.restart_service("gateway", GATEWAY_UPSTREAM_TIMEOUTS='{"cases": 1.5}')
        key, body = new_key("slow"), intake_body(777)
        headers = env.actors.headers("police", **{"Idempotency-Key": key})
        before = count_rows(env, "cases.intakes")
        lock = await asyncpg.connect(env.iso.config.admin_url)
        try:
            async with env.async_client(timeout=60.0) as client:
                tx = lock.transaction()
                await tx.start()
                await lock.execute("LOCK TABLE cases.intakes IN SHARE ROW EXCLUSIVE MODE")
                first = await client.post("/v1/intakes", json=body, headers=headers)
                await tx.commit()
                assert first.status_code == 504
                assert first.headers["content-type"] == "application/problem+json"
                outcome = await send_with_retries(client, "POST", "/v1/intakes", key=key, json_body=body,
                                                  headers=env.actors.headers("police"),
                                                  deadline=time.monotonic() + 30)
            assert outcome.succeeded and outcome.final is not None and outcome.final.status_code == 201
            assert count_rows(env, "cases.intakes") - before == 1
        finally:
            await lock.close()
            env.restart_service("gateway", GATEWAY_UPSTREAM_TIMEOUTS="")
