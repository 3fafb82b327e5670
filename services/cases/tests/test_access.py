"""Authorisation on every query: scope, territory and relation; 404 for what the caller may not see."""

import uuid

import sqlalchemy as sa


class TestTerritory:
    async def test_sale_worker_cannot_see_or_list_a_rabat_case(self, api, client, as_):
        case_id = await api.case_id()
        number_of_case = (await api.get(case_id)).json()["case_number"]
        sale = as_("case_manager", territories=[api.SALE])
        assert (await api.get(case_id, sale)).status_code == 404
        listed = await client.get("/v1/cases", headers=sale)
        assert listed.status_code == 200 and listed.json()["items"] == []
        number = (await api.get(case_id)).json()["case_number"]
        searched = await client.get("/v1/cases", params={"q": number}, headers=sale)
        assert searched.json()["items"] == []
        for path in ("timeline", "adults", "filiation-checks", "assessments", "care-plans", "services",
                     "follow-ups", "placements", "judicial-measures"):
            assert (await client.get(f"/v1/cases/{case_id}/{path}", headers=sale)).status_code == 404, path
        moved = await api.move(case_id, "screened", sale)
        assert moved.status_code == 404
        patched = await client.patch(f"/v1/cases/{case_id}", json={"risk_level": "low"},
                                     headers={**sale, "If-Match": '"1"'})
        assert patched.status_code == 404
        # Duplicate search crosses territories (decision 0070), but shows a Salé worker no name and no case id.
        children = (await client.get("/v1/children", params={"q": "Mohamed"}, headers=sale)).json()
        assert [(c["view"], c["cases"][0]["case_number"]) for c in children] == [("minimal", number_of_case)]
        assert "names" not in children[0] and "case_ids" not in children[0] and "Mohamed" not in str(children)
        ngo = await client.get("/v1/children", params={"q": "Mohamed"}, headers=as_("ngo_worker"))
        assert ngo.json() == []

    async def test_rabat_worker_lists_and_finds_the_case(self, api, client, as_):
        case_id = await api.case_id()
        h = as_("case_manager")
        listed = (await client.get("/v1/cases", headers=h)).json()["items"]
        assert [c["id"] for c in listed] == [case_id]
        number = listed[0]["case_number"]
        for q in (number, "Mohammed", "محمد", "Mhamed Alaoui"):
            found = (await client.get("/v1/cases", params={"q": q}, headers=h)).json()["items"]
            assert [c["id"] for c in found] == [case_id], q
        assert (await client.get("/v1/cases", params={"q": "Karim"}, headers=h)).json()["items"] == []

    async def test_regional_and_national_scopes_cover_the_commune(self, api, as_):
        case_id = await api.case_id()
        assert (await api.get(case_id, as_("police_officer", territories=["04"]))).status_code == 200
        assert (await api.get(case_id, as_("police_officer", territories=["MA"]))).status_code == 200
        assert (await api.get(case_id, as_("police_officer", territories=["07"]))).status_code == 404


