"""Duplicate children across cities: candidates through the API, the minimal view, review and merge (0070)."""

import uuid

import sqlalchemy as sa

MARRAKECH = "07.351"
RABAT_CHILD = {"first_name": "Mohamed", "sex": "male", "estimated_age_years": 6}
MARRAKECH_CHILD = {"first_name_ar": "محمد", "sex": "male", "estimated_age_years": 6}


async def record(api, as_, *, territories, commune, child, adults=None, role="case_manager", org=None):
    headers = as_(role, territories=territories, org=org)
    response = await api.client.post("/v1/intakes", json=api.intake_body(
        commune=commune, children=[child], adults=adults if adults is not None else [], narrative=None),
        headers=headers)
    assert response.status_code == 201, response.text
    return response.json()["cases"][0], headers


class TestAcrossCities:
    async def test_mohamed_in_rabat_is_proposed_when_mohammed_in_arabic_is_recorded_in_marrakech(self, api, as_, db,
                                                                                                 plaintext_hits):
        rabat_case, _ = await record(api, as_, territories=[api.RABAT], commune=api.RABAT_COMMUNE,
                                     child=RABAT_CHILD)
        marrakech_case, _ = await record(api, as_, territories=[MARRAKECH], commune=api.MARRAKECH_COMMUNE,
                                         child=MARRAKECH_CHILD)
        proposed = marrakech_case["duplicate_candidates"]
        assert [c["child_id"] for c in proposed] == [rabat_case["child_id"]]
        assert proposed[0]["case_ids"] == []  # the Rabat case is not the Marrakech worker's to open
        assert proposed[0]["score"] >= 0.9
        assert await plaintext_hits(db, "cases", ["Mohamed", "محمد"]) == []

    async def test_the_marrakech_reviewer_sees_a_minimal_view_without_names(self, api, as_, client):
        rabat_case, _ = await record(api, as_, territories=[api.RABAT], commune=api.RABAT_COMMUNE,
                                     child={**RABAT_CHILD, "last_name": "Alaoui"},
                                     adults=[{"first_name": "Fatima", "cnie": "AB123456",
                                              "claimed_relationship": "mother"}])
        marrakech_case, marrakech = await record(
            api, as_, territories=[MARRAKECH], commune=api.MARRAKECH_COMMUNE, child=MARRAKECH_CHILD,
            adults=[{"first_name": "Fatema", "cnie": "ab-123 456", "claimed_relationship": "mother"}])
        side = await client.get(f"/v1/children/{marrakech_case['child_id']}/duplicates", headers=marrakech)
        assert side.status_code == 200, side.text
        body = side.json()
        assert body["child"]["names"]["first_name_ar"] == "محمد"
        (candidate,) = body["candidates"]
        assert candidate["view"] == "minimal" and candidate["child_id"] == rabat_case["child_id"]
        assert candidate["evidence"]["shared_adult"] is True and candidate["evidence"]["same_sex"] is True
        assert candidate["age_band"] == "6_13" and candidate["cases"][0]["prefecture_code"] == api.RABAT
        assert candidate["cases"][0]["case_number"] == rabat_case["case_number"]
        assert set(candidate) == {"view", "child_id", "score", "evidence", "sex", "age_band", "cases"}
        assert "Alaoui" not in side.text and "Mohamed" not in side.text and "Fatima" not in side.text

    async def test_the_intakes_adults_count_as_evidence_when_it_proposes_candidates(self, api, as_, client):
        # The intake searches before writing its cases: its adults are passed in, and weigh as they do later.
        mother = {"first_name": "Fatima", "cnie": "AB123456", "claimed_relationship": "mother"}
        rabat_case, _ = await record(api, as_, territories=[api.RABAT], commune=api.RABAT_COMMUNE,
                                     child=RABAT_CHILD, adults=[mother])
        older = {**MARRAKECH_CHILD, "estimated_age_years": 8}  # ages apart: the score stays below 1
        with_mother, marrakech = await record(api, as_, territories=[MARRAKECH], commune=api.MARRAKECH_COMMUNE,
                                              child=older, adults=[{**mother, "cnie": "ab-123 456"}])
        without, _ = await record(api, as_, territories=[MARRAKECH], commune=api.MARRAKECH_COMMUNE, child=older)

        def score(case):
            return next(c["score"] for c in case["duplicate_candidates"] if c["child_id"] == rabat_case["child_id"])

        assert score(with_mother) > score(without)
        later = (await client.get(f"/v1/children/{with_mother['child_id']}/duplicates", headers=marrakech)).json()
        assert score(with_mother) == next(c["score"] for c in later["candidates"]
                                          if c["child_id"] == rabat_case["child_id"])

    async def test_a_shared_adult_lifts_a_candidate_into_the_ten_proposed(self, api, as_):
        # Eleven namesakes: nine of the same age (0.9), one six months apart (0.867), one nine months apart but
        # met with the same mother (0.85 + 0.1). Only rows that a shared adult could lift into the ten have their
        # adults read: cutting to ten before reading them would keep the first and drop the second.
        child = {"first_name": "Zakaria", "last_name": "Bennani", "sex": "male", "estimated_age_years": 6}
        mother = {"first_name": "Naima", "cnie": "CD765432", "claimed_relationship": "mother"}
        for _ in range(9):
            await record(api, as_, territories=[api.RABAT], commune=api.RABAT_COMMUNE, child=child)
        lifted, _ = await record(api, as_, territories=[api.RABAT], commune=api.RABAT_COMMUNE,
                                 child={**child, "estimated_age_years": 6.75}, adults=[mother])
        left, _ = await record(api, as_, territories=[api.RABAT], commune=api.RABAT_COMMUNE,
                               child={**child, "estimated_age_years": 6.5})
        subject, _ = await record(api, as_, territories=[api.RABAT], commune=api.RABAT_COMMUNE, child=child,
                                  adults=[mother])
        proposed = {c["child_id"]: c["score"] for c in subject["duplicate_candidates"]}
        assert len(proposed) == 10
        assert proposed[lifted["child_id"]] > max(s for c, s in proposed.items() if c != lifted["child_id"])
        assert left["child_id"] not in proposed

    async def test_a_national_reviewer_sees_both_children_with_names(self, api, as_, client):
        rabat_case, _ = await record(api, as_, territories=[api.RABAT], commune=api.RABAT_COMMUNE, child=RABAT_CHILD)
        marrakech_case, _ = await record(api, as_, territories=[MARRAKECH], commune=api.MARRAKECH_COMMUNE,
                                         child=MARRAKECH_CHILD)
        national = as_("police_officer", territories=["MA"])
        body = (await client.get(f"/v1/children/{marrakech_case['child_id']}/duplicates", headers=national)).json()
        (candidate,) = body["candidates"]
        assert candidate["view"] == "full" and candidate["names"]["first_name"] == "Mohamed"
        assert candidate["case_ids"] == [rabat_case["id"]]

    async def test_unrelated_names_other_sex_or_far_ages_are_not_proposed(self, api, as_):
        rabat_case, _ = await record(api, as_, territories=[api.RABAT], commune=api.RABAT_COMMUNE, child=RABAT_CHILD)
        others = [{"first_name": "Karim", "sex": "male", "estimated_age_years": 6},
                  {"first_name_ar": "كريم", "sex": "male", "estimated_age_years": 6},
                  {"first_name": "Mohamed", "sex": "female", "estimated_age_years": 6},
                  {"first_name": "Mohamed", "sex": "male", "estimated_age_years": 13}]
        for child in others:
            case, _ = await record(api, as_, territories=[MARRAKECH], commune=api.MARRAKECH_COMMUNE, child=child)
            assert rabat_case["child_id"] not in [c["child_id"] for c in case["duplicate_candidates"]], child

    async def test_search_by_name_finds_the_spelling_variants_nationally(self, api, as_, client):
        rabat_case, _ = await record(api, as_, territories=[api.RABAT], commune=api.RABAT_COMMUNE, child=RABAT_CHILD)
        marrakech = as_("case_manager", territories=[MARRAKECH])
        for q in ("محمد", "Mohammed", "Mhamed", "M'hamed"):
            found = (await client.get("/v1/children", params={"q": q, "age": 6}, headers=marrakech)).json()
            assert [c["child_id"] for c in found] == [rabat_case["child_id"]], q
        assert (await client.get("/v1/children", params={"q": "Hassan"}, headers=marrakech)).json() == []

    async def test_callers_without_the_dedup_scope_cannot_review(self, api, as_, client):
        case, _ = await record(api, as_, territories=[api.RABAT], commune=api.RABAT_COMMUNE, child=RABAT_CHILD)
        ngo = as_("ngo_worker")
        assert (await client.get(f"/v1/children/{case['child_id']}/duplicates", headers=ngo)).status_code == 403
        sale = as_("case_manager", territories=[api.SALE])
        assert (await client.get(f"/v1/children/{case['child_id']}/duplicates", headers=sale)).status_code == 404


