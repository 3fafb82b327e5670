"""POST /v1/intakes: one case per child in one transaction, case numbers, courts, repeats, idempotency."""

import re
import uuid

import pytest
import sqlalchemy as sa


class TestCreateIntake:
    async def test_mother_with_two_children_opens_two_linked_cases(self, api, client, as_):
        children = [
            {"first_name": "Yassine", "sex": "male", "estimated_age_years": 3},
            {"first_name_ar": "سلمى", "sex": "female", "birth_date": "2025-05-01"},
        ]
        intake = await api.intake(children=children)
        assert len(intake["cases"]) == 2
        numbers = [c["case_number"] for c in intake["cases"]]
        assert all(re.fullmatch(r"RAB-\d{4}-\d{6}", n) for n in numbers)
        assert len(set(numbers)) == 2
        assert int(numbers[1][-6:]) == int(numbers[0][-6:]) + 1
        assert intake["court_code"] == "TPI-RAB" and intake["prefecture_code"] == "04.421"
        first = await api.get(intake["cases"][0]["id"])
        second = await api.get(intake["cases"][1]["id"])
        assert first.json()["sibling_case_ids"] == [intake["cases"][1]["id"]]
        assert second.json()["sibling_case_ids"] == [intake["cases"][0]["id"]]
        adults = await client.get(f"/v1/cases/{intake['cases'][1]['id']}/adults", headers=as_("case_manager"))
        assert [a["claimed_relationship"] for a in adults.json()] == ["mother"]
        assert adults.json()[0]["full_name"] == "Fatima Alaoui"

    async def test_case_read_carries_what_referrals_snapshots(self, api):
        case_id = await api.case_id()
        response = await api.get(case_id)
        body = response.json()
        assert response.headers["etag"] == '"1"'
        for key in ("id", "case_number", "status", "commune_code", "prefecture_code", "court_code", "risk_level",
                    "trafficking_suspected", "opened_at", "intake", "child", "repeat_of_case_id"):
            assert key in body
        assert set(body["intake"]) >= {"id", "reported_at", "source", "place_type", "night", "exploitation_pattern"}
        assert set(body["child"]) >= {"id", "sex", "birth_date", "estimated_age_years", "age_at_intake_years",
                                      "nationality", "names"}
        assert body["child"]["names"]["first_name"] == "Mohamed"
        assert body["child"]["age_at_intake_years"] == 4.0
        assert body["status"] == "reported"

    async def test_court_from_the_request_is_kept(self, api):
        intake = await api.intake(court_code="TPI-SAL")
        assert intake["court_code"] == "TPI-SAL"

    async def test_numbers_are_per_prefecture(self, api, as_):
        rabat = await api.intake()
        sale = await api.intake(as_("case_manager", territories=[api.SALE]), commune=api.SALE_COMMUNE)
        assert rabat["cases"][0]["case_number"].startswith("RAB-")
        assert sale["cases"][0]["case_number"].startswith("SAL-")
        assert sale["court_code"] == "TPI-SAL"

    async def test_commune_outside_the_callers_territory_is_refused(self, api, client, as_):
        response = await client.post("/v1/intakes", json=api.intake_body(commune=api.SALE_COMMUNE),
                                     headers=as_("case_manager"))
        assert response.status_code == 422

    async def test_unknown_commune_is_refused(self, api, client, as_):
        response = await client.post("/v1/intakes", json=api.intake_body(commune="04.421.99"),
                                     headers=as_("case_manager"))
        assert response.status_code == 422

    async def test_unknown_fields_are_rejected(self, api, client, as_):
        body = api.intake_body(status="closed")
        response = await client.post("/v1/intakes", json=body, headers=as_("case_manager"))
        assert response.status_code == 422
        body = api.intake_body(children=[{"first_name": "A", "sex": "male", "estimated_age_years": 2,
                                          "id": str(uuid.uuid4())}])
        response = await client.post("/v1/intakes", json=body, headers=as_("case_manager"))
        assert response.status_code == 422

    async def test_child_without_name_or_description_is_refused(self, api, client, as_):
        body = api.intake_body(children=[{"sex": "male", "estimated_age_years": 2}])
        response = await client.post("/v1/intakes", json=body, headers=as_("case_manager"))
        assert response.status_code == 422

    async def test_described_child_without_name_is_accepted(self, api):
        intake = await api.intake(children=[{"description": "Boy of about two, red jacket", "sex": "male",
                                             "estimated_age_years": 2}])
        assert intake["cases"][0]["status"] == "reported"

    async def test_roles_without_intakes_write_are_refused(self, api, client, as_):
        for role in ("prosecutor", "eps_staff", "steering_viewer"):
            response = await client.post("/v1/intakes", json=api.intake_body(), headers=as_(role))
            assert response.status_code == 403, role

    async def test_ngo_records_an_intake_and_sees_its_case(self, api, client, as_):
        ngo = as_("ngo_worker")
        intake = await api.intake(ngo)
        response = await api.get(intake["cases"][0]["id"], ngo)
        assert response.status_code == 200
        other_ngo = as_("ngo_worker", org=uuid.uuid4())
        assert (await api.get(intake["cases"][0]["id"], other_ngo)).status_code == 404

    async def test_outing_counts_its_intakes(self, api, client, as_):
        h = as_("case_manager")
        outing = await client.post("/v1/outings", headers=h, json={
            "field_team_id": str(uuid.uuid4()), "started_at": "2026-03-02T20:00:00Z",
            "ended_at": "2026-03-02T23:00:00Z", "commune_code": api.RABAT_COMMUNE,
            "members_present": [str(uuid.uuid4()), str(uuid.uuid4())]})
        assert outing.status_code == 201, outing.text
        outing_id = outing.json()["id"]
        await api.intake(outing_id=outing_id)
        await api.intake(outing_id=outing_id, children=[{"first_name": "Amine", "sex": "male",
                                                         "estimated_age_years": 6}])
        read = await client.get(f"/v1/outings/{outing_id}", headers=h)
        assert read.json()["intake_count"] == 2
        listed = await client.get("/v1/outings", headers=h)
        assert [o["id"] for o in listed.json()["items"]] == [outing_id]
        sale = await client.get(f"/v1/outings/{outing_id}", headers=as_("case_manager", territories=[api.SALE]))
        assert sale.status_code == 404


