"""How to call each operation of the merged OpenAPI as one actor, on the object in one relation.

`OPERATIONS["GET /v1/cases/{case_id}"](world, role, relation)` returns the request to send; the policy table
(docs/authorization-matrix.md) says what must come back. Bodies are valid, so an answer other than 2xx is a
refusal by the authorisation layers or by the object's state, never by validation.
"""

from __future__ import annotations

import secrets
import uuid
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import date, timedelta
from typing import Any

from authz.provision import RABAT, RABAT_COMMUNE, SALE, SALE_COMMUNE
from authz.world import World, ago


@dataclass
class Call:
    """One request of the matrix."""

    method: str
    path: str
    json: Any = None
    data: dict[str, str] | None = None
    params: dict[str, Any] | None = None
    headers: dict[str, str] = field(default_factory=dict)


Builder = Callable[[World, str, str], Call]
OPERATIONS: dict[str, Builder] = {}
NEXT_WEEK = (date.today() + timedelta(days=7)).isoformat()


def op(key: str) -> Callable[[Builder], Builder]:
    """Register the builder of operation `key` ("METHOD /path/{template}")."""
    def register(builder: Builder) -> Builder:
        OPERATIONS[key] = builder
        return builder
    return register


def simple(key: str, **kwargs: Any) -> None:
    """An operation that takes no object: the same request for everyone."""
    method, path = key.split(" ", 1)
    OPERATIONS[key] = lambda w, role, relation: Call(method, path, **kwargs)


def idem() -> dict[str, str]:
    """A fresh Idempotency-Key."""
    return {"Idempotency-Key": str(uuid.uuid4())}


# ---- identity ----------------------------------------------------------------------------------------------

simple("POST /v1/auth/token", data={"grant_type": "client_credentials", "client_id": str(uuid.uuid4()),
                                    "client_secret": "not-a-secret-of-anyone"})
simple("POST /v1/auth/revoke", data={"token": "not-a-refresh-token"})
simple("GET /.well-known/jwks.json")
simple("GET /v1/me")
simple("GET /v1/organizations")
simple("GET /v1/territories", params={"parent_code": RABAT})
simple("GET /v1/roles")
simple("GET /v1/users")
simple("GET /v1/clients")
simple("GET /v1/field-teams")
simple("GET /v1/signing-keys")
simple("GET /v1/dead-letters")
simple("GET /healthz")
simple("GET /readyz")
simple("GET /metrics")


@op("POST /v1/organizations")
def _(w: World, role: str, relation: str) -> Call:
    return Call("POST", "/v1/organizations", json={"name": f"New NGO {secrets.token_hex(4)}", "type": "ngo",
                                                   "territory_code": RABAT}, headers=idem())


@op("GET /v1/organizations/{organization_id}")
def _(w: World, role: str, relation: str) -> Call:
    return Call("GET", f"/v1/organizations/{w.org('police-r')}")


@op("PATCH /v1/organizations/{organization_id}")
def _(w: World, role: str, relation: str) -> Call:
    path = f"/v1/organizations/{w.org('patch-me')}"
    return Call("PATCH", path, json={"name": f"Patched NGO {secrets.token_hex(4)}"},
                headers={"If-Match": w.etag("admin", path)})


def _user_org(w: World, relation: str) -> str:
    # `own_org`: the organisation of the org administrator (the Rabat CAPE); `other_org`: the Rabat police.
    return w.org("cape-r") if relation == "own_org" else w.org("police-r")


@op("POST /v1/users")
def _(w: World, role: str, relation: str) -> Call:
    user_role = "case_manager" if relation == "own_org" else "police_officer"
    return Call("POST", "/v1/users", headers=idem(), json={
        "username": f"new-{secrets.token_hex(5)}", "full_name": "New Colleague", "role": user_role,
        "organization_id": _user_org(w, relation), "territories": [RABAT], "password": secrets.token_urlsafe(18)})


def _user_id(w: World, relation: str) -> str:
    return str(w.actors["case_manager" if relation == "own_org" else "police_officer"].subject_id)


@op("GET /v1/users/{user_id}")
def _(w: World, role: str, relation: str) -> Call:
    return Call("GET", f"/v1/users/{_user_id(w, relation)}")


@op("GET /v1/users/{user_id}/directory-entry")
def _(w: World, role: str, relation: str) -> Call:
    return Call("GET", f"/v1/users/{_user_id(w, 'own_org')}/directory-entry")