class TestReview:
    async def test_not_same_is_recorded_and_never_proposed_again(self, api, as_, client, db, plaintext_hits):
        rabat_case, rabat = await record(api, as_, territories=[api.RABAT], commune=api.RABAT_COMMUNE,
                                         child=RABAT_CHILD)
        marrakech_case, marrakech = await record(api, as_, territories=[MARRAKECH], commune=api.MARRAKECH_COMMUNE,
                                                 child=MARRAKECH_CHILD)
        reviewed = await client.post(f"/v1/children/{marrakech_case['child_id']}/duplicate-reviews", headers=marrakech,
                                     json={"other_child_id": rabat_case["child_id"], "decision": "not_same",
                                           "note": "Different mother, Mohamed Alaoui has a scar"})
        assert reviewed.status_code == 201, reviewed.text
        assert reviewed.json()["merged_child_id"] is None and reviewed.json()["outcome"] == "recorded"
        for child_id, headers in ((marrakech_case["child_id"], marrakech), (rabat_case["child_id"], rabat)):
            side = (await client.get(f"/v1/children/{child_id}/duplicates", headers=headers)).json()
            assert side["candidates"] == [], child_id
        again = await client.post(f"/v1/children/{rabat_case['child_id']}/duplicate-reviews", headers=rabat,
                                  json={"other_child_id": marrakech_case["child_id"], "decision": "same"})
        assert again.status_code == 409
        assert await plaintext_hits(db, "cases", ["scar", "Alaoui"]) == []

    async def test_same_within_ones_own_territories_merges_the_newer_record_into_the_older(self, api, as_, client,
                                                                                          db):
        rabat_case, rabat = await record(api, as_, territories=[api.RABAT], commune=api.RABAT_COMMUNE,
                                         child=RABAT_CHILD)
        assert (await api.move(rabat_case["id"], "screened", rabat)).status_code == 200
        closed = await api.move(rabat_case["id"], "closed_not_in_scope", rabat, reason="Returned home")
        assert closed.status_code == 200
        second, _ = await record(api, as_, territories=[api.RABAT], commune=api.RABAT_COMMUNE,
                                 child={"first_name": "Mohammed", "sex": "male", "estimated_age_years": 6})
        reviewed = await client.post(f"/v1/children/{second['child_id']}/duplicate-reviews", headers=rabat,
                                     json={"other_child_id": rabat_case["child_id"], "decision": "same"})
        assert reviewed.status_code == 201, reviewed.text
        body = reviewed.json()
        assert body["outcome"] == "merged" and body["merge_request_id"] is None
        assert body["survivor_child_id"] == rabat_case["child_id"]
        assert body["merged_child_id"] == second["child_id"]
        assert body["moved_case_ids"] == [second["id"]]
        assert body["repeat_links"] == {second["id"]: rabat_case["id"]}
        case = (await api.get(second["id"], rabat)).json()
        assert case["child"]["id"] == rabat_case["child_id"] and case["repeat_of_case_id"] == rabat_case["id"]
        # Each case still shows the record it was opened with.
        assert case["child"]["names"]["first_name"] == "Mohammed"
        merged = (await db.execute(sa.text("SELECT merged_into_id FROM cases.children WHERE id = :id"),
                                   {"id": second["child_id"]})).scalar()
        assert str(merged) == rabat_case["child_id"]
        child = await client.get(f"/v1/children/{second['child_id']}", headers=rabat)
        assert child.status_code == 200 and child.json()["id"] == rabat_case["child_id"]
        # Both spellings find the one child, and the merged record is never proposed separately.
        for q in ("Mohammed", "Mohamed"):
            found = (await client.get("/v1/children", params={"q": q}, headers=rabat)).json()
            assert [c["child_id"] for c in found] == [rabat_case["child_id"]], q
        timeline = (await client.get(f"/v1/cases/{second['id']}/timeline", headers=rabat)).json()
        assert timeline["items"][-1]["event_type"] == "child.merged"
        audit = (await db.execute(sa.text(
            "SELECT action FROM cases.audit_events WHERE case_id = :id AND action LIKE 'child.duplicate_review%'"),
            {"id": rabat_case["id"]})).scalars().all()
        assert audit == ["child.duplicate_review.same"]

    async def test_same_about_a_child_of_another_territory_is_a_request_its_territory_decides(
            self, api, as_, client, db, plaintext_hits):
        rabat_case, rabat = await record(api, as_, territories=[api.RABAT], commune=api.RABAT_COMMUNE,
                                         child={**RABAT_CHILD, "last_name": "Alaoui"})
        assert (await api.move(rabat_case["id"], "screened", rabat)).status_code == 200
        assert (await api.move(rabat_case["id"], "closed_not_in_scope", rabat, reason="Home")).status_code == 200
        marrakech_case, marrakech = await record(api, as_, territories=[MARRAKECH], commune=api.MARRAKECH_COMMUNE,
                                                 child=MARRAKECH_CHILD)
        requested = await client.post(f"/v1/children/{marrakech_case['child_id']}/duplicate-reviews",
                                      headers=marrakech, json={"other_child_id": rabat_case["child_id"],
                                                               "decision": "same", "note": "Same scar"})
        assert requested.status_code == 201, requested.text
        body = requested.json()
        assert body["outcome"] == "merge_requested" and body["survivor_child_id"] is None
        assert body["moved_case_ids"] == [] and "Alaoui" not in requested.text and "Mohamed" not in requested.text
        # Nothing moved yet; the Marrakech case shows its own child.
        case = (await api.get(marrakech_case["id"], marrakech)).json()
        assert case["child"]["id"] == marrakech_case["child_id"]
        again = await client.post(f"/v1/children/{marrakech_case['child_id']}/duplicate-reviews", headers=marrakech,
                                  json={"other_child_id": rabat_case["child_id"], "decision": "same"})
        assert again.status_code == 409
        # The Rabat case manager sees the request addressed to Rabat; the police officer may not decide it.
        listed = (await client.get("/v1/child-merge-requests", headers=rabat)).json()["items"]
        assert [r["id"] for r in listed] == [body["merge_request_id"]]
        assert listed[0]["note"] == "Same scar" and listed[0]["other_child"]["child_id"] == rabat_case["child_id"]
        assert "محمد" not in str(listed)
        mine = (await client.get("/v1/child-merge-requests", headers=marrakech)).json()["items"]
        assert [r["id"] for r in mine] == [body["merge_request_id"]]
        police = as_("police_officer", territories=[api.RABAT])
        decide = f"/v1/child-merge-requests/{body['merge_request_id']}/decision"
        assert (await client.post(decide, headers=police, json={"decision": "accept"})).status_code == 403
        sale = as_("case_manager", territories=[api.SALE])
        assert (await client.post(decide, headers=sale, json={"decision": "accept"})).status_code == 404
        assert (await client.post(decide, headers=marrakech, json={"decision": "accept"})).status_code == 404
        accepted = await client.post(decide, headers=rabat, json={"decision": "accept"})
        assert accepted.status_code == 200, accepted.text
        decided = accepted.json()
        assert decided["status"] == "accepted" and decided["survivor_child_id"] == rabat_case["child_id"]
        assert decided["review_id"] is not None
        # Each side still sees its own record through its own case, never the other's names.
        case = await api.get(marrakech_case["id"], marrakech)
        assert case.json()["child"]["id"] == rabat_case["child_id"]
        assert case.json()["child"]["names"]["first_name_ar"] == "محمد"
        assert "Alaoui" not in case.text and "Mohamed" not in case.text
        assert case.json()["repeat_of_case_id"] is None  # the Rabat case it continues is not Marrakech's to open
        child = await client.get(f"/v1/children/{rabat_case['child_id']}", headers=marrakech)
        assert child.status_code == 200 and "Alaoui" not in child.text and "Mohamed" not in child.text
        assert [c["id"] for c in child.json()["cases"]] == [marrakech_case["id"]]
        rabat_view = await client.get(f"/v1/children/{rabat_case['child_id']}", headers=rabat)
        assert rabat_view.json()["names"]["last_name"] == "Alaoui" and "محمد" not in rabat_view.text
        # A search by the other side's spelling finds the child, with one's own record's names only.
        for q, headers, hidden in (("Alaoui", marrakech, ("Alaoui", "Mohamed")), ("محمد", rabat, ("محمد",))):
            found = await client.get("/v1/children", params={"q": q}, headers=headers)
            assert [c["child_id"] for c in found.json()] == [rabat_case["child_id"]], q
            assert not any(name in found.text for name in hidden), q
        side = await client.get(f"/v1/children/{rabat_case['child_id']}/duplicates", headers=marrakech)
        assert side.json()["child"]["names"]["first_name_ar"] == "محمد" and "Alaoui" not in side.text
        facts = (await db.execute(sa.text("SELECT count(DISTINCT child_id) FROM cases.stats_case_facts "
                                          "WHERE case_id IN (:a, :b)"),
                                  {"a": rabat_case["id"], "b": marrakech_case["id"]})).scalar()
        assert facts == 1
        actions = (await db.execute(sa.text(
            "SELECT action FROM cases.audit_events WHERE case_id = :id AND action LIKE 'child.merge_request%' "
            "ORDER BY id"), {"id": rabat_case["id"]})).scalars().all()
        assert [a for a in actions if not a.endswith(".list")] == ["child.merge_request.create",
                                                                   "child.merge_request.accepted"]
        assert "child.merge_request.list" in actions  # the Rabat auditor sees who was shown the request
        assert await plaintext_hits(db, "cases", ["Same scar", "Alaoui", "Mohamed", "محمد"]) == []

    async def test_a_refused_request_merges_nothing_and_the_requester_reads_the_reason(self, api, as_, client, db,
                                                                                        plaintext_hits):
        rabat_case, rabat = await record(api, as_, territories=[api.RABAT], commune=api.RABAT_COMMUNE,
                                         child=RABAT_CHILD)
        marrakech_case, marrakech = await record(api, as_, territories=[MARRAKECH], commune=api.MARRAKECH_COMMUNE,
                                                 child=MARRAKECH_CHILD)
        assert (await api.move(marrakech_case["id"], "screened", marrakech)).status_code == 200
        assert (await api.move(marrakech_case["id"], "closed_not_in_scope", marrakech,
                               reason="Home")).status_code == 200
        requested = (await client.post(f"/v1/children/{marrakech_case['child_id']}/duplicate-reviews",
                                       headers=marrakech, json={"other_child_id": rabat_case["child_id"],
                                                                "decision": "same"})).json()
        decide = f"/v1/child-merge-requests/{requested['merge_request_id']}/decision"
        assert (await client.post(decide, headers=rabat, json={"decision": "refuse"})).status_code == 422
        refused = await client.post(decide, headers=rabat, json={"decision": "refuse", "reason": "Other mother"})
        assert refused.status_code == 200 and refused.json()["status"] == "refused"
        assert (await client.post(decide, headers=rabat, json={"decision": "accept"})).status_code == 409
        mine = (await client.get("/v1/child-merge-requests", params={"status": "refused"},
                                 headers=marrakech)).json()["items"]
        assert mine[0]["reason"] == "Other mother" and mine[0]["review_id"] is None
        case = (await api.get(marrakech_case["id"], marrakech)).json()
        assert case["child"]["id"] == marrakech_case["child_id"]
        assert await plaintext_hits(db, "cases", ["Other mother"]) == []

    async def test_unmerge_restores_both_children_their_cases_and_repeat_links(self, api, as_, client, db,
                                                                               plaintext_hits):
        rabat_case, rabat = await record(api, as_, territories=[api.RABAT], commune=api.RABAT_COMMUNE,
                                         child=RABAT_CHILD)
        assert (await api.move(rabat_case["id"], "screened", rabat)).status_code == 200
        assert (await api.move(rabat_case["id"], "closed_not_in_scope", rabat, reason="Home")).status_code == 200
        second, _ = await record(api, as_, territories=[api.RABAT], commune=api.RABAT_COMMUNE,
                                 child={"first_name": "Mohammed", "sex": "male", "estimated_age_years": 6})
        review = (await client.post(f"/v1/children/{second['child_id']}/duplicate-reviews", headers=rabat,
                                    json={"other_child_id": rabat_case["child_id"], "decision": "same"})).json()
        police = as_("police_officer", territories=[api.RABAT])
        path = f"/v1/duplicate-reviews/{review['id']}/unmerge"
        assert (await client.post(path, headers=police, json={"reason": "x"})).status_code == 403
        sale = as_("case_manager", territories=[api.SALE])
        assert (await client.post(path, headers=sale, json={"reason": "x"})).status_code == 404
        undone = await client.post(path, headers=rabat, json={"reason": "Twins, not one child"})
        assert undone.status_code == 200, undone.text
        assert await plaintext_hits(db, "cases", ["Twins, not one"]) == []
        assert undone.json()["moved_case_ids"] == [second["id"]]
        assert (await client.post(path, headers=rabat, json={"reason": "again"})).status_code == 409
        case = (await api.get(second["id"], rabat)).json()
        assert case["child"]["id"] == second["child_id"] and case["repeat_of_case_id"] is None
        rows = (await db.execute(sa.text(
            "SELECT c.id::text, c.child_id::text, f.child_id::text, ch.merged_into_id FROM cases.cases c "
            "JOIN cases.stats_case_facts f ON f.case_id = c.id JOIN cases.children ch ON ch.id = c.child_id "
            "WHERE c.id IN (:a, :b)"), {"a": rabat_case["id"], "b": second["id"]})).all()
        assert {(r[0], r[1]) for r in rows} == {(rabat_case["id"], rabat_case["child_id"]),
                                                (second["id"], second["child_id"])}
        assert all(r[1] == r[2] and r[3] is None for r in rows)
        for child_id in (rabat_case["child_id"], second["child_id"]):
            assert (await client.get(f"/v1/children/{child_id}", headers=rabat)).json()["id"] == child_id
        timeline = (await client.get(f"/v1/cases/{second['id']}/timeline", headers=rabat)).json()
        assert timeline["items"][-1]["event_type"] == "child.unmerged"
        audit = (await db.execute(sa.text("SELECT count(*) FROM cases.audit_events WHERE action = 'child.unmerge' "
                                          "AND case_id IN (:a, :b)"),
                                  {"a": rabat_case["id"], "b": second["id"]})).scalar()
        assert audit == 2

    async def test_two_open_cases_must_be_resolved_before_a_merge_and_the_409_names_only_ones_own(
            self, api, as_, client):
        rabat_case, _ = await record(api, as_, territories=[api.RABAT], commune=api.RABAT_COMMUNE, child=RABAT_CHILD)
        marrakech_case, marrakech = await record(api, as_, territories=[MARRAKECH], commune=api.MARRAKECH_COMMUNE,
                                                 child=MARRAKECH_CHILD)
        refused = await client.post(f"/v1/children/{marrakech_case['child_id']}/duplicate-reviews", headers=marrakech,
                                    json={"other_child_id": rabat_case["child_id"], "decision": "same"})
        assert refused.status_code == 409
        assert refused.json()["open_case_ids"] == [marrakech_case["id"]]
        assert rabat_case["id"] not in refused.text
        assert {"case_number": rabat_case["case_number"], "prefecture_code": api.RABAT} in refused.json()["open_cases"]

    async def test_a_child_that_is_not_a_candidate_cannot_be_merged_by_id(self, api, as_, client):
        other, _ = await record(api, as_, territories=[api.RABAT], commune=api.RABAT_COMMUNE,
                                child={"first_name": "Karim", "sex": "male", "estimated_age_years": 6})
        case, marrakech = await record(api, as_, territories=[MARRAKECH], commune=api.MARRAKECH_COMMUNE,
                                       child=MARRAKECH_CHILD)
        for other_id in (other["child_id"], str(uuid.uuid4())):
            refused = await client.post(f"/v1/children/{case['child_id']}/duplicate-reviews", headers=marrakech,
                                        json={"other_child_id": other_id, "decision": "same"})
            assert refused.status_code == 404, other_id


