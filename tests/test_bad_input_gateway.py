"""The bad input of docs/quality.md on the main POST and PATCH endpoints, through the gateway with the real processes:
every one gets a clear 4xx problem+json, never a 5xx, and nothing changes (counted through the API).

Free text is data: SQL or script in a narrative or a reason is stored and returned verbatim (that is a valid
request), while the same fragments in a field with a format (codes, ids, enumerations) are refused.
"""

from __future__ import annotations

import json
import re
import uuid
from collections.abc import Callable
from typing import Any

import httpx
import pytest

from tests.faults_support import FaultEnv, fault_env_fixture, intake_body, open_case, report

pytestmark = [pytest.mark.stack, pytest.mark.timeout(600)]

SQL = "'); DROP TABLE cases.cases; --"
SCRIPT = "<script>alert(document.cookie)</script>"
HUGE = 3 * 1024 * 1024


@pytest.fixture(scope="session")
def env(request: pytest.FixtureRequest) -> FaultEnv:
    return fault_env_fixture(request)


def nested(depth: int) -> bytes:
    return b'{"narrative": ' + b'{"x": ' * depth + b"1" + b"}" * depth + b"}"


def raw(body: Any) -> bytes:
    return json.dumps(body).encode()


def variants(valid: dict[str, Any], *, wrong_types: dict[str, Any], unknown_enum: dict[str, Any],
             formatted_field: str, text_field: str) -> dict[str, bytes]:
    """The bad-input list applied to one endpoint's valid body."""
    return {
        "huge body": raw({**valid, text_field: "x" * HUGE}),
        "invalid UTF-8": raw(valid)[:-1] + b', "' + text_field.encode() + b'": "\xff\xfe\xc3\x28"}',
        "wrong types": raw({**valid, **wrong_types}),
        "unknown enum value": raw({**valid, **unknown_enum}),
        "unknown fields (mass assignment)": raw({**valid, "status": "closed", "id": str(uuid.uuid4()),
                                                 "created_by": "user:admin"}),
        "SQL in a formatted field": raw({**valid, formatted_field: "04.421' OR '1'='1"}),
        "script in a formatted field": raw({**valid, formatted_field: SCRIPT}),
        "deeply nested JSON": nested(50_000),
        "NUL byte in a string": raw({**valid, text_field: "before\x00after"}),
        "not JSON at all": b"children=2&night=yes",
        "JSON null body": b"null",
        "empty body": b"",
    }


def count_pages(client: httpx.Client, path: str, headers: dict[str, str], **params: Any) -> int:
    """How many objects a list endpoint returns, page by page."""
    total, cursor = 0, None
    while True:
        query = {**params, "limit": 200, **({"cursor": cursor} if cursor else {})}
        page = client.get(path, headers=headers, params=query)
        assert page.status_code == 200, page.text
        body = page.json()
        total += len(body["items"])
        cursor = body["next_cursor"]
        if not cursor:
            return total


def assert_refused(response: httpx.Response, name: str) -> None:
    assert 400 <= response.status_code < 500, (name, response.status_code, response.text[:300])
    assert response.headers["content-type"] == "application/problem+json", name
    problem = response.json()
    assert problem["status"] == response.status_code and problem["code"], name


class Endpoint:
    def __init__(self, name: str, method: str, path: str, actor: str, valid: dict[str, Any],
                 count: Callable[[httpx.Client], Any], **kinds: Any) -> None:
        self.name, self.method, self.path, self.actor, self.valid, self.count = name, method, path, actor, valid, count
        self.kinds = kinds


def endpoints(env: FaultEnv) -> list[Endpoint]:
    a = env.actors
    case_id = open_case(env, 6000)

    def cases(c: httpx.Client) -> int:
        return count_pages(c, "/v1/cases", a.headers("police"))

    def one_case(c: httpx.Client) -> Any:
        response = c.get(f"/v1/cases/{case_id}", headers=a.headers("manager"))
        return response.headers["etag"], response.json()

    def referrals(c: httpx.Client) -> int:
        return count_pages(c, "/v1/referrals", a.headers("police"), direction="outgoing")

    def organizations(c: httpx.Client) -> int:
        return count_pages(c, "/v1/organizations", a.headers("admin"))

    return [
        Endpoint("POST /v1/intakes", "POST", "/v1/intakes", "police", intake_body(6001), cases,
                 wrong_types={"night": "yes", "children": "two"}, unknown_enum={"source": "telepathy"},
                 formatted_field="commune_code", text_field="narrative"),
        Endpoint("PATCH /v1/cases/{id}", "PATCH", f"/v1/cases/{case_id}", "manager", {"risk_level": "high"}, one_case,
                 wrong_types={"trafficking_suspected": "maybe"}, unknown_enum={"risk_level": "apocalyptic"},
                 formatted_field="case_manager_id", text_field="court_code"),
        Endpoint("POST /v1/referrals", "POST", "/v1/referrals", "police", {
            "case_id": case_id, "target_organization_id": a.orgs["prosecution"], "kind": "prosecution",
            "reason": "Infant begging at night", "urgency": "urgent"}, referrals,
                 wrong_types={"urgency": 3}, unknown_enum={"kind": "vigilante"}, formatted_field="case_id",
                 text_field="reason"),
        Endpoint("POST /v1/organizations", "POST", "/v1/organizations", "admin", {
            "name": "Bad input NGO", "type": "ngo", "territory_code": "04.421"}, organizations,
                 wrong_types={"name": ["a"]}, unknown_enum={"type": "cartel"}, formatted_field="territory_code",
                 text_field="name"),
    ]


