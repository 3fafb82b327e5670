"""Duplicate merge across territories, through the gateway with the real processes (decision 0100).

The attack: a case manager or police officer of Salé records a child with the name of a Rabat child, closes
the new case, and marks the two records "same", hoping the merge shows the Rabat child's identity through the
Salé case. A merge must never widen what anyone sees: "same" about a child one may not see is a request that
a Rabat case manager accepts or refuses, and after acceptance each side still sees only its own record.
"""

from __future__ import annotations

import json
import uuid
from datetime import UTC, datetime, timedelta
from typing import Any

import httpx
import pytest
from authz.provision import RABAT, RABAT_COMMUNE, SALE, SALE_COMMUNE, Actor, Directory, expect

pytestmark = pytest.mark.stack

# Each test uses its own family (Rabat spelling, Salé spelling), so the candidates of one never crowd another's.
FAMILIES = iter([("Berrada", "Berada"), ("Kettani", "Ketani"), ("Bennani", "Benani"), ("Chraibi", "Chraybi"),
                 ("Lahlou", "Lahlu"), ("Sebti", "Sabti"), ("Filali", "Filaly"), ("Naciri", "Nassiri")])


def _reported() -> str:
    return (datetime.now(UTC) - timedelta(days=3)).isoformat()


def intake(gateway: httpx.Client, actor: Actor, commune: str, child: dict[str, Any],
           adults: list[dict[str, Any]] | None = None, code: int = 201) -> Any:
    return expect(gateway.post("/v1/intakes", headers=actor.headers, json={
        "reported_at": _reported(), "source": "field_patrol", "commune_code": commune, "place_type": "market",
        "night": False, "exploitation_pattern": "with_adult", "children": [child], "adults": adults or []}), code)


def close(gateway: httpx.Client, actor: Actor, case_id: str) -> None:
    expect(gateway.post(f"/v1/cases/{case_id}/transitions", headers=actor.headers, json={"to": "screened"}), 200)
    expect(gateway.post(f"/v1/cases/{case_id}/transitions", headers=actor.headers,
                        json={"to": "closed_not_in_scope", "reason": "Not in scope"}), 200)


def no_rabat_identity(rabat: dict[str, Any], *responses: httpx.Response) -> None:
    """None of the Rabat child's names (nor his mother's) in any of the responses."""
    for response in responses:
        for name in ("Youness", rabat["family"], "Khadija"):
            assert name not in response.text, (response.request.url, name)


@pytest.fixture(scope="module")
def cast(directory: Directory) -> dict[str, Actor]:
    d = directory
    d.organization("merge-cape-rabat", type_="cape", territory=RABAT)
    d.organization("merge-cape-sale", type_="cape", territory=SALE)
    d.organization("merge-police-sale", type_="police", territory=SALE)
    return {
        "cm_rabat": d.user("merge-cm-rabat", role="case_manager", org="merge-cape-rabat", territories=[RABAT]),
        "coord_rabat": d.user("merge-coord-rabat", role="team_coordinator", org="merge-cape-rabat",
                              territories=[RABAT]),
        "cm_sale": d.user("merge-cm-sale", role="case_manager", org="merge-cape-sale", territories=[SALE]),
        "police_sale": d.user("merge-police-sale", role="police_officer", org="merge-police-sale",
                              territories=[SALE]),
    }


def rabat_child(gateway: httpx.Client, cast: dict[str, Actor], *, closed: bool = True) -> dict[str, Any]:
    family, sale_family = next(FAMILIES)
    case = intake(gateway, cast["cm_rabat"], RABAT_COMMUNE,
                  {"first_name": "Youness", "last_name": family, "sex": "male", "estimated_age_years": 7},
                  [{"first_name": "Khadija", "sex": "female", "claimed_relationship": "mother"}])["cases"][0]
    if closed:
        close(gateway, cast["cm_rabat"], case["id"])
    return {**case, "family": family, "sale_family": sale_family}


def homonym(gateway: httpx.Client, actor: Actor, rabat: dict[str, Any], *, closed: bool = True) -> dict[str, Any]:
    made = intake(gateway, actor, SALE_COMMUNE, {"first_name": "Younes", "last_name": rabat["sale_family"],
                                                 "sex": "male", "estimated_age_years": 7})
    case = made["cases"][0]
    assert rabat["child_id"] in [c["child_id"] for c in case["duplicate_candidates"]]
    if closed:
        close(gateway, actor, case["id"])
    return case


def mark_same(gateway: httpx.Client, actor: Actor, case: dict[str, Any], other_child: str, code: int = 201) -> Any:
    return gateway.post(f"/v1/children/{case['child_id']}/duplicate-reviews",
                        headers={**actor.headers, "Idempotency-Key": str(uuid.uuid4())},
                        json={"other_child_id": other_child, "decision": "same"})