class TestCandidateSelection:
    """Candidates are selected by the names' phonetic keys, scored and ranked in SQL (decision 0090)."""

    async def test_the_best_match_comes_first_among_many_sharing_a_first_name(self, api, as_, client):
        families = ["Alaoui", "Bennani", "Tazi", "Idrissi", "Berrada", "Chraibi", "Fassi", "Lahlou", "Sebti",
                    "Bouzidi", "Haddad", "Naciri", "Filali"]
        for family in families:
            await record(api, as_, territories=[api.RABAT], commune=api.RABAT_COMMUNE,
                         child={"first_name": "Hicham", "last_name": family, "sex": "male",
                                "estimated_age_years": 9})
        target, _ = await record(api, as_, territories=[api.RABAT], commune=api.RABAT_COMMUNE,
                                 child={"first_name": "Hicham", "last_name": "Kettani", "sex": "male",
                                        "estimated_age_years": 9})
        found = (await client.get("/v1/children", params={"q": "Hicham Kettani"},
                                  headers=as_("case_manager"))).json()
        assert found[0]["child_id"] == target["child_id"]
        assert found[0]["score"] > found[1]["score"]

    async def test_a_full_name_shared_by_ten_children_fills_the_list_and_a_rarer_one_still_finds_its_own(
            self, api, as_, client):
        # Ten children share every key of "Youssef Alaoui": the first tier (every key) is enough. "Youssef
        # Bennani" shares every key with only three, so the next tier (any key) runs and ranks them first.
        alaoui, bennani = [], []
        for family, out in (("Alaoui", alaoui),) * 10 + (("Bennani", bennani),) * 3:
            case, _ = await record(api, as_, territories=[api.RABAT], commune=api.RABAT_COMMUNE,
                                   child={"first_name": "Youssef", "last_name": family, "sex": "male",
                                          "estimated_age_years": 9})
            out.append(case["child_id"])
        headers = as_("case_manager")
        found = (await client.get("/v1/children", params={"q": "Youssef Alaoui"}, headers=headers)).json()
        assert sorted(c["child_id"] for c in found) == sorted(alaoui)
        found = (await client.get("/v1/children", params={"q": "Youssef Bennani"}, headers=headers)).json()
        assert sorted(c["child_id"] for c in found[:3]) == sorted(bennani)
        assert {c["child_id"] for c in found[3:]} <= set(alaoui) and found[2]["score"] > found[3]["score"]

    async def test_the_bounded_last_tier_keeps_what_the_keys_found(self, api, as_, client, monkeypatch):
        from cases_service.duplicates import service as duplicates

        ids = []
        for family in ("Kettani", "Kettani", "Bennani"):
            case, _ = await record(api, as_, territories=[api.RABAT], commune=api.RABAT_COMMUNE,
                                   child={"first_name": "Hicham", "last_name": family, "sex": "male",
                                          "estimated_age_years": 9})
            ids.append(case["child_id"])
        monkeypatch.setattr(duplicates, "FALLBACK_SCAN_ROWS", 1)
        found = (await client.get("/v1/children", params={"q": "Hicham Kettani"},
                                  headers=as_("case_manager"))).json()
        # Fewer than ten share a key, so the last tier ran, scoring a single row: the key matches stay.
        assert {c["child_id"] for c in found} == set(ids)
        assert {c["child_id"] for c in found[:2]} == set(ids[:2])

    async def test_a_name_misspelt_in_every_word_is_still_found_when_few_share_a_key(self, api, as_, client):
        target, _ = await record(api, as_, territories=[api.RABAT], commune=api.RABAT_COMMUNE,
                                 child={"first_name": "Hicham", "last_name": "Kettani", "sex": "male",
                                        "estimated_age_years": 9})
        found = (await client.get("/v1/children", params={"q": "Hichan Kettami"},
                                  headers=as_("case_manager"))).json()
        assert [c["child_id"] for c in found] == [target["child_id"]]
        proposed, _ = await record(api, as_, territories=[api.RABAT], commune=api.RABAT_COMMUNE,
                                   child={"first_name": "Hichan", "last_name": "Kettami", "sex": "male",
                                          "estimated_age_years": 9})
        assert target["child_id"] in [c["child_id"] for c in proposed["duplicate_candidates"]]


