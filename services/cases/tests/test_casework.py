"""Casework records: filiation (DNA needs an order), assessments, services, placements and EPS capacity."""

import uuid


async def decision(api, case_id, decision_type, reference=None):
    response = await api.event("referral.decision_recorded", case_id, org=uuid.uuid4(), data={
        "type": decision_type, "concerns": "child", "decided_at": "2026-03-03T09:00:00Z", "reference": reference})
    assert response.status_code == 200, response.text


class TestFiliationChecks:
    async def test_dna_method_needs_a_reference_and_a_dna_order(self, api, client, as_):
        intake = await api.intake()
        case_id, adult_id = intake["cases"][0]["id"], intake["adult_ids"][0]
        police = as_("police_officer")
        body = {"adult_id": adult_id, "claimed_relationship": "mother", "methods": ["dna_expertise"]}
        no_ref = await client.post(f"/v1/cases/{case_id}/filiation-checks", headers=police, json=body)
        assert no_ref.status_code == 422
        no_order = await client.post(f"/v1/cases/{case_id}/filiation-checks", headers=police,
                                     json={**body, "dna_order_reference": "DNA-1"})
        assert no_order.status_code == 422 and "order" in no_order.json()["detail"]
        await decision(api, case_id, "dna_expertise_order", reference="DNA-1")
        made = await client.post(f"/v1/cases/{case_id}/filiation-checks", headers=police,
                                 json={**body, "dna_order_reference": "DNA-1"})
        assert made.status_code == 201, made.text
        assert made.json()["dna_order_reference"] == "DNA-1" and made.json()["dna_order_measure_id"]
        result = await client.patch(f"/v1/cases/{case_id}/filiation-checks/{made.json()['id']}",
                                    headers={**police, "If-Match": made.headers["etag"]}, json={"result": "excluded"})
        assert result.status_code == 200 and result.json()["result"] == "excluded"
        stale = await client.patch(f"/v1/cases/{case_id}/filiation-checks/{made.json()['id']}",
                                   headers={**police, "If-Match": made.headers["etag"]}, json={"result": "confirmed"})
        assert stale.status_code == 412

    async def test_adult_of_another_case_is_refused(self, api, client, as_):
        case_id = await api.case_id()
        other = await api.intake(children=[{"first_name": "Nora", "sex": "female", "estimated_age_years": 3}])
        response = await client.post(f"/v1/cases/{case_id}/filiation-checks", headers=as_("police_officer"), json={
            "adult_id": other["adult_ids"][0], "claimed_relationship": "mother", "methods": ["testimony"]})
        assert response.status_code == 422

    async def test_caseworker_without_filiation_write_is_refused(self, api, client, as_):
        intake = await api.intake()
        response = await client.post(f"/v1/cases/{intake['cases'][0]['id']}/filiation-checks",
                                     headers=as_("prosecutor"), json={
                                         "adult_id": intake["adult_ids"][0], "claimed_relationship": "mother",
                                         "methods": ["documents"]})
        assert response.status_code in (403, 404)


class TestAssessmentsAndServices:
    async def test_health_content_is_need_to_know(self, api, client, as_, db):
        case_id = await api.case_id()
        org = uuid.uuid4()
        await api.event("referral.sent", case_id, org=org, data={"kind": "service"})
        cm = as_("case_manager")
        made = await client.post(f"/v1/cases/{case_id}/assessments", headers=cm,
                                 json={"type": "medical", "completed": True, "summary": "Anaemia, treated."})
        assert made.status_code == 201 and made.json()["summary"] == "Anaemia, treated."
        ngo = (await client.get(f"/v1/cases/{case_id}/assessments", headers=as_("ngo_worker", org=org))).json()
        # A response model without the field (not a blanked one): the NGO learns the assessment exists and is done.
        assert ngo[0]["status"] == "completed" and "summary" not in ngo[0]

    async def test_service_status_changes_with_if_match(self, api, client, as_):
        case_id = await api.case_id()
        cm = as_("case_manager")
        made = await client.post(f"/v1/cases/{case_id}/services", headers=cm, json={
            "beneficiary": "child", "service_type": "school_enrolment", "provider_organization_id": str(uuid.uuid4())})
        assert made.status_code == 201 and made.json()["status"] == "proposed"
        path = f"/v1/cases/{case_id}/services/{made.json()['id']}"
        assert (await client.patch(path, headers=cm, json={"status": "completed"})).status_code == 428
        done = await client.patch(path, headers={**cm, "If-Match": made.headers["etag"]}, json={"status": "completed"})
        assert done.status_code == 200 and done.json()["status"] == "completed"
        bad = await client.post(f"/v1/cases/{case_id}/services", headers=cm,
                                json={"beneficiary": "father", "service_type": "school_enrolment"})
        assert bad.status_code == 422

    async def test_closed_case_takes_no_more_records(self, api, client, as_):
        case_id = await api.case_id()
        cm = as_("case_manager")
        await api.move(case_id, "screened", cm)
        await api.move(case_id, "closed_not_in_scope", cm, reason="Not a begging situation")
        response = await client.post(f"/v1/cases/{case_id}/follow-ups", headers=cm, json={
            "visited_at": "2026-04-01T10:00:00Z", "child_seen": True})
        assert response.status_code == 409