def reads_of(gateway: httpx.Client, actor: Actor, case: dict[str, Any], rabat: dict[str, Any]
             ) -> list[httpx.Response]:
    """Everything the actor reads about its own case and the child: none may carry the Rabat identity."""
    child_id = expect(gateway.get(f"/v1/cases/{case['id']}", headers=actor.headers), 200)["child"]["id"]
    return [gateway.get(f"/v1/cases/{case['id']}", headers=actor.headers),
            gateway.get(f"/v1/children/{child_id}", headers=actor.headers),
            gateway.get(f"/v1/children/{child_id}/duplicates", headers=actor.headers),
            gateway.get(f"/v1/cases/{case['id']}/timeline", headers=actor.headers),
            gateway.get("/v1/cases", params={"q": f"Youness {rabat['family']}"}, headers=actor.headers),
            gateway.get("/v1/children", params={"q": f"Youness {rabat['family']}"}, headers=actor.headers),
            gateway.get("/v1/child-merge-requests", headers=actor.headers)]


class TestTheAttack:
    @pytest.mark.parametrize("attacker", ["cm_sale", "police_sale"])
    def test_a_homonym_closed_and_marked_same_shows_nothing_of_the_remote_child(self, gateway, cast, attacker):
        rabat = rabat_child(gateway, cast)
        actor = cast[attacker]
        case = homonym(gateway, actor, rabat)
        answer = mark_same(gateway, actor, case, rabat["child_id"])
        body = expect(answer, 201)
        reads = reads_of(gateway, actor, case, rabat)
        no_rabat_identity(rabat, answer, *reads)
        assert reads[0].json()["child"]["id"] == case["child_id"]  # nothing merged
        assert body["outcome"] == "merge_requested" and body["survivor_child_id"] is None
        assert body["moved_case_ids"] == []
        assert [r.status_code for r in reads] == [200] * len(reads)
        # The Rabat case itself stays out of reach.
        assert gateway.get(f"/v1/cases/{rabat['id']}", headers=actor.headers).status_code == 404
        assert rabat["id"] not in "".join(r.text for r in [answer, *reads])