class TestConflictsNameOnlyVisibleCases:
    async def test_an_intake_for_a_child_whose_open_case_was_transferred_away_does_not_name_that_case(
            self, api, as_, client):
        case, rabat = await record(api, as_, territories=[api.RABAT], commune=api.RABAT_COMMUNE, child=RABAT_CHILD)
        assert (await api.move(case["id"], "screened", rabat)).status_code == 200
        moved = await api.move(case["id"], "transferred_out", rabat, reason="Family moved",
                               commune_code=api.SALE_COMMUNE)
        sale_case = moved.json()["opened_case_id"]
        again = await client.post("/v1/intakes", headers=rabat, json=api.intake_body(
            children=[{"child_id": case["child_id"]}], adults=[], narrative=None))
        assert again.status_code == 409, again.text
        assert sale_case not in again.text and "case_id" not in again.json()
        assert again.json()["open_case"]["prefecture_code"] == api.SALE
        ngo = as_("ngo_worker", territories=[api.RABAT])  # no children:dedup: told nothing of the other case
        refused = await client.post("/v1/intakes", headers=ngo, json=api.intake_body(
            children=[{"child_id": case["child_id"]}], adults=[], narrative=None))
        assert refused.status_code in (409, 422) and sale_case not in refused.text
        assert "open_case" not in refused.json()