class TestNulCharacters:
    @pytest.mark.parametrize("field", ["narrative", "child_name"])
    async def test_a_nul_character_in_text_is_refused_and_opens_nothing(self, api, client, as_, db, field):
        body = api.intake_body()
        if field == "narrative":
            body["narrative"] = "Seen at\x00 night"
        else:
            body["children"][0]["first_name"] = "Yas\x00sine"
        response = await client.post("/v1/intakes", json=body, headers=as_("case_manager"))
        assert response.status_code == 422
        assert response.json()["code"] == "validation_failed"
        assert (await db.execute(sa.text("SELECT count(*) FROM cases.cases"))).scalar() == 0


class TestRepeatEncounter:
    async def test_new_intake_of_a_child_with_a_closed_case_links_the_new_case(self, api, client, as_, db):
        first = await api.intake()
        old_case = first["cases"][0]
        await db.execute(sa.text("UPDATE cases.cases SET status = 'closed' WHERE id = :id"), {"id": old_case["id"]})
        again = await api.intake(children=[{"child_id": old_case["child_id"]}])
        new_case = again["cases"][0]
        assert new_case["child_id"] == old_case["child_id"]
        assert new_case["repeat_of_case_id"] == old_case["id"]
        assert new_case["case_number"] != old_case["case_number"]
        read = (await api.get(new_case["id"])).json()
        assert read["repeat_of_case_id"] == old_case["id"]
        assert read["child"]["names"]["first_name"] == "Mohamed"
        closed = (await api.get(old_case["id"])).json()
        assert closed["status"] == "closed" and closed["allowed_transitions"] == []

    async def test_child_with_an_open_case_gets_a_conflict(self, api, client, as_):
        first = await api.intake()
        response = await client.post("/v1/intakes", headers=as_("case_manager"), json=api.intake_body(
            children=[{"child_id": first["cases"][0]["child_id"]}]))
        assert response.status_code == 409
        assert response.json()["case_id"] == first["cases"][0]["id"]

    async def test_child_of_another_territory_cannot_be_named(self, api, client, as_):
        first = await api.intake()
        sale = as_("case_manager", territories=[api.SALE])
        response = await client.post("/v1/intakes", headers=sale, json=api.intake_body(
            commune=api.SALE_COMMUNE, children=[{"child_id": first["cases"][0]["child_id"]}]))
        assert response.status_code == 422

    async def test_duplicate_candidates_are_proposed_across_scripts(self, api, as_):
        first = await api.intake()
        second = await api.intake(children=[{"first_name_ar": "محمد", "last_name": "Alaoui", "sex": "male",
                                             "estimated_age_years": 4}])
        candidates = second["cases"][0]["duplicate_candidates"]
        assert [c["child_id"] for c in candidates] == [first["cases"][0]["child_id"]]
        assert candidates[0]["case_ids"] == [first["cases"][0]["id"]]


