"""The authorisation matrix, generated from the policy table in docs/authorization-matrix.md.

Every row of the table (an operation of the merged OpenAPI on an object in one relation) becomes a test that
calls the operation through the gateway as every caller (no token, then one actor per role, all in Rabat) and
compares each answer's status with the table. The table must list every operation of the merged OpenAPI, and
every operation the services publish must be in the merged OpenAPI.
"""

from __future__ import annotations

import json
import os
from typing import Any

import httpx
import pytest
from authz.matrix import CALLERS, Row, matches, rows
from authz.operations import OPERATIONS
from authz.provision import Directory
from authz.world import World

pytestmark = pytest.mark.stack

ROWS = rows()
EXCLUDED_PREFIXES = ("/internal/",)
OPERATIONAL = {"/healthz", "/readyz", "/metrics", "/openapi.json"}
# Set to a file path to write the observed outcomes as JSON lines instead of failing (for drafting rows).
RECORD = os.environ.get("HIMAYA_AUTHZ_RECORD")


def operations(document: dict[str, Any]) -> set[str]:
    """`METHOD /path` of every operation of an OpenAPI document, /internal excluded."""
    return {f"{method.upper()} {path}" for path, item in document["paths"].items()
            for method in item if method in {"get", "post", "put", "patch", "delete"}
            and not path.startswith(EXCLUDED_PREFIXES)}


@pytest.fixture(scope="session")
def world(directory: Directory) -> World:
    """The matrix's actors and objects, built once through the gateway."""
    return World(directory)


class TestTableCoversTheApi:
    def test_every_operation_of_the_merged_openapi_is_in_the_table(self, merged_openapi):
        in_table = {row.operation for row in ROWS}
        assert operations(merged_openapi) - in_table == set(), "operations missing from the policy table"
        assert in_table - operations(merged_openapi) == set(), "rows for operations the API does not have"

    def test_every_row_can_be_called(self):
        assert {row.operation for row in ROWS} - set(OPERATIONS) == set()

    def test_every_operation_a_service_publishes_is_reachable_through_the_gateway(self, stack, merged_openapi):
        merged = operations(merged_openapi)
        for service in ("identity", "cases", "referrals"):
            # Straight to the service: only to compare what it publishes with what the gateway serves.
            own = httpx.get(stack.config.base_url(service) + "/openapi.json", timeout=10).json()
            published = {o for o in operations(own) if o.split(" ", 1)[1] not in OPERATIONAL}
            assert published - merged == set(), f"{service} operations the gateway does not serve"


def _send(gateway: httpx.Client, world: World, row: Row, caller: str) -> httpx.Response:
    call = OPERATIONS[row.operation](world, "admin" if caller == "anonymous" else caller, row.relation)
    headers = dict(call.headers)
    if caller != "anonymous":
        headers.update(world.actors[caller].headers)
    return gateway.request(call.method, call.path, json=call.json, data=call.data, params=call.params,
                           headers=headers)


@pytest.mark.parametrize("row", ROWS, ids=[r.id for r in ROWS])
def test_matrix(row: Row, world: World, directory: Directory):
    gateway = directory.gateway
    disagreements = []
    observed = {}
    for caller in CALLERS:
        expected = row.expected[caller]
        if expected == "-" and not RECORD:
            continue
        response = _send(gateway, world, row, caller)
        observed[caller] = response.status_code
        assert response.status_code < 500, f"{row.id} as {caller}: {response.status_code} {response.text[:300]}"
        if expected != "-" and not matches(expected, response.status_code):
            disagreements.append(f"{caller}: table {expected}, got {response.status_code} "
                                 f"{response.text[:160]}")
    if RECORD:
        with open(RECORD, "a", encoding="utf-8") as out:
            out.write(json.dumps({"operation": row.operation, "relation": row.relation, "observed": observed}) + "\n")
        return
    assert not disagreements, f"{row.id}:\n" + "\n".join(disagreements)
