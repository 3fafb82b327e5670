"""The merged OpenAPI document and the docs UI."""

from __future__ import annotations

from typing import Any

import httpx
from openapi_spec_validator import validate

from gateway_service.openapi import merge_openapi


def operations(doc: dict[str, Any]) -> set[tuple[str, str]]:
    methods = {"get", "put", "post", "delete", "patch", "options", "head", "trace"}
    return {(m, p) for p, item in doc["paths"].items() for m in item if m in methods}


class TestMergedDocument:
    async def test_contains_every_routed_operation_of_every_upstream_and_validates(
            self, gw: httpx.AsyncClient, stack: Any) -> None:
        merged = (await gw.get("/openapi.json")).json()
        validate(merged)  # OpenAPI 3.1 (the validator picks the version from the document)
        assert merged["openapi"].startswith("3.1")
        got = operations(merged)
        async with httpx.AsyncClient() as plain:
            for name, served in stack.upstreams.items():
                upstream = (await plain.get(served.url + "/openapi.json")).json()
                for method, path in operations(upstream):
                    if path.startswith("/internal/") or path == "/readyz":
                        assert (method, path) not in got or path == "/readyz"
                    else:
                        assert (method, path) in got, (name, method, path)
        assert ("get", "/healthz") in got and ("get", "/metrics") in got

    async def test_internal_endpoints_are_not_published(self, gw: httpx.AsyncClient) -> None:
        merged = (await gw.get("/openapi.json")).json()
        assert not [p for p in merged["paths"] if p.startswith("/internal/")]

    async def test_clashing_schemas_are_prefixed_and_refs_rewritten(self, gw: httpx.AsyncClient) -> None:
        merged = (await gw.get("/openapi.json")).json()
        schemas = merged["components"]["schemas"]
        assert "Item" not in schemas
        assert schemas["CasesItem"]["properties"]["value"]["type"] == "integer"
        assert schemas["IdentityItem"]["properties"]["value"]["type"] == "string"
        assert "Shared" in schemas  # identical everywhere: kept once, unprefixed
        body = merged["paths"]["/v1/outings/typed"]["put"]["requestBody"]["content"]["application/json"]
        assert body["schema"]["$ref"] == "#/components/schemas/CasesItem"

    async def test_one_oauth2_password_scheme_for_every_secured_operation(self, gw: httpx.AsyncClient) -> None:
        merged = (await gw.get("/openapi.json")).json()
        schemes = merged["components"]["securitySchemes"]
        assert list(schemes) == ["OAuth2"]
        assert schemes["OAuth2"]["flows"]["password"]["tokenUrl"] == "/v1/auth/token"
        secured = [op for item in merged["paths"].values() for op in item.values()
                   if isinstance(op, dict) and "security" in op]
        assert secured
        assert all(op["security"] == [{"OAuth2": []}] for op in secured)

    def test_duplicate_operation_ids_are_made_unique(self) -> None:
        def doc(path: str) -> dict[str, Any]:
            return {"openapi": "3.1.0", "info": {"title": "t", "version": "1"},
                    "paths": {path: {"get": {"operationId": "list_items", "responses": {"200": {
                        "description": "ok"}}}}}}

        merged = merge_openapi({"cases": doc("/v1/cases"), "referrals": doc("/v1/referrals")},
                               own={"paths": {}}, owns_path=lambda svc, p: True, title="t", version="1",
                               description="d")
        ids = [merged["paths"][p]["get"]["operationId"] for p in ("/v1/cases", "/v1/referrals")]
        assert ids == ["list_items", "referrals_list_items"]
        validate(merged)

    def test_an_unreachable_service_is_named_in_the_description(self) -> None:
        merged = merge_openapi({}, own={"paths": {}}, owns_path=lambda s, p: True, title="t", version="1",
                               description="Not yet available from: cases.")
        assert "cases" in merged["info"]["description"]


class TestDocsUI:
    async def test_docs_page_uses_local_assets_and_the_password_flow(self, gw: httpx.AsyncClient) -> None:
        html = (await gw.get("/docs")).text
        assert "/docs/assets/swagger-ui-bundle.js" in html
        assert "/docs/assets/swagger-ui.css" in html
        assert "cdn" not in html.lower()
        assert "/openapi.json" in html
        assert "oauth2RedirectUrl" in html and "/docs/oauth2-redirect" in html
        assets = await gw.get("/docs/assets/swagger-ui-bundle.js")
        assert assets.status_code == 200 and len(assets.content) > 500_000


class TestIncompleteDocumentAtStartup:
    async def test_a_service_that_was_down_at_startup_appears_on_the_next_read(self, monkeypatch):
        """Services start beside the gateway: a reader must not keep getting a document without them."""
        import orjson

        from gateway_service import openapi as openapi_module
        from gateway_service.openapi import MergedOpenAPI

        up = {"cases": False}
        cases_doc = {"openapi": "3.1.0", "info": {"title": "c", "version": "1"},
                     "paths": {"/v1/cases": {"get": {"responses": {"200": {"description": "ok"}}}}}}

        def handler(request: httpx.Request) -> httpx.Response:
            return httpx.Response(200, json=cases_doc) if up["cases"] else httpx.Response(503)

        clock = [100.0]
        monkeypatch.setattr(openapi_module.time, "monotonic", lambda: clock[0])
        merged = MergedOpenAPI({"cases": "http://cases"}, own=lambda: {"paths": {}},
                               owns_path=lambda svc, path: True, refresh_seconds=300, title="t", version="1",
                               description="d")
        async with httpx.AsyncClient(transport=httpx.MockTransport(handler)) as client:
            assert orjson.loads(await merged.body(client))["paths"] == {}
            up["cases"] = True
            clock[0] += 2
            assert "/v1/cases" in orjson.loads(await merged.body(client))["paths"]
            assert merged.missing == []