@op("PATCH /v1/users/{user_id}")
def _(w: World, role: str, relation: str) -> Call:
    path = f"/v1/users/{_user_id(w, relation)}"
    return Call("PATCH", path, json={"full_name": f"Renamed {secrets.token_hex(2)}"},
                headers={"If-Match": w.etag("admin", path)})


@op("POST /v1/users/{user_id}/unlock")
def _(w: World, role: str, relation: str) -> Call:
    return Call("POST", f"/v1/users/{_user_id(w, relation)}/unlock")


@op("POST /v1/clients")
def _(w: World, role: str, relation: str) -> Call:
    return Call("POST", "/v1/clients", json={"name": f"client {secrets.token_hex(4)}",
                                             "organization_id": w.org("prosecution-r"),
                                             "scopes": ["referrals:read"], "territories": [RABAT]})


@op("GET /v1/clients/{client_id}")
def _(w: World, role: str, relation: str) -> Call:
    return Call("GET", f"/v1/clients/{w.rotating_client['client_id']}")


@op("PATCH /v1/clients/{client_id}")
def _(w: World, role: str, relation: str) -> Call:
    path = f"/v1/clients/{w.rotating_client['client_id']}"
    return Call("PATCH", path, json={"name": f"rotate-me {secrets.token_hex(3)}"},
                headers={"If-Match": w.etag("admin", path)})


@op("POST /v1/clients/{client_id}/rotate-secret")
def _(w: World, role: str, relation: str) -> Call:
    return Call("POST", f"/v1/clients/{w.rotating_client['client_id']}/rotate-secret", json={"overlap_seconds": 0})


@op("POST /v1/field-teams")
def _(w: World, role: str, relation: str) -> Call:
    return Call("POST", "/v1/field-teams", headers=idem(), json={
        "territory_code": RABAT if relation == "own" else SALE, "name": f"Team {secrets.token_hex(4)}"})


@op("GET /v1/field-teams/{team_id}")
def _(w: World, role: str, relation: str) -> Call:
    return Call("GET", f"/v1/field-teams/{w.team['id']}")


@op("PATCH /v1/field-teams/{team_id}")
def _(w: World, role: str, relation: str) -> Call:
    path = f"/v1/field-teams/{w.team['id']}"
    return Call("PATCH", path, json={"name": f"Rabat team {secrets.token_hex(3)}"},
                headers={"If-Match": w.etag("admin", path)})


@op("POST /v1/signing-keys/rotate")
def _(w: World, role: str, relation: str) -> Call:
    return Call("POST", "/v1/signing-keys/rotate")


@op("POST /v1/signing-keys/{kid}/revoke")
def _(w: World, role: str, relation: str) -> Call:
    # The administrator's call really withdraws the key: aim it at a key published by a rotation and not
    # signing yet, so the tokens the session's actors hold stay valid (their key only retires).
    if role == "admin":
        w.call("admin", "POST", "/v1/signing-keys/rotate", 201, 409)
    states = w.call("admin", "GET", "/v1/signing-keys")
    pending = [k["kid"] for k in states if k["state"] == "pending"]
    return Call("POST", f"/v1/signing-keys/{pending[0] if pending else states[0]['kid']}/revoke")


# ---- cases: outings, intakes, lists ------------------------------------------------------------------------

@op("POST /v1/outings")
def _(w: World, role: str, relation: str) -> Call:
    return Call("POST", "/v1/outings", headers=idem(), json={
        "field_team_id": w.team["id"], "started_at": ago(90),
        "commune_code": RABAT_COMMUNE if relation == "own" else SALE_COMMUNE})


simple("GET /v1/outings")


@op("GET /v1/outings/{outing_id}")
def _(w: World, role: str, relation: str) -> Call:
    return Call("GET", f"/v1/outings/{w.outings[relation]['id']}")


@op("POST /v1/intakes")
def _(w: World, role: str, relation: str) -> Call:
    return Call("POST", "/v1/intakes", headers=idem(), json={
        "reported_at": ago(30), "source": "field_patrol",
        "commune_code": RABAT_COMMUNE if relation == "own" else SALE_COMMUNE,
        "place_type": "market", "night": False, "exploitation_pattern": "alone",
        "children": [{"description": "A boy alone at the market", "sex": "male", "estimated_age_years": 9}]})


