"""After a full path (intake, casework, filiation, transitions, duplicate review), no identifying value is in
any column of the cases schema in clear; after a key rotation every record still reads through the API."""

import sqlalchemy as sa

from cases_service.core.protection import Protector
from cases_service.core.rotation import rotate_field_keys

OLD = {"k1": "test-field-key-" + "f" * 32}
NEW = {**OLD, "k2": "test-field-key-two-" + "g" * 32}
INDEX_KEY = "test-blind-index-" + "b" * 32
SECRETS = ["Mohamed", "Alaoui", "محمد", "العلوي", "Yasmine", "Bouzid", "AB123456", "BA-2020-4471",
           "Bab Rouah", "Anaemia", "booklet", "scar", "untraceable", "Tafilalet", "limps"]


def full_intake(commune: str, child: dict) -> dict:
    return {"reported_at": "2026-03-02T21:30:00Z", "source": "field_patrol", "commune_code": commune,
            "place_type": "traffic_light", "night": True, "exploitation_pattern": "with_adult",
            "narrative": "Seen at the Bab Rouah lights with a woman from Tafilalet.", "children": [child],
            "adults": [{"first_name": "Yasmine", "last_name": "Bouzid", "sex": "female", "age": 30,
                        "cnie": "AB123456", "claimed_relationship": "mother", "suspected_offender": True,
                        "offence_notes": "Yasmine Bouzid already warned"}]}


class TestNothingInClear:
    async def test_a_full_path_leaves_no_identifying_value_in_any_column_and_rotation_keeps_it_readable(
            self, committed, as_, harness, plaintext_hits):
        cm, police = as_("case_manager"), as_("police_officer")
        made = await committed.post("/v1/intakes", headers=cm, json=full_intake("04.421.01", {
            "first_name": "Mohamed", "last_name": "Alaoui", "first_name_ar": "محمد", "last_name_ar": "العلوي",
            "sex": "male", "estimated_age_years": 6, "birth_act_reference": "BA-2020-4471",
            "description": "Small boy, limps"}))
        assert made.status_code == 201, made.text
        case_id, child_id = made.json()["cases"][0]["id"], made.json()["cases"][0]["child_id"]
        adult_id = made.json()["adult_ids"][0]
        for path, headers, body in (
                ("assessments", cm, {"type": "medical", "completed": True, "summary": "Anaemia, Mohamed Alaoui"}),
                ("care-plans", cm, {"objectives": "School for Mohamed Alaoui"}),
                ("follow-ups", cm, {"visited_at": "2026-03-10T10:00:00Z", "child_seen": True,
                                    "notes": "Mohamed at home with Yasmine"}),
                ("services", cm, {"beneficiary": "mother", "service_type": "legal_aid",
                                  "notes": "Yasmine Bouzid, CNIE AB123456"}),
                ("filiation-checks", police, {"adult_id": adult_id, "claimed_relationship": "mother",
                                              "methods": ["documents"], "notes": "Family booklet of Alaoui"})):
            response = await committed.post(f"/v1/cases/{case_id}/{path}", headers=headers, json=body)
            assert response.status_code == 201, (path, response.text)
        moved = await committed.post(f"/v1/cases/{case_id}/transitions", headers=cm,
                                     json={"to": "suspended", "reason": "Family untraceable, Alaoui gone"})
        assert moved.status_code == 200, moved.text
        other = await committed.post("/v1/intakes", headers=as_("case_manager", territories=["07.351"]),
                                     json=full_intake("07.351.01", {"first_name_ar": "محمد", "sex": "male",
                                                                    "estimated_age_years": 6}))
        other_child = other.json()["cases"][0]["child_id"]
        assert [c["child_id"] for c in other.json()["cases"][0]["duplicate_candidates"]] == [child_id]
        reviewed = await committed.post(f"/v1/children/{child_id}/duplicate-reviews", headers=cm,
                                        json={"other_child_id": other_child, "decision": "not_same",
                                              "note": "Mohamed Alaoui has a scar"})
        assert reviewed.status_code == 201, reviewed.text

        async with committed.admin.connect() as conn:
            assert await plaintext_hits(conn, "cases", SECRETS) == []
            # The scan does find what is stored in clear (enum values), so its silence above means something.
            assert "intakes.source: field_patrol" in await plaintext_hits(conn, "cases", ["field_patrol"])

        app = harness.app
        previous = app.state.protector
        rotated = Protector.from_settings(field_keys=NEW, active_kid="k2", blind_index_key=INDEX_KEY)
        try:
            counts = await rotate_field_keys(engine=committed.admin, cipher=rotated.cipher)
            assert {"children", "adults", "intakes", "assessments", "care_plans", "follow_ups", "service_deliveries",
                    "filiation_checks", "case_events", "duplicate_reviews"} <= set(counts)
            app.state.protector = Protector.from_settings(field_keys={"k2": NEW["k2"]}, active_kid="k2",
                                                          blind_index_key=INDEX_KEY)
            case = (await committed.get(f"/v1/cases/{case_id}", headers=cm)).json()
            assert case["child"]["names"]["last_name_ar"] == "العلوي"
            assert case["child"]["birth_act_reference"] == "BA-2020-4471"
            adults = (await committed.get(f"/v1/cases/{case_id}/adults", headers=police)).json()
            assert (adults[0]["cnie"], adults[0]["offence_notes"]) == ("AB123456", "Yasmine Bouzid already warned")
            texts = {
                "assessments": ("summary", "Anaemia, Mohamed Alaoui"),
                "care-plans": ("objectives", "School for Mohamed Alaoui"),
                "follow-ups": ("notes", "Mohamed at home with Yasmine"),
                "services": ("notes", "Yasmine Bouzid, CNIE AB123456")}
            for path, (field, value) in texts.items():
                got = (await committed.get(f"/v1/cases/{case_id}/{path}", headers=cm)).json()
                assert got[0][field] == value, path
            checks = (await committed.get(f"/v1/cases/{case_id}/filiation-checks", headers=police)).json()
            assert checks[0]["notes"] == "Family booklet of Alaoui"
            timeline = (await committed.get(f"/v1/cases/{case_id}/timeline", headers=cm)).json()["items"]
            assert any(e["reason"] == "Family untraceable, Alaoui gone" for e in timeline)
            found = (await committed.get("/v1/children", params={"q": "Mhamed"}, headers=cm)).json()
            assert child_id in [c["child_id"] for c in found]
            async with committed.admin.connect() as conn:
                note = (await conn.execute(sa.text("SELECT note_enc FROM cases.duplicate_reviews"))).scalar()
            assert rotated.cipher.key_id(bytes(note)) == "k2"
        finally:
            app.state.protector = previous
