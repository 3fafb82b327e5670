"""The audit log: every read of a child's record leaves an event, auditors answer "who saw this child",
the hash chains reveal an edited or deleted row, and the service's own role cannot change the log."""

import pytest
import sqlalchemy as sa
from sqlalchemy.exc import DBAPIError

NATIONAL_AUDITOR = {"role": "auditor", "territories": ["MA"]}


async def audit_rows(db, **where):
    clause = " AND ".join(f"{k} = :{k}" for k in where) or "true"
    return (await db.execute(sa.text(f"SELECT * FROM cases.audit_events WHERE {clause} ORDER BY id"),
                             where)).mappings().all()


def child_record_reads(app) -> list[str]:
    """Every GET operation that returns (part of) a child's record: under a case, or under /v1/children."""
    return sorted(path for path, operations in app.openapi()["paths"].items()
                  if "get" in operations and path.startswith(("/v1/cases", "/v1/children")))


class TestEveryReadIsAudited:
    async def test_each_read_route_of_a_child_record_leaves_an_event_naming_the_case(self, api, client, as_, db,
                                                                                     harness):
        intake = await api.intake()
        case_id, child_id = intake["cases"][0]["id"], intake["cases"][0]["child_id"]
        reader = as_("case_manager")
        params = {"case_id": case_id, "child_id": child_id}
        queries = {"/v1/children": {"q": "Mohamed"}}
        routes = child_record_reads(harness.app)
        assert len(routes) >= 14 and "/v1/children/{child_id}/duplicates" in routes
        for path in routes:
            before = len(await audit_rows(db, case_id=case_id))
            response = await client.get(path.format(**params), params=queries.get(path), headers=reader)
            assert response.status_code == 200, (path, response.text)
            after = await audit_rows(db, case_id=case_id)
            assert len(after) > before, f"{path} left no audit event for the case"
            assert after[-1]["actor"].startswith("user:") and after[-1]["actor_organization_id"] is not None
        everything = " ".join(str(dict(r)) for r in await audit_rows(db))
        for secret in ("Mohamed", "Alaoui", "AB123456", "Bab Rouah"):
            assert secret not in everything


class TestWhoSawThisChild:
    async def test_the_auditor_lists_readers_by_child_and_by_case_with_who_what_when_where(self, api, client, as_):
        intake = await api.intake()
        case_id, child_id = intake["cases"][0]["id"], intake["cases"][0]["child_id"]
        police = as_("police_officer")
        await client.get(f"/v1/cases/{case_id}", headers=police)
        await client.get(f"/v1/children/{child_id}", headers=as_("case_manager"))
        auditor = as_(**NATIONAL_AUDITOR)
        by_child = await client.get("/v1/audit", params={"child_id": child_id}, headers=auditor)
        assert by_child.status_code == 200, by_child.text
        events = by_child.json()["items"]
        actions = {e["action"] for e in events}
        assert {"intake.create", "case.read", "child.read"} <= actions
        read = next(e for e in events if e["action"] == "case.read")
        assert read["case_id"] == case_id and read["object_type"] == "case" and "child.names" in read["fields"]
        assert read["actor"].startswith("user:") and read["actor_organization_id"] == str(api.as_.org("police_officer"))
        assert read["request_id"] and "occurred_at" in read and "source_ip" in read
        by_case = (await client.get("/v1/audit", params={"case_id": case_id}, headers=auditor)).json()["items"]
        assert {e["id"] for e in by_case} <= {e["id"] for e in events}
        by_actor = (await client.get("/v1/audit", params={"actor": read["actor"]}, headers=auditor)).json()["items"]
        assert [e["action"] for e in by_actor] == ["case.read"]
        assert "Mohamed" not in by_child.text and "AB123456" not in by_child.text

    async def test_pages_are_keyset_and_the_period_filters(self, api, client, as_):
        case_id = await api.case_id()
        for _ in range(4):
            await api.get(case_id)
        auditor = as_(**NATIONAL_AUDITOR)
        first = (await client.get("/v1/audit", params={"case_id": case_id, "limit": 2}, headers=auditor)).json()
        second = (await client.get("/v1/audit", params={"case_id": case_id, "limit": 2,
                                                        "cursor": first["next_cursor"]}, headers=auditor)).json()
        ids = [e["id"] for e in first["items"] + second["items"]]
        assert len(ids) == 4 and ids == sorted(ids, reverse=True)
        later = await client.get("/v1/audit", params={"case_id": case_id, "from": "2100-01-01T00:00:00Z"},
                                 headers=auditor)
        assert later.json()["items"] == []
        backwards = await client.get("/v1/audit", params={"from": "2026-02-01T00:00:00Z", "to": "2026-01-01T00:00:00Z"},
                                     headers=auditor)
        assert backwards.status_code == 422

    async def test_only_auditors_read_the_log_and_a_regional_auditor_sees_its_territory(self, api, client, as_):
        case_id = await api.case_id()
        for role in ("case_manager", "police_officer", "steering_viewer", "admin"):
            assert (await client.get("/v1/audit", headers=as_(role))).status_code == 403, role
            assert (await client.get("/v1/audit/verify", headers=as_(role))).status_code == 403, role
        marrakech_auditor = as_("auditor", territories=["07"])
        assert (await client.get("/v1/audit", params={"case_id": case_id}, headers=marrakech_auditor)
                ).json()["items"] == []
        rabat_auditor = as_("auditor", territories=[api.RABAT])
        assert (await client.get("/v1/audit", params={"case_id": case_id}, headers=rabat_auditor)).json()["items"]

    async def test_reading_the_log_is_itself_audited(self, api, client, as_, db):
        case_id = await api.case_id()
        auditor = as_(**NATIONAL_AUDITOR)
        await client.get("/v1/audit", params={"case_id": case_id}, headers=auditor)
        rows = await audit_rows(db, action="audit.read")
        assert rows and rows[-1]["fields"] == ["filter.case_id"] and rows[-1]["object_id"] == case_id