simple("GET /v1/cases", params={"limit": 5})
simple("GET /v1/children", params={"q": "Matrix"})
simple("GET /v1/institutions")
simple("GET /v1/stats/summary", params={"group_by": "sex"})
simple("GET /v1/stats/indicators")
simple("GET /v1/stats/export")


@op("POST /v1/institutions")
def _(w: World, role: str, relation: str) -> Call:
    # A new EPS organisation of the prefecture each time (one institution per EPS; decision 0107).
    prefecture = RABAT if relation == "own" else SALE
    eps = w.d.organization(f"eps-{secrets.token_hex(4)}", type_="eps", territory=prefecture)
    return Call("POST", "/v1/institutions", headers=idem(), json={
        "organization_id": eps["id"], "name": f"EPS {secrets.token_hex(3)}", "prefecture_code": prefecture,
        "places": 5})


def _institution(w: World, relation: str) -> dict[str, Any]:
    return w.institution if relation == "own" else w.sale_institution


@op("GET /v1/institutions/{institution_id}")
def _(w: World, role: str, relation: str) -> Call:
    return Call("GET", f"/v1/institutions/{_institution(w, relation)['id']}")


@op("PATCH /v1/institutions/{institution_id}")
def _(w: World, role: str, relation: str) -> Call:
    path = f"/v1/institutions/{_institution(w, relation)['id']}"
    return Call("PATCH", path, json={"places": 10000 if relation == "own" else 10},
                headers={"If-Match": w.etag("cm@setup", path)})


# ---- cases: one case ---------------------------------------------------------------------------------------

def case_get(sub: str) -> Builder:
    """A read under the shared case in the relation."""
    return lambda w, role, relation: Call("GET", f"/v1/cases/{w.case_for(relation)['id']}{sub}")


for _sub in ("", "/timeline", "/adults", "/filiation-checks", "/assessments", "/care-plans", "/services",
             "/follow-ups", "/judicial-measures", "/placements"):
    OPERATIONS[f"GET /v1/cases/{{case_id}}{_sub}"] = case_get(_sub)


@op("GET /v1/children/{child_id}")
def _(w: World, role: str, relation: str) -> Call:
    return Call("GET", f"/v1/children/{w.case_for(relation)['child_id']}")


@op("PATCH /v1/cases/{case_id}")
def _(w: World, role: str, relation: str) -> Call:
    path = f"/v1/cases/{w.case_for(relation)['id']}"
    return Call("PATCH", path, json={"risk_level": "high"}, headers={"If-Match": w.etag("cm@setup", path)})


@op("POST /v1/cases/{case_id}/transitions")
def _(w: World, role: str, relation: str) -> Call:
    return Call("POST", f"/v1/cases/{w.fresh_case(relation)['id']}/transitions", json={"to": "screened"})


@op("POST /v1/cases/{case_id}/adults")
def _(w: World, role: str, relation: str) -> Call:
    return Call("POST", f"/v1/cases/{w.case_for(relation)['id']}/adults", headers=idem(), json={
        "first_name": "Aunt", "sex": "female", "age": 40, "claimed_relationship": "other_relative"})


@op("POST /v1/cases/{case_id}/filiation-checks")
def _(w: World, role: str, relation: str) -> Call:
    case = w.case_for(relation)
    return Call("POST", f"/v1/cases/{case['id']}/filiation-checks", headers=idem(), json={
        "adult_id": case["adult_id"], "claimed_relationship": "mother", "methods": ["documents"]})


@op("PATCH /v1/cases/{case_id}/filiation-checks/{check_id}")
def _(w: World, role: str, relation: str) -> Call:
    case = w.case_for(relation)
    created = w.gw.post(f"/v1/cases/{case['id']}/filiation-checks", headers=w.actors["police@setup"].headers, json={
        "adult_id": case["adult_id"], "claimed_relationship": "mother", "methods": ["testimony"]})
    assert created.status_code == 201, created.text
    return Call("PATCH", f"/v1/cases/{case['id']}/filiation-checks/{created.json()['id']}",
                json={"result": "confirmed"}, headers={"If-Match": created.headers["etag"]})


@op("POST /v1/cases/{case_id}/assessments")
def _(w: World, role: str, relation: str) -> Call:
    return Call("POST", f"/v1/cases/{w.case_for(relation)['id']}/assessments", headers=idem(),
                json={"type": "rapid_intake", "summary": "First look."})