class TestIdempotentIntake:
    async def test_same_key_and_body_replays_the_first_answer(self, api, client, as_, db):
        h = {**as_("case_manager"), "Idempotency-Key": "intake-" + uuid.uuid4().hex}
        body = api.intake_body()
        first = await client.post("/v1/intakes", json=body, headers=h)
        second = await client.post("/v1/intakes", json=body, headers=h)
        assert first.status_code == second.status_code == 201
        assert second.json() == first.json()
        assert second.headers.get("idempotent-replayed") == "true"
        count = (await db.execute(sa.text("SELECT count(*) FROM cases.cases"))).scalar()
        assert count == 1

    async def test_a_replay_is_byte_identical_to_the_first_answer(self, api, client, as_):
        h = {**as_("case_manager"), "Idempotency-Key": "intake-" + uuid.uuid4().hex}
        body = api.intake_body()
        first = await client.post("/v1/intakes", json=body, headers=h)
        second = await client.post("/v1/intakes", json=body, headers=h)
        assert first.status_code == second.status_code == 201
        assert second.content == first.content

    async def test_same_key_other_body_is_refused(self, api, client, as_):
        h = {**as_("case_manager"), "Idempotency-Key": "intake-" + uuid.uuid4().hex}
        assert (await client.post("/v1/intakes", json=api.intake_body(), headers=h)).status_code == 201
        other = await client.post("/v1/intakes", json=api.intake_body(night=False), headers=h)
        assert other.status_code == 422
        assert other.json()["code"] == "idempotency_key_reused"


class TestNoPlaintextAtRest:
    async def test_no_table_holds_a_name_cnie_or_narrative_in_clear(self, api, db):
        await api.intake(children=[{"first_name": "Zakariae", "last_name": "Benkirane", "first_name_ar": "زكرياء",
                                    "sex": "male", "estimated_age_years": 5, "birth_act_reference": "ACT-77-1234",
                                    "description": "Wears a Raja scarf"}],
                         adults=[{"first_name": "Khadija", "last_name": "Benkirane", "cnie": "BK998877",
                                  "claimed_relationship": "mother", "offence_notes": "Khadija said she rents him"}],
                         narrative="Zakariae was begging with Khadija near Bab El Had")
        needles = ["Zakariae", "Benkirane", "زكرياء", "ACT-77-1234", "Raja scarf", "Khadija", "BK998877",
                   "Bab El Had", "zakariae", "benkirane", "khadija"]
        columns = (await db.execute(sa.text(
            "SELECT table_name, column_name, data_type FROM information_schema.columns "
            "WHERE table_schema = 'cases' AND data_type IN ('text', 'bytea', 'ARRAY', 'jsonb', 'character varying')"
        ))).all()
        scanned = 0
        for table, column, data_type in columns:
            expr = f'encode("{column}", \'escape\')' if data_type == "bytea" else f'"{column}"::text'
            rows = (await db.execute(sa.text(f'SELECT {expr} FROM cases."{table}" WHERE "{column}" IS NOT NULL'))
                    ).scalars().all()
            for value in rows:
                scanned += 1
                for needle in needles:
                    assert needle.lower() not in value.lower(), f"{needle} in {table}.{column}"
        assert scanned > 30
