"""The objects the authorisation matrix needs, built through the gateway once per session.

Every matrix actor works in Rabat (prefecture 04.421), each in an organisation of its kind. The objects stand
in the relations of the policy table: a Rabat case nobody was referred (`own`), a Rabat case referred to the
prosecution office, the NGO and the health service and placed in the Rabat EPS (`referred`), and a Salé case
referred and placed the same way (`other`: the territory layer still hides it). Referrals are `received`
(the caller's organisation is the target), `sent` (it is the sender) or `unrelated`. Objects a request would
change are made fresh for each call (`fresh_*`).
"""

from __future__ import annotations

import secrets
import uuid
from datetime import UTC, datetime, timedelta
from typing import Any

from authz.provision import (
    NATIONAL,
    RABAT,
    RABAT_COMMUNE,
    SALE,
    SALE_COMMUNE,
    Actor,
    Directory,
    expect,
    wait_for,
)

ROLES = ("admin", "org_admin", "police_officer", "prosecutor", "court_social_worker", "case_manager",
         "team_coordinator", "focal_point", "eps_staff", "ngo_worker", "steering_viewer", "auditor", "partner_system")
ROLE_ORG = {"org_admin": "cape-r", "police_officer": "police-r", "prosecutor": "prosecution-r",
            "court_social_worker": "prosecution-r", "case_manager": "cape-r", "team_coordinator": "cape-r",
            "focal_point": "health-r", "eps_staff": "eps-r", "ngo_worker": "ngo-r", "steering_viewer": "ministry-r",
            "auditor": "ministry-r"}
# Who acts for the organisation that receives a referral (acknowledges, accepts, decides). A CAPE may be the
# target of a service referral (decision 0051) but none of its roles holds referrals:receive: see the notes.
RECEIVER_OF = {"prosecution-r": "prosecutor", "ngo-r": "ngo_worker", "health-r": "focal_point",
               "eps-r": "eps_staff", "prosecution-s": "prosecutor@sale",
               "ngo-s": "ngo_worker@sale"}


def ago(minutes: int) -> str:
    """An RFC 3339 time `minutes` ago."""
    return (datetime.now(UTC) - timedelta(minutes=minutes)).isoformat()


