"""Rotating the field key: every stored value is re-encrypted and every record stays readable."""

import sqlalchemy as sa

from cases_service.core.protection import Protector
from cases_service.core.rotation import rotate_field_keys

OLD = {"k1": "test-field-key-" + "f" * 32}
NEW = {**OLD, "k2": "test-field-key-two-" + "g" * 32}
INDEX_KEY = "test-blind-index-" + "b" * 32
INTAKE = {"reported_at": "2026-03-02T21:30:00Z", "source": "field_patrol", "commune_code": "04.421.01",
          "place_type": "traffic_light", "exploitation_pattern": "with_adult", "narrative": "Near the station.",
          "children": [{"first_name": "Mohamed", "sex": "male", "estimated_age_years": 4}],
          "adults": [{"first_name": "Fatima", "cnie": "AB123456", "claimed_relationship": "mother"}]}


class TestRotation:
    async def test_rotation_reseals_everything_and_records_stay_readable(self, committed, as_, harness):
        h = as_("case_manager")
        created = await committed.post("/v1/intakes", json=INTAKE, headers=h)
        case_id = created.json()["cases"][0]["id"]
        moved = await committed.post(f"/v1/cases/{case_id}/transitions", headers=h,
                                     json={"to": "suspended", "reason": "Family untraceable"})
        assert moved.status_code == 200
        app = harness.app
        old_protector = app.state.protector
        new_protector = Protector.from_settings(field_keys=NEW, active_kid="k2", blind_index_key=INDEX_KEY)
        try:
            counts = await rotate_field_keys(engine=committed.admin, cipher=new_protector.cipher, batch=1)
            assert counts["children"] == 1 and counts["adults"] == 1 and counts["intakes"] == 1
            assert counts["case_events"] == 1
            again = await rotate_field_keys(engine=committed.admin, cipher=new_protector.cipher)
            assert again == {}
            async with committed.admin.connect() as conn:
                blobs = (await conn.execute(sa.text(
                    "SELECT first_name_enc FROM cases.children UNION ALL SELECT cnie_enc FROM cases.adults "
                    "UNION ALL SELECT reason_enc FROM cases.case_events WHERE reason_enc IS NOT NULL"))).scalars().all()
            assert blobs and all(new_protector.cipher.key_id(b) == "k2" for b in blobs)
            app.state.protector = Protector.from_settings(field_keys={"k2": NEW["k2"]}, active_kid="k2",
                                                          blind_index_key=INDEX_KEY)
            read = (await committed.get(f"/v1/cases/{case_id}", headers=h)).json()
            assert read["child"]["names"]["first_name"] == "Mohamed"
            adults = (await committed.get(f"/v1/cases/{case_id}/adults", headers=h)).json()
            assert adults[0]["cnie"] == "AB123456"
            timeline = (await committed.get(f"/v1/cases/{case_id}/timeline", headers=h)).json()["items"]
            assert timeline[-1]["reason"] == "Family untraceable"
        finally:
            app.state.protector = old_protector