class TestVerify:
    async def test_an_untouched_log_verifies(self, committed, as_):
        await committed.post("/v1/intakes", json=_intake(), headers=as_("case_manager"))
        report = (await committed.get("/v1/audit/verify", headers=as_(**NATIONAL_AUDITOR))).json()
        assert report["valid"] is True and report["checked"] >= 1 and len(report["chains"]) == 8
        assert report["first_broken_id"] is None and report["service"] == "cases"

    @pytest.mark.parametrize("tamper", ["edit", "delete"])
    async def test_an_edited_or_deleted_row_is_reported_with_its_chain(self, committed, as_, tamper):
        h = as_("case_manager")
        created = (await committed.post("/v1/intakes", json=_intake(), headers=h)).json()
        case_id = created["cases"][0]["id"]
        for _ in range(30):
            await committed.get(f"/v1/cases/{case_id}", headers=h)
        async with committed.admin.begin() as conn:
            chain, ids = (await conn.execute(sa.text(
                "SELECT chain, array_agg(id ORDER BY id) FROM cases.audit_events GROUP BY chain "
                "HAVING count(*) >= 3 ORDER BY chain LIMIT 1"))).one()
            if tamper == "edit":
                await conn.execute(sa.text("UPDATE cases.audit_events SET actor = 'user:someone-else' WHERE id = :id"),
                                   {"id": ids[1]})
                expected, reason = ids[1], "row content altered"
            else:
                await conn.execute(sa.text("DELETE FROM cases.audit_events WHERE id = :id"), {"id": ids[1]})
                expected, reason = ids[2], "previous row missing or altered"
        report = (await committed.get("/v1/audit/verify", headers=as_(**NATIONAL_AUDITOR))).json()
        assert report["valid"] is False and report["first_broken_id"] == expected
        broken = [c for c in report["chains"] if not c["valid"]]
        assert [(c["chain"], c["first_broken_id"], c["reason"]) for c in broken] == [(chain, expected, reason)]


class TestAppendOnly:
    @pytest.mark.parametrize("statement", [
        "UPDATE cases.audit_events SET actor = 'user:x'",
        "DELETE FROM cases.audit_events",
        "TRUNCATE cases.audit_events",
    ])
    async def test_the_services_own_role_cannot_change_audit_rows(self, harness, statement):
        async with harness.engine.connect() as conn:
            trans = await conn.begin()
            try:
                with pytest.raises(DBAPIError, match="permission denied"):
                    await conn.execute(sa.text(statement))
            finally:
                await trans.rollback()

    async def test_the_services_own_role_can_append(self, harness):
        async with harness.engine.connect() as conn:
            trans = await conn.begin()
            try:
                count = (await conn.execute(sa.text("SELECT count(*) FROM cases.audit_events"))).scalar()
                assert count is not None
                await conn.execute(sa.text(
                    "INSERT INTO cases.audit_events (chain, occurred_at, actor, action, object_type, prev_hash, hash) "
                    "VALUES (0, now(), 'user:x', 'probe', 'probe', '\\x00', '\\x00')"))
            finally:
                await trans.rollback()


def _intake() -> dict:
    return {"reported_at": "2026-03-02T21:30:00Z", "source": "field_patrol", "commune_code": "04.421.01",
            "place_type": "traffic_light", "exploitation_pattern": "with_adult", "narrative": "Near the station.",
            "children": [{"first_name": "Mohamed", "sex": "male", "estimated_age_years": 4}],
            "adults": [{"first_name": "Fatima", "cnie": "AB123456", "claimed_relationship": "mother"}]}