class TestPlacements:
    async def _institution(self, client, as_, api, places=2, emergency=1):
        response = await client.post("/v1/institutions", headers=as_("case_manager"), json={
            "organization_id": str(api.directory.add_org("eps")), "name": "EPS Salam", "prefecture_code": api.RABAT,
            "places": places, "emergency_vacancies": emergency})
        assert response.status_code == 201, response.text
        return response

    async def test_a_second_institution_for_the_same_organisation_is_a_conflict_not_a_crash(self, api, client, as_):
        first = (await self._institution(client, as_, api)).json()
        again = await client.post("/v1/institutions", headers=as_("case_manager"), json={
            "organization_id": first["organization_id"], "name": "EPS Salam bis", "prefecture_code": api.RABAT,
            "places": 3})
        assert again.status_code == 409, again.text
        assert again.json()["code"] == "conflict"
        listed = (await client.get("/v1/institutions", headers=as_("case_manager"))).json()
        assert [i["name"] for i in listed if i["organization_id"] == first["organization_id"]] == ["EPS Salam"]

    async def test_capacity_changes_are_403_for_readers_and_404_outside_the_territory(self, api, client, as_):
        institution = (await self._institution(client, as_, api)).json()
        path = f"/v1/institutions/{institution['id']}"
        etag = (await client.get(path, headers=as_("case_manager"))).headers["etag"]
        police = as_("police_officer")
        assert (await client.get(path, headers=police)).status_code == 200
        refused = await client.patch(path, headers={**police, "If-Match": etag}, json={"places": 9})
        assert refused.status_code == 403, refused.text
        elsewhere = await client.patch(path, headers={**as_("case_manager", territories=[api.SALE]),
                                                      "If-Match": etag}, json={"places": 9})
        assert elsewhere.status_code == 404
        assert (await client.patch(path, headers={**as_("steering_viewer"), "If-Match": etag},
                                   json={"places": 9})).status_code == 403
        assert (await client.get(path, headers=as_("case_manager"))).json()["places"] == 2

    async def test_placement_needs_a_prosecutors_order(self, api, client, as_):
        case_id = await api.case_id()
        institution = (await self._institution(client, as_, api)).json()
        await decision(api, case_id, "dna_expertise_order", reference="D-1")
        measure = (await client.get(f"/v1/cases/{case_id}/judicial-measures", headers=as_("case_manager"))).json()[0]
        response = await client.post(f"/v1/cases/{case_id}/placements", headers=as_("case_manager"), json={
            "institution_id": institution["id"], "order_measure_id": measure["id"],
            "started_at": "2026-03-03T12:00:00Z"})
        assert response.status_code == 422

    async def test_emergency_placement_uses_an_emergency_vacancy_and_capacity_is_enforced(self, api, client, as_):
        cm = as_("case_manager")
        created = await self._institution(client, as_, api, places=1, emergency=1)
        institution = created.json()
        first, second = (await api.intake(children=[{"first_name": "A", "sex": "male", "estimated_age_years": 2},
                                                    {"first_name": "B", "sex": "male", "estimated_age_years": 3}]
                                          ))["cases"]
        for case in (first, second):
            await decision(api, case["id"], "emergency_placement")

        async def place(case_id):
            measure = (await client.get(f"/v1/cases/{case_id}/judicial-measures", headers=cm)).json()[0]
            return await client.post(f"/v1/cases/{case_id}/placements", headers=cm, json={
                "institution_id": institution["id"], "order_measure_id": measure["id"],
                "started_at": "2026-03-03T12:00:00Z"})

        assert (await place(first["id"])).status_code == 201
        read = (await client.get(f"/v1/institutions/{institution['id']}", headers=cm)).json()
        assert read["occupied"] == 1 and read["emergency_vacancies"] == 0
        full = await place(second["id"])
        assert full.status_code == 409
        assert (await place(first["id"])).status_code == 409  # already placed
        etag = (await client.get(f"/v1/institutions/{institution['id']}", headers=cm)).headers["etag"]
        grown = await client.patch(f"/v1/institutions/{institution['id']}", headers={**cm, "If-Match": etag},
                                   json={"places": 3, "emergency_vacancies": 2})
        assert grown.status_code == 200 and grown.json()["places"] == 3
        assert (await place(second["id"])).status_code == 201
        listed = (await client.get("/v1/institutions", headers=cm)).json()
        assert [i["occupied"] for i in listed] == [2]
        assert (await client.get("/v1/institutions", headers=as_("case_manager", territories=["07"]))).json() == []