class TestBadInputOnMainWrites:
    def test_every_bad_input_is_a_clear_4xx_problem_and_changes_nothing(self, env: FaultEnv) -> None:
        tried = 0
        with env.client(timeout=60.0) as client:
            for endpoint in endpoints(env):
                before = endpoint.count(client)
                for name, body in variants(endpoint.valid, **endpoint.kinds).items():
                    headers = env.actors.headers(endpoint.actor, **{"Content-Type": "application/json"})
                    if endpoint.method == "PATCH":
                        headers["If-Match"] = before[0]
                    response = client.request(endpoint.method, endpoint.path, content=body, headers=headers)
                    assert_refused(response, f"{endpoint.name}: {name}")
                    if name == "huge body":
                        assert response.status_code == 413
                    tried += 1
                assert endpoint.count(client) == before, endpoint.name
        report("bad input on the main writes", requests=tried, refused_4xx=tried, changed=0)

    def test_a_huge_chunked_body_is_cut_off_with_413(self, env: FaultEnv) -> None:
        def chunks():
            yield b'{"narrative": "'
            for _ in range(HUGE // 65536):
                yield b"x" * 65536
            yield b'"}'

        with env.client(timeout=60.0) as client:
            before = count_pages(client, "/v1/cases", env.actors.headers("police"))
            response = client.post("/v1/intakes", content=chunks(), headers=env.actors.headers(
                "police", **{"Content-Type": "application/json"}))
            assert response.status_code == 413
            assert count_pages(client, "/v1/cases", env.actors.headers("police")) == before


class TestBadQueries:
    @pytest.mark.parametrize(("path", "params"), [
        ("/v1/cases", {"q": "a\x00b"}),
        ("/v1/cases", {"status": "hacked"}),
        ("/v1/cases", {"age_min": "ten"}),
        ("/v1/cases", {"territory_code": SQL}),
        ("/v1/cases", {"cursor": "not-a-cursor"}),
        ("/v1/cases", {"limit": "100000"}),
        ("/v1/referrals", {"direction": "sideways"}),
        ("/v1/referrals", {"updated_since": "yesterday"}),
        ("/v1/organizations", {"cursor": "%00%ff"}),
    ])
    def test_a_malformed_filter_is_a_4xx_problem(self, env: FaultEnv, path: str, params: dict[str, str]) -> None:
        with env.client() as client:
            assert_refused(client.get(path, params=params, headers=env.actors.headers("police")), f"{path} {params}")

    @pytest.mark.parametrize("q", [SQL, "x' OR 1=1; --", SCRIPT, "%_%", "\\", "ياسين' --"])
    @pytest.mark.parametrize("path", ["/v1/cases", "/v1/children"])
    def test_sql_and_script_in_a_search_are_just_text(self, env: FaultEnv, path: str, q: str) -> None:
        """The fragment finds what its words find (names are matched loosely), never everything, never an error."""
        words = re.sub(r"[^\w\s]", " ", q).strip() or "zzzz"
        with env.client() as client:
            headers = env.actors.headers("police")
            response = client.get(path, params={"q": q}, headers=headers)
            plain = client.get(path, params={"q": words}, headers=headers)
        assert response.status_code == plain.status_code == 200
        items = response.json()["items"] if path == "/v1/cases" else response.json()
        plain_items = plain.json()["items"] if path == "/v1/cases" else plain.json()
        assert sorted(i["id"] if "id" in i else i["child_id"] for i in items) == sorted(
            i["id"] if "id" in i else i["child_id"] for i in plain_items)

    def test_a_nul_in_a_child_search_finds_nobody(self, env: FaultEnv) -> None:
        with env.client() as client:
            response = client.get("/v1/children", params={"q": "a\x00b"}, headers=env.actors.headers("police"))
        assert response.status_code == 200 and response.json() == []


class TestFreeTextIsData:
    def test_sql_and_script_in_a_narrative_are_stored_and_returned_verbatim(self, env: FaultEnv) -> None:
        narrative = f"{SQL} {SCRIPT} \u202e"
        with env.client() as client:
            created = client.post("/v1/intakes", json=intake_body(6100, narrative=narrative),
                                  headers=env.actors.headers("police"))
            assert created.status_code == 201
            assert created.json()["narrative"] == narrative
            assert int(env.iso.psql("SELECT count(*) FROM cases.cases")) > 0  # the table is still there