class World:
    """Actors and fixture objects of the matrix, and factories of fresh ones."""

    def __init__(self, directory: Directory) -> None:
        self.d = directory
        self.gw = directory.gateway
        self.tag = directory.tag
        self._actors()
        self._objects()

    # ---- actors ----------------------------------------------------------------------------------------

    def _actors(self) -> None:
        d = self.d
        for key, type_, territory, court in (
                ("police-r", "police", RABAT, None), ("cape-r", "cape", RABAT, None),
                ("prosecution-r", "prosecution_office", RABAT, "TPI-RAB"), ("ngo-r", "ngo", RABAT, None),
                ("health-r", "health", RABAT, None), ("eps-r", "eps", RABAT, None),
                ("ministry-r", "ministry", RABAT, None), ("setup-police", "police", NATIONAL, None),
                ("setup-cape", "cape", NATIONAL, None), ("prosecution-s", "prosecution_office", SALE, "TPI-SAL"),
                ("ngo-s", "ngo", SALE, None), ("eps-s", "eps", SALE, None), ("patch-me", "ngo", RABAT, None)):
            d.organization(f"{key}", type_=type_, territory=territory, court_code=court)
        me = expect(self.gw.get("/v1/me", headers=d.admin), 200)
        self.actors: dict[str, Actor] = {"admin": Actor(
            name="admin", role="admin", organization_id=uuid.UUID(me["organization"]["id"]),
            organization_type="ministry", territories=me["territories"], token=d.admin_token,
            subject_id=uuid.UUID(me["id"]))}
        for role, org in ROLE_ORG.items():
            self.actors[role] = d.user(f"{role}@matrix", role=role, org=org, territories=[RABAT])
        self.actors["partner_system"] = d.client("partner@matrix", org="prosecution-r", territories=[RABAT])
        self.actors["police@setup"] = d.user("police@setup", role="police_officer", org="setup-police",
                                             territories=[NATIONAL])
        self.actors["cm@setup"] = d.user("cm@setup", role="case_manager", org="setup-cape", territories=[NATIONAL])
        self.actors["prosecutor@sale"] = d.user("prosecutor@sale", role="prosecutor", org="prosecution-s",
                                                territories=[SALE])
        self.actors["ngo_worker@sale"] = d.user("ngo@sale", role="ngo_worker", org="ngo-s", territories=[SALE])
        d.organization("police-s", type_="police", territory=SALE)
        self.actors["police@sale"] = d.user("police@sale", role="police_officer", org="police-s", territories=[SALE])

    def org(self, key: str) -> str:
        """The id of a matrix organisation."""
        return str(self.d.organizations[key]["id"])

    def org_of(self, role: str) -> str:
        """The id of the organisation of the matrix actor of `role`."""
        return str(self.actors[role].organization_id)

    # ---- requests ----------------------------------------------------------------------------------------

    def call(self, actor: str, method: str, path: str, *codes: int, **kwargs: Any) -> Any:
        """A setup request as one of the actors, which must succeed."""
        response = self.gw.request(method, path, headers={**self.actors[actor].headers,
                                                          **kwargs.pop("headers", {})}, **kwargs)
        return expect(response, *(codes or (200, 201, 204)))

    def etag(self, actor: str, path: str) -> str:
        """The current ETag of an object, read by `actor`."""
        response = self.gw.get(path, headers=self.actors[actor].headers)
        expect(response, 200)
        return response.headers["etag"]

    # ---- cases ---------------------------------------------------------------------------------------------

    def intake(self, commune: str, children: int = 1) -> dict[str, Any]:
        """An intake of `children` new children with their mother, recorded by the national case manager."""
        return self.call("cm@setup", "POST", "/v1/intakes", 201, json={
            "reported_at": ago(600), "source": "field_patrol", "commune_code": commune, "place_type": "traffic_light",
            "night": True, "exploitation_pattern": "with_adult", "narrative": "Matrix fixture encounter.",
            "children": [{"first_name": f"Matrix{secrets.token_hex(2)}", "sex": "female", "estimated_age_years": 4}
                         for _ in range(children)],
            "adults": [{"first_name": "Mother", "sex": "female", "age": 30, "claimed_relationship": "mother"}]})

    def cases(self, commune: str, count: int) -> list[dict[str, Any]]:
        """`count` fresh cases (id, child_id, adult_id) in `commune`, status `reported`."""
        intake = self.intake(commune, count)
        return [{"id": c["id"], "child_id": c["child_id"], "adult_id": intake["adult_ids"][0]}
                for c in intake["cases"]]

    def referred_cases(self, commune: str, count: int) -> list[dict[str, Any]]:
        """Fresh cases referred to the Rabat prosecution office, NGO and health service, placed in the Rabat EPS.

        They stay `reported`: a referral only moves a screened case, so transitions can still be tried on them.
        """
        made = self.cases(commune, count)
        for case in made:
            case["prosecution"] = self.referral(case["id"], "prosecution-r", "prosecution")["id"]
            for org in ("ngo-r", "health-r"):
                self.referral(case["id"], org, "service")
            self.call("prosecutor", "POST", f"/v1/referrals/{case['prosecution']}/acknowledge", 200,
                      json={"external_reference": f"PR-{secrets.token_hex(3)}"})
            self.decide(case["prosecution"], {"type": "emergency_placement", "concerns": "child",
                                              "decided_at": ago(5)})
        for case in made:
            measures = wait_for(lambda c=case: [m for m in self.call("cm@setup", "GET",
                                                                     f"/v1/cases/{c['id']}/judicial-measures")
                                                if m["decision_type"] == "emergency_placement"],
                                what="the placement order to reach cases")
            case["placement"] = self.call("cm@setup", "POST", f"/v1/cases/{case['id']}/placements", 201, json={
                "institution_id": self.institution["id"], "order_measure_id": measures[0]["id"],
                "started_at": ago(1)})["id"]
        for case in made:  # the grants arrive through the outbox, with the referral.sent events
            wait_for(lambda c=case: len([e for e in self.call("cm@setup", "GET", f"/v1/cases/{c['id']}/timeline",
                                                               params={"limit": 200})["items"]
                                         if e["event_type"] == "referral.sent"]) == 3,
                     what="the referral grants to reach cases")
        return made

    def case_for(self, relation: str) -> dict[str, Any]:
        """The shared case standing in `relation` to every matrix actor."""
        return self.case_objects[relation]

    def fresh_case(self, relation: str) -> dict[str, Any]:
        """A new case in `relation` (for requests that change it)."""
        pool = self.pools[relation]
        if not pool:
            commune = SALE_COMMUNE if relation == "other" else RABAT_COMMUNE
            pool.extend(self.cases(commune, 8) if relation == "own" else self.referred_cases(commune, 4))
        return pool.pop()

    # ---- duplicate merges (decision 0100) -------------------------------------------------------------------

    def _namesake_cases(self, commune: str, requester: str, name: str) -> tuple[dict[str, Any], dict[str, Any]]:
        """A closed case of a child named `name` in `commune` (recorded by the national case manager), and an
        open case of a namesake recorded by `requester` in its own territory."""
        child = {"first_name": name, "sex": "male", "estimated_age_years": 8}
        first = self.call("cm@setup", "POST", "/v1/intakes", 201, json={
            "reported_at": ago(900), "source": "field_patrol", "commune_code": commune, "place_type": "market",
            "night": False, "exploitation_pattern": "with_adult", "children": [child], "adults": []})["cases"][0]
        self.call("cm@setup", "POST", f"/v1/cases/{first['id']}/transitions", json={"to": "screened"})
        self.call("cm@setup", "POST", f"/v1/cases/{first['id']}/transitions",
                  json={"to": "closed_not_in_scope", "reason": "Matrix fixture"})
        requester_commune = RABAT_COMMUNE if self.actors[requester].territories == [RABAT] else \
            SALE_COMMUNE if self.actors[requester].territories == [SALE] else commune
        second = self.call(requester, "POST", "/v1/intakes", 201, json={
            "reported_at": ago(600), "source": "field_patrol", "commune_code": requester_commune,
            "place_type": "market", "night": False, "exploitation_pattern": "with_adult", "children": [child],
            "adults": []})["cases"][0]
        return first, second

    def merge_request(self, relation: str) -> str:
        """A fresh pending merge request about a child of Rabat (`own`) or of Salé (`other`), asked by a police
        officer of the other prefecture."""
        commune, requester = (RABAT_COMMUNE, "police@sale") if relation == "own" else (SALE_COMMUNE,
                                                                                        "police_officer")
        first, second = self._namesake_cases(commune, requester, f"Merj{secrets.token_hex(3)}")
        review = self.call(requester, "POST", f"/v1/children/{second['child_id']}/duplicate-reviews", 201,
                           json={"other_child_id": first["child_id"], "decision": "same"})
        assert review["outcome"] == "merge_requested", review
        return str(review["merge_request_id"])

    def merge(self, relation: str) -> str:
        """A fresh merge of two namesakes of Rabat (`own`) or of Salé (`other`) by the national case manager."""
        commune = RABAT_COMMUNE if relation == "own" else SALE_COMMUNE
        first, second = self._namesake_cases(commune, "cm@setup", f"Merj{secrets.token_hex(3)}")
        review = self.call("cm@setup", "POST", f"/v1/children/{second['child_id']}/duplicate-reviews", 201,
                           json={"other_child_id": first["child_id"], "decision": "same"})
        assert review["outcome"] == "merged", review
        return str(review["id"])

    # ---- referrals -----------------------------------------------------------------------------------------

    def referral(self, case_id: str, target: str, kind: str, sender: str = "police@setup") -> dict[str, Any]:
        """A referral of `case_id` to organisation `target` (a matrix key)."""
        body = {"case_id": case_id, "target_organization_id": self.org(target), "kind": kind,
                "reason": "Matrix fixture referral."}
        if kind == "service":
            body["service_type"] = "legal_aid"
        return self.call(sender, "POST", "/v1/referrals", 201, json=body)

    def decide(self, referral_id: str, body: dict[str, Any], actor: str = "prosecutor") -> Any:
        """A prosecutor decision on a referral."""
        return self.call(actor, "POST", f"/v1/referrals/{referral_id}/decisions", 201, json=body,
                         headers={"Idempotency-Key": str(uuid.uuid4())})

    def fresh_referral(self, role: str, relation: str, state: str) -> str | None:
        """A new referral in `relation` to the actor of `role`, advanced to `state`; None if not applicable.

        `received`: sent by the national police to the actor's organisation (a prosecution referral to a
        prosecution office, a service referral otherwise); `sent`: sent by the actor's organisation (police to
        the prosecution office, a CAPE to the NGO); `unrelated`: from the national police to Salé.
        """
        org_key = "prosecution-r" if role == "partner_system" else ROLE_ORG.get(role)
        if relation == "received":
            if org_key not in RECEIVER_OF:
                return None
            target, sender = org_key, "police@setup"
        elif relation == "sent":
            if org_key == "police-r":
                target, sender = "prosecution-r", role
            elif org_key == "cape-r":
                target, sender = "ngo-r", "case_manager"
            else:
                return None
        else:
            target, sender = ("prosecution-s" if state in ("acknowledged_prosecution", "decided") else "ngo-s"), \
                "police@setup"
        kind = "prosecution" if target.startswith("prosecution") else "service"
        if state == "acknowledged_prosecution" and kind == "service":
            state = "acknowledged"
        commune = SALE_COMMUNE if relation == "unrelated" else RABAT_COMMUNE
        case_id = self.cases(commune, 1)[0]["id"]
        referral = self.referral(case_id, target, kind, sender=sender)["id"]
        receiver = RECEIVER_OF[target]
        if state in ("acknowledged", "acknowledged_prosecution", "accepted", "decided"):
            self.call(receiver, "POST", f"/v1/referrals/{referral}/acknowledge", 200,
                      json={"external_reference": f"F-{secrets.token_hex(3)}"})
        if state == "accepted" and kind == "service":
            self.call(receiver, "POST", f"/v1/referrals/{referral}/accept", 200, json={})
        if state == "decided" and kind == "prosecution":
            self.decide(referral, {"type": "open_investigation", "concerns": "child", "decided_at": ago(3)},
                        actor=receiver)
        return referral

    # ---- the shared objects --------------------------------------------------------------------------------

    def _objects(self) -> None:
        self.institution = self.call("cm@setup", "POST", "/v1/institutions", 201, json={
            "organization_id": self.org("eps-r"), "name": f"EPS Rabat {self.tag}", "prefecture_code": RABAT,
            "places": 10000, "emergency_vacancies": 10000})
        self.pools: dict[str, list[dict[str, Any]]] = {"own": [], "referred": [], "other": []}
        self.case_objects = {"own": self.cases(RABAT_COMMUNE, 1)[0],
                             "referred": self.referred_cases(RABAT_COMMUNE, 1)[0],
                             "other": self.referred_cases(SALE_COMMUNE, 1)[0]}
        self.team = self.call("admin", "POST", "/v1/field-teams", 201, json={
            "territory_code": RABAT, "name": f"Rabat team {self.tag}",
            "members": [str(self.actors["police_officer"].subject_id)]})
        self.outings = {
            relation: self.call("police@setup", "POST", "/v1/outings", 201, json={
                "field_team_id": self.team["id"], "started_at": ago(300), "ended_at": ago(200),
                "commune_code": commune})
            for relation, commune in (("own", RABAT_COMMUNE), ("other", SALE_COMMUNE))}
        self.sale_institution = self.call("cm@setup", "POST", "/v1/institutions", 201, json={
            "organization_id": self.org("eps-s"), "name": f"EPS Salé {self.tag}", "prefecture_code": SALE,
            "places": 10, "emergency_vacancies": 1})
        self.rotating_client = self.call("admin", "POST", "/v1/clients", 201, json={
            "name": f"rotate-me {self.tag}", "organization_id": self.org("prosecution-r"),
            "scopes": ["referrals:read"], "territories": [RABAT]})
        self.referrals = {
            "received": {role: self.fresh_referral(role, "received", "sent") for role in ROLES},
            "sent": {role: self.fresh_referral(role, "sent", "sent") for role in ROLES},
        }
        unrelated = self.fresh_referral("admin", "unrelated", "sent")
        self.referrals["unrelated"] = dict.fromkeys(ROLES, unrelated)

    def subscription(self) -> str:
        """A new webhook subscription of the Rabat prosecution office (made by its partner system)."""
        return str(self.call("partner_system", "POST", "/v1/webhook-subscriptions", 201, json={
            "url": "https://93.184.215.14/himaya-hook", "events": ["referral.sent"]})["id"])