@op("POST /v1/cases/{case_id}/assessments/{assessment_id}/complete")
def _(w: World, role: str, relation: str) -> Call:
    case_id = w.case_for(relation)["id"]
    made = w.call("cm@setup", "POST", f"/v1/cases/{case_id}/assessments", 201, json={"type": "best_interest"})
    return Call("POST", f"/v1/cases/{case_id}/assessments/{made['id']}/complete")


@op("POST /v1/cases/{case_id}/care-plans")
def _(w: World, role: str, relation: str) -> Call:
    return Call("POST", f"/v1/cases/{w.case_for(relation)['id']}/care-plans", headers=idem(),
                json={"objectives": "School and health."})


@op("POST /v1/cases/{case_id}/care-plans/{plan_id}/validate")
def _(w: World, role: str, relation: str) -> Call:
    case_id = w.case_for(relation)["id"]
    made = w.call("cm@setup", "POST", f"/v1/cases/{case_id}/care-plans", 201, json={"objectives": "A plan."})
    return Call("POST", f"/v1/cases/{case_id}/care-plans/{made['id']}/validate")


@op("POST /v1/cases/{case_id}/services")
def _(w: World, role: str, relation: str) -> Call:
    return Call("POST", f"/v1/cases/{w.case_for(relation)['id']}/services", headers=idem(),
                json={"beneficiary": "child", "service_type": "medical"})


@op("PATCH /v1/cases/{case_id}/services/{service_id}")
def _(w: World, role: str, relation: str) -> Call:
    case_id = w.case_for(relation)["id"]
    made = w.gw.post(f"/v1/cases/{case_id}/services", headers=w.actors["cm@setup"].headers,
                     json={"beneficiary": "mother", "service_type": "legal_aid"})
    assert made.status_code == 201, made.text
    return Call("PATCH", f"/v1/cases/{case_id}/services/{made.json()['id']}", json={"status": "accepted"},
                headers={"If-Match": made.headers["etag"]})


@op("POST /v1/cases/{case_id}/follow-ups")
def _(w: World, role: str, relation: str) -> Call:
    return Call("POST", f"/v1/cases/{w.case_for(relation)['id']}/follow-ups", headers=idem(), json={
        "visited_at": ago(10), "child_seen": True, "next_visit_due": NEXT_WEEK})


@op("POST /v1/cases/{case_id}/placements")
def _(w: World, role: str, relation: str) -> Call:
    return Call("POST", f"/v1/cases/{w.case_for(relation)['id']}/placements", headers=idem(), json={
        "institution_id": w.institution["id"], "order_measure_id": str(uuid.uuid4()), "started_at": ago(1)})


@op("POST /v1/cases/{case_id}/placements/{placement_id}/end")
def _(w: World, role: str, relation: str) -> Call:
    case = w.case_for("own") if relation == "own" else w.fresh_case(relation)
    return Call("POST", f"/v1/cases/{case['id']}/placements/{case.get('placement', uuid.uuid4())}/end")


# ---- referrals ---------------------------------------------------------------------------------------------

simple("GET /v1/referrals", params={"direction": "incoming"})


@op("POST /v1/referrals")
def _(w: World, role: str, relation: str) -> Call:
    # A service referral of a case the caller may or may not see, to the Rabat NGO (or health for the NGO).
    case = w.fresh_case("own") if relation == "own" else w.fresh_case("other")
    target = "health-r" if role == "ngo_worker" else "ngo-r"
    return Call("POST", "/v1/referrals", headers=idem(), json={
        "case_id": case["id"], "target_organization_id": w.org(target), "kind": "service",
        "service_type": "medical", "reason": "Needs a health check."})


def _shared_referral(w: World, role: str, relation: str) -> str | None:
    return w.referrals[relation][role]


@op("GET /v1/referrals/{referral_id}")
def _(w: World, role: str, relation: str) -> Call:
    return Call("GET", f"/v1/referrals/{_shared_referral(w, role, relation)}")


def referral_change(action: str, state: str, body: dict[str, Any] | None) -> Builder:
    """A state change on a fresh referral in the relation, in the state the change starts from."""
    def build(w: World, role: str, relation: str) -> Call:
        referral = w.fresh_referral(role, relation, state)
        headers = idem()
        return Call("POST", f"/v1/referrals/{referral}/{action}", json=body or {}, headers=headers)
    return build