class TestTheRequest:
    def test_accepted_by_the_rabat_case_manager_merges_without_widening_either_side(self, gateway, cast):
        rabat = rabat_child(gateway, cast)
        case = homonym(gateway, cast["cm_sale"], rabat)
        request_id = expect(mark_same(gateway, cast["cm_sale"], case, rabat["child_id"]), 201)["merge_request_id"]
        addressed = expect(gateway.get("/v1/child-merge-requests", params={"status": "pending"},
                                       headers=cast["cm_rabat"].headers), 200)["items"]
        listed = next(r for r in addressed if r["id"] == request_id)
        assert listed["child"]["cases"][0]["case_number"] == case["case_number"]
        assert "Younes" not in json.dumps(listed)  # the Rabat side sees the Salé child minimally too
        decide = f"/v1/child-merge-requests/{request_id}/decision"
        for outsider in ("cm_sale", "police_sale"):
            assert gateway.post(decide, headers=cast[outsider].headers,
                                json={"decision": "accept"}).status_code in (403, 404)
        decided = expect(gateway.post(decide, headers=cast["cm_rabat"].headers, json={"decision": "accept"}), 200)
        assert decided["status"] == "accepted" and decided["survivor_child_id"] == rabat["child_id"]
        # After the merge: the Salé case counts for the Rabat child, and still shows only the Salé record.
        reads = reads_of(gateway, cast["cm_sale"], case, rabat)
        assert reads[0].json()["child"]["id"] == rabat["child_id"]
        assert reads[0].json()["child"]["names"]["first_name"] == "Younes"
        assert reads[0].json()["repeat_of_case_id"] is None
        no_rabat_identity(rabat, *reads)
        rabat_reads = [gateway.get(f"/v1/cases/{rabat['id']}", headers=cast["cm_rabat"].headers),
                       gateway.get(f"/v1/children/{rabat['child_id']}", headers=cast["cm_rabat"].headers),
                       gateway.get("/v1/children", params={"q": f"Younes {rabat['sale_family']}"},
                                   headers=cast["cm_rabat"].headers)]
        assert rabat_reads[1].json()["names"]["first_name"] == "Youness"
        for response in rabat_reads:
            assert "Younes\"" not in response.text and rabat["sale_family"] not in response.text
            assert case["id"] not in response.text

    def test_refused_merges_nothing(self, gateway, cast):
        rabat = rabat_child(gateway, cast)
        case = homonym(gateway, cast["police_sale"], rabat)
        request_id = expect(mark_same(gateway, cast["police_sale"], case, rabat["child_id"]), 201)["merge_request_id"]
        decide = f"/v1/child-merge-requests/{request_id}/decision"
        refused = expect(gateway.post(decide, headers=cast["coord_rabat"].headers,
                                      json={"decision": "refuse", "reason": "Different mother"}), 200)
        assert refused["status"] == "refused" and refused["review_id"] is None
        mine = expect(gateway.get("/v1/child-merge-requests", params={"status": "refused"},
                                  headers=cast["police_sale"].headers), 200)["items"]
        assert next(r for r in mine if r["id"] == request_id)["reason"] == "Different mother"
        read = expect(gateway.get(f"/v1/cases/{case['id']}", headers=cast["police_sale"].headers), 200)
        assert read["child"]["id"] == case["child_id"]

    def test_unmerge_restores_both_children_and_their_cases(self, gateway, cast):
        rabat = rabat_child(gateway, cast)
        case = homonym(gateway, cast["cm_sale"], rabat)
        request_id = expect(mark_same(gateway, cast["cm_sale"], case, rabat["child_id"]), 201)["merge_request_id"]
        review_id = expect(gateway.post(f"/v1/child-merge-requests/{request_id}/decision",
                                        headers=cast["cm_rabat"].headers, json={"decision": "accept"}),
                           200)["review_id"]
        path = f"/v1/duplicate-reviews/{review_id}/unmerge"
        assert gateway.post(path, headers=cast["police_sale"].headers, json={"reason": "x"}).status_code == 403
        # The Salé case manager sees the merged child through the Salé case: it may undo the merge.
        undone = expect(gateway.post(path, headers=cast["cm_sale"].headers, json={"reason": "Twins"}), 200)
        assert undone["moved_case_ids"] == [case["id"]] and undone["restored_child_id"] == case["child_id"]
        assert rabat["id"] not in json.dumps(undone)
        assert gateway.post(path, headers=cast["cm_rabat"].headers, json={"reason": "again"}).status_code == 409
        sale_read = expect(gateway.get(f"/v1/cases/{case['id']}", headers=cast["cm_sale"].headers), 200)
        assert sale_read["child"]["id"] == case["child_id"]
        rabat_read = expect(gateway.get(f"/v1/children/{rabat['child_id']}", headers=cast["cm_rabat"].headers), 200)
        assert [c["id"] for c in rabat_read["cases"]] == [rabat["id"]]
        sale_child = expect(gateway.get(f"/v1/children/{case['child_id']}", headers=cast["cm_sale"].headers), 200)
        assert sale_child["id"] == case["child_id"] and [c["id"] for c in sale_child["cases"]] == [case["id"]]
        events = expect(gateway.get(f"/v1/cases/{case['id']}/timeline", headers=cast["cm_sale"].headers), 200)
        assert [e["event_type"] for e in events["items"]][-2:] == ["child.merged", "child.unmerged"]


class TestConflictsNameOnlyWhatTheCallerSees:
    def test_an_intake_for_a_merged_child_with_an_open_case_elsewhere_does_not_name_that_case(self, gateway, cast):
        # The Rabat child keeps an open case; the Salé homonym is merged into it (on the Rabat side's acceptance
        # the Salé case is closed first), then Salé records the child again: 409 without the Rabat case's id.
        rabat = rabat_child(gateway, cast, closed=False)
        case = homonym(gateway, cast["cm_sale"], rabat)
        request_id = expect(mark_same(gateway, cast["cm_sale"], case, rabat["child_id"]), 201)["merge_request_id"]
        expect(gateway.post(f"/v1/child-merge-requests/{request_id}/decision", headers=cast["cm_rabat"].headers,
                            json={"decision": "accept"}), 200)
        for actor in (cast["cm_sale"], cast["police_sale"]):
            again = gateway.post("/v1/intakes", headers=actor.headers, json={
                "reported_at": _reported(), "source": "field_patrol", "commune_code": SALE_COMMUNE,
                "place_type": "market", "night": False, "exploitation_pattern": "with_adult",
                "children": [{"child_id": rabat["child_id"]}], "adults": []})
            assert again.status_code == 409, again.text
            assert rabat["id"] not in again.text
            assert again.json()["open_case"] == {"case_number": rabat["case_number"], "prefecture_code": RABAT}
            no_rabat_identity(rabat, again)

    def test_a_merge_of_two_open_cases_names_only_the_callers_own(self, gateway, cast):
        rabat = rabat_child(gateway, cast, closed=False)
        case = homonym(gateway, cast["police_sale"], rabat, closed=False)
        refused = mark_same(gateway, cast["police_sale"], case, rabat["child_id"])
        assert refused.status_code == 409
        assert refused.json()["open_case_ids"] == [case["id"]]
        assert rabat["id"] not in refused.text
        no_rabat_identity(rabat, refused)
