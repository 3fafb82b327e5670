"""ETag compare-and-set under real concurrency, and query counts of lists (no N+1)."""

import asyncio
import uuid

import sqlalchemy as sa

from himaya_dev.testing.plugin import QueryCounter


class TestConditionalUpdate:
    async def test_patch_without_if_match_is_428_and_stale_is_412(self, api, client, as_):
        case_id = await api.case_id()
        h = as_("case_manager")
        assert (await client.patch(f"/v1/cases/{case_id}", json={"risk_level": "high"}, headers=h)).status_code == 428
        ok = await client.patch(f"/v1/cases/{case_id}", json={"risk_level": "high"}, headers={**h, "If-Match": '"1"'})
        assert ok.status_code == 200 and ok.headers["etag"] == '"2"'
        stale = await client.patch(f"/v1/cases/{case_id}", json={"risk_level": "low"},
                                   headers={**h, "If-Match": '"1"'})
        assert stale.status_code == 412
        assert (await api.get(case_id)).json()["risk_level"] == "high"

    async def test_patch_rejects_status_and_unknown_fields(self, api, client, as_):
        case_id = await api.case_id()
        h = {**as_("case_manager"), "If-Match": '"1"'}
        for body in ({"status": "closed"}, {"case_number": "X"}, {"repeat_of_case_id": str(uuid.uuid4())}):
            assert (await client.patch(f"/v1/cases/{case_id}", json=body, headers=h)).status_code == 422

    async def test_concurrent_updates_with_one_etag_exactly_one_wins(self, committed, as_):
        """Four requests on real pooled connections (committed data, not the rolled-back test transaction)."""
        h = as_("case_manager")
        body = {"reported_at": "2026-03-02T21:30:00Z", "source": "citizen", "commune_code": "04.421.01",
                "place_type": "market", "exploitation_pattern": "alone",
                "children": [{"description": "Girl, about 8", "sex": "female", "estimated_age_years": 8}]}
        created = await committed.post("/v1/intakes", json=body, headers=h)
        case_id = created.json()["cases"][0]["id"]
        etag = (await committed.get(f"/v1/cases/{case_id}", headers=h)).headers["etag"]

        async def patch(level: str):
            return await committed.patch(f"/v1/cases/{case_id}", json={"risk_level": level},
                                         headers={**h, "If-Match": etag})

        results = await asyncio.gather(*(patch(level) for level in ("high", "low", "medium", "immediate")))
        assert sorted(r.status_code for r in results) == [200, 412, 412, 412]
        final = await committed.get(f"/v1/cases/{case_id}", headers=h)
        winner = next(r for r in results if r.status_code == 200).json()["risk_level"]
        assert final.json()["risk_level"] == winner and final.headers["etag"] == '"2"'


class TestQueryCounts:
    async def test_case_list_runs_the_same_queries_for_2_and_20_cases(self, api, client, as_, harness):
        h = as_("case_manager")
        children = [{"first_name": f"Child{i}", "sex": "female", "estimated_age_years": 5} for i in range(20)]
        await api.intake(children=children[:2])

        async def count(limit: int) -> int:
            with QueryCounter(harness.engine) as counter:
                response = await client.get("/v1/cases", params={"limit": limit}, headers=h)
            assert response.status_code == 200
            return counter.count, len(response.json()["items"])

        small, n_small = await count(50)
        await api.intake(children=children[2:])
        big, n_big = await count(50)
        assert (n_small, n_big) == (2, 20)
        assert small == big

    async def test_case_read_is_a_fixed_number_of_queries(self, api, harness):
        case_id = await api.case_id()
        with QueryCounter(harness.engine) as counter:
            assert (await api.get(case_id)).status_code == 200
        assert counter.count <= 6

    async def test_deep_page_uses_the_cursor_not_offset(self, api, client, as_, harness):
        h = as_("case_manager")
        await api.intake(children=[{"first_name": f"K{i}", "sex": "male", "estimated_age_years": 3}
                                   for i in range(5)])
        seen, cursor = [], None
        with QueryCounter(harness.engine) as counter:
            while True:
                params = {"limit": 2, **({"cursor": cursor} if cursor else {})}
                page = (await client.get("/v1/cases", params=params, headers=h)).json()
                seen += [c["id"] for c in page["items"]]
                cursor = page["next_cursor"]
                if cursor is None:
                    break
        assert len(seen) == len(set(seen)) == 5
        assert not any("OFFSET" in s.upper() for s in counter.statements)

    async def test_filters_narrow_the_list(self, api, client, as_, db):
        h = as_("case_manager")
        await api.intake(children=[{"first_name": "Old", "sex": "male", "estimated_age_years": 12},
                                   {"first_name": "Baby", "sex": "female", "estimated_age_years": 0.5}])
        async def ids(**params):
            return [c["child"]["names"]["first_name"] for c in
                    (await client.get("/v1/cases", params=params, headers=h)).json()["items"]]
        assert await ids(sex="female") == ["Baby"]
        assert await ids(age_max=4) == ["Baby"]
        assert await ids(age_min=10) == ["Old"]
        assert sorted(await ids(territory_code="04.421")) == ["Baby", "Old"]
        assert await ids(territory_code="04.441") == []
        assert await ids(status="screened") == []
        assert sorted(await ids(opened_from="2020-01-01T00:00:00Z")) == ["Baby", "Old"]
        assert await ids(opened_to="2020-01-01T00:00:00Z") == []
        bad = await client.get("/v1/cases", params={"cursor": "not-a-cursor"}, headers=h)
        assert bad.status_code == 422


class TestConcurrentRepeat:
    async def test_two_intakes_of_one_child_at_once_open_one_case(self, committed, as_, harness):
        h = as_("case_manager")
        first = {"reported_at": "2026-03-02T21:30:00Z", "source": "citizen", "commune_code": "04.421.01",
                 "place_type": "market", "exploitation_pattern": "alone",
                 "children": [{"first_name": "Rania", "sex": "female", "estimated_age_years": 6}]}
        created = (await committed.post("/v1/intakes", json=first, headers=h)).json()
        child_id = created["cases"][0]["child_id"]
        async with committed.admin.begin() as conn:
            await conn.execute(sa.text("UPDATE cases.cases SET status = 'closed' WHERE child_id = :c"),
                               {"c": child_id})
        again = {**first, "children": [{"child_id": child_id}]}
        results = await asyncio.gather(*(committed.post("/v1/intakes", json=again, headers=h) for _ in range(4)))
        assert sorted(r.status_code for r in results) == [201, 409, 409, 409]
        async with committed.admin.connect() as conn:
            open_cases = (await conn.execute(sa.text(
                "SELECT count(*) FROM cases.cases WHERE child_id = :c AND status = 'reported'"), {"c": child_id})
            ).scalar()
        assert open_cases == 1