OPERATIONS["POST /v1/referrals/{referral_id}/acknowledge"] = referral_change(
    "acknowledge", "sent", {"external_reference": "FILE-1"})
OPERATIONS["POST /v1/referrals/{referral_id}/accept"] = referral_change("accept", "acknowledged", {})
OPERATIONS["POST /v1/referrals/{referral_id}/reject"] = referral_change("reject", "sent", {"reason": "No capacity."})
OPERATIONS["POST /v1/referrals/{referral_id}/complete"] = referral_change(
    "complete", "accepted", {"outcome": "Delivered."})
OPERATIONS["POST /v1/referrals/{referral_id}/cancel"] = referral_change("cancel", "sent", {"reason": "Sent twice."})
OPERATIONS["POST /v1/referrals/{referral_id}/close"] = referral_change("close", "decided", {"outcome": "Done."})
OPERATIONS["POST /v1/referrals/{referral_id}/decisions"] = referral_change(
    "decisions", "acknowledged_prosecution",
    {"type": "civil_status_regularisation", "concerns": "child", "decided_at": "2026-01-05T10:00:00Z"})


# ---- webhooks and dead letters -----------------------------------------------------------------------------

@op("POST /v1/webhook-subscriptions")
def _(w: World, role: str, relation: str) -> Call:
    return Call("POST", "/v1/webhook-subscriptions", headers=idem(), json={
        "url": "https://93.184.215.14/hook", "events": ["referral.sent", "referral.cancelled"]})


simple("GET /v1/webhook-subscriptions")


@op("GET /v1/webhook-subscriptions/{subscription_id}")
def _(w: World, role: str, relation: str) -> Call:
    return Call("GET", f"/v1/webhook-subscriptions/{w.subscription()}")


@op("DELETE /v1/webhook-subscriptions/{subscription_id}")
def _(w: World, role: str, relation: str) -> Call:
    return Call("DELETE", f"/v1/webhook-subscriptions/{w.subscription()}")


@op("GET /v1/webhook-subscriptions/{subscription_id}/deliveries")
def _(w: World, role: str, relation: str) -> Call:
    return Call("GET", f"/v1/webhook-subscriptions/{w.subscription()}/deliveries")


@op("POST /v1/webhook-subscriptions/{subscription_id}/deliveries/{delivery_id}/redeliver")
def _(w: World, role: str, relation: str) -> Call:
    return Call("POST", f"/v1/webhook-subscriptions/{w.subscription()}/deliveries/{uuid.uuid4()}/redeliver",
                headers=idem())


@op("POST /v1/dead-letters/{event_id}/replay")
def _(w: World, role: str, relation: str) -> Call:
    return Call("POST", f"/v1/dead-letters/{uuid.uuid4()}/replay")



# ---- audit and duplicate review ----------------------------------------------------------------------------

@op("GET /v1/audit")
def _(w: World, role: str, relation: str) -> Call:
    return Call("GET", "/v1/audit", params={"case_id": w.case_for("own")["id"], "limit": 5})


simple("GET /v1/audit/verify")


@op("GET /v1/children/{child_id}/duplicates")
def _(w: World, role: str, relation: str) -> Call:
    return Call("GET", f"/v1/children/{w.case_for(relation)['child_id']}/duplicates")


@op("POST /v1/children/{child_id}/duplicate-reviews")
def _(w: World, role: str, relation: str) -> Call:
    other = w.fresh_case("own")["child_id"]
    return Call("POST", f"/v1/children/{w.case_for(relation)['child_id']}/duplicate-reviews", headers=idem(),
                json={"other_child_id": other, "decision": "not_same", "note": "Different children."})


@op("GET /v1/child-merge-requests")
def _(w: World, role: str, relation: str) -> Call:
    return Call("GET", "/v1/child-merge-requests", params={"status": "pending", "limit": 5})


@op("POST /v1/child-merge-requests/{request_id}/decision")
def _(w: World, role: str, relation: str) -> Call:
    return Call("POST", f"/v1/child-merge-requests/{w.merge_request(relation)}/decision",
                json={"decision": "refuse", "reason": "Not the same child."})


@op("POST /v1/duplicate-reviews/{review_id}/unmerge")
def _(w: World, role: str, relation: str) -> Call:
    return Call("POST", f"/v1/duplicate-reviews/{w.merge(relation)}/unmerge", json={"reason": "Two children."})