class TestRelation:
    async def test_ngo_sees_a_case_only_while_referred(self, api, client, as_):
        case_id = await api.case_id()
        ngo_org = uuid.uuid4()
        ngo = as_("ngo_worker", org=ngo_org)
        assert (await api.get(case_id, ngo)).status_code == 404
        assert (await client.get("/v1/cases", headers=ngo)).json()["items"] == []
        referral = uuid.uuid4()
        sent = await api.event("referral.sent", case_id, org=ngo_org, referral_id=referral,
                               data={"kind": "service", "service_type": "family_mediation"})
        assert sent.status_code == 200
        assert (await api.get(case_id, ngo)).status_code == 200
        assert [c["id"] for c in (await client.get("/v1/cases", headers=ngo)).json()["items"]] == [case_id]
        assert (await api.get(case_id, as_("ngo_worker", org=uuid.uuid4()))).status_code == 404
        await api.event("referral.completed", case_id, org=ngo_org, referral_id=referral)
        assert (await api.get(case_id, ngo)).status_code == 404
        assert (await client.get("/v1/cases", headers=ngo)).json()["items"] == []

    async def test_prosecutor_needs_a_grant_and_its_territory(self, api, as_):
        case_id = await api.case_id()
        org = uuid.uuid4()
        assert (await api.get(case_id, as_("prosecutor", org=org))).status_code == 404
        await api.event("referral.sent", case_id, org=org, data={"kind": "prosecution"})
        assert (await api.get(case_id, as_("prosecutor", org=org))).status_code == 200
        assert (await api.get(case_id, as_("prosecutor", org=org, territories=["07"]))).status_code == 404

    async def test_eps_staff_see_only_children_placed_with_them(self, api, client, as_):
        case_id = await api.case_id()
        eps_org = api.directory.add_org("eps")
        eps = as_("eps_staff", org=eps_org)
        assert (await api.get(case_id, eps)).status_code == 404
        cm = as_("case_manager")
        institution = await client.post("/v1/institutions", headers=cm, json={
            "organization_id": str(eps_org), "name": "EPS Rabat Al Amal", "prefecture_code": api.RABAT,
            "places": 1, "emergency_vacancies": 1})
        assert institution.status_code == 201, institution.text
        await api.event("referral.decision_recorded", case_id, org=uuid.uuid4(), data={
            "type": "emergency_placement", "concerns": "child", "decided_at": "2026-03-03T09:00:00Z"})
        measure = (await client.get(f"/v1/cases/{case_id}/judicial-measures", headers=cm)).json()[0]
        placed = await client.post(f"/v1/cases/{case_id}/placements", headers=cm, json={
            "institution_id": institution.json()["id"], "order_measure_id": measure["id"],
            "started_at": "2026-03-03T12:00:00Z"})
        assert placed.status_code == 201, placed.text
        seen = await api.get(case_id, eps)
        assert seen.status_code == 200
        assert (await api.get(case_id, as_("eps_staff", org=uuid.uuid4()))).status_code == 404
        await client.post(f"/v1/cases/{case_id}/placements/{placed.json()['id']}/end", headers=cm)
        assert (await api.get(case_id, eps)).status_code == 404


class TestFieldsPerAudience:
    async def test_roles_without_cases_read_get_403_and_never_names(self, api, client, as_):
        case_id = await api.case_id()
        for role in ("steering_viewer", "auditor", "admin"):
            assert (await api.get(case_id, as_(role))).status_code == 403
            assert (await client.get("/v1/cases", headers=as_(role))).status_code == 403

    async def test_offence_data_only_for_police_and_prosecution(self, api, client, as_):
        intake = await api.intake(adults=[{"first_name": "Hassan", "claimed_relationship": "unrelated",
                                           "suspected_offender": True, "offence_notes": "Collects the money"}])
        case_id = intake["cases"][0]["id"]
        police = (await client.get(f"/v1/cases/{case_id}/adults", headers=as_("police_officer"))).json()[0]
        assert police["suspected_offender"] is True and police["offence_notes"] == "Collects the money"
        cm = (await client.get(f"/v1/cases/{case_id}/adults", headers=as_("case_manager"))).json()[0]
        assert "suspected_offender" not in cm and "offence_notes" not in cm
        assert cm["full_name"] == "Hassan"

    async def test_filiation_details_only_for_judicial_roles(self, api, client, as_):
        intake = await api.intake()
        case_id, adult_id = intake["cases"][0]["id"], intake["adult_ids"][0]
        made = await client.post(f"/v1/cases/{case_id}/filiation-checks", headers=as_("police_officer"), json={
            "adult_id": adult_id, "claimed_relationship": "mother", "methods": ["documents"], "result": "confirmed"})
        assert made.status_code == 201, made.text
        police = (await client.get(f"/v1/cases/{case_id}/filiation-checks", headers=as_("police_officer"))).json()
        assert police[0]["methods"] == ["documents"]
        cm = (await client.get(f"/v1/cases/{case_id}/filiation-checks", headers=as_("case_manager"))).json()
        assert cm[0]["result"] == "confirmed" and "methods" not in cm[0]


class TestAuditOfReads:
    async def test_every_read_of_a_childs_record_leaves_an_event(self, api, client, as_, db):
        case_id = await api.case_id()
        h = as_("case_manager")
        await api.get(case_id, h)
        await client.get("/v1/cases", headers=h)
        await client.get(f"/v1/cases/{case_id}/timeline", headers=h)
        rows = (await db.execute(sa.text(
            "SELECT action, fields FROM cases.audit_events WHERE case_id = :id ORDER BY id"), {"id": case_id})).all()
        actions = [r.action for r in rows]
        assert actions == ["intake.create", "case.read", "case.list", "case.timeline.read"]
        assert "child.names" in rows[1].fields
        everything = " ".join(str(v) for r in (await db.execute(sa.text("SELECT * FROM cases.audit_events"))).all()
                              for v in r)
        assert "Mohamed" not in everything and "Alaoui" not in everything
