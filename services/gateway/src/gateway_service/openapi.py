"""One OpenAPI 3.1 document for the whole API, merged from the services' own documents.

Only the paths the gateway routes to a service are kept (internal endpoints stay internal). Schemas that
two services define differently under one name are renamed with the service's name as prefix and every
`$ref` to them rewritten; identical ones are kept once. Every secured operation uses one OAuth2 password
scheme whose token URL is identity's token endpoint.
"""

from __future__ import annotations

import asyncio
import copy
import time
from collections.abc import Callable, Mapping
from typing import Any

import httpx
import orjson
import structlog

log = structlog.get_logger(__name__)

SECURITY_SCHEME = "OAuth2"
TOKEN_URL = "/v1/auth/token"
REF_PREFIX = "#/components/schemas/"
COMPONENT_KINDS = ("schemas", "responses", "parameters", "examples", "requestBodies", "headers", "links",
                   "callbacks", "pathItems")
HTTP_METHODS = ("get", "put", "post", "delete", "options", "head", "patch", "trace")


def _rewrite_refs(node: Any, renames: Mapping[str, str]) -> Any:
    if isinstance(node, dict):
        out = {}
        for key, value in node.items():
            if key == "$ref" and isinstance(value, str) and value.startswith(REF_PREFIX):
                name = value[len(REF_PREFIX):]
                out[key] = REF_PREFIX + renames.get(name, name)
            else:
                out[key] = _rewrite_refs(value, renames)
        return out
    if isinstance(node, list):
        return [_rewrite_refs(v, renames) for v in node]
    return node


def _schema_renames(docs: Mapping[str, dict[str, Any]]) -> dict[str, dict[str, str]]:
    """Per service, the schema names to prefix so that no two different schemas share a name."""
    renames: dict[str, dict[str, str]] = {svc: {} for svc in docs}
    taken = {name for doc in docs.values() for name in doc.get("components", {}).get("schemas", {})}
    while True:
        seen: dict[str, tuple[str, Any]] = {}
        clashes: set[str] = set()
        for svc, doc in docs.items():
            for name, schema in doc.get("components", {}).get("schemas", {}).items():
                final = renames[svc].get(name, name)
                rewritten = _rewrite_refs(schema, renames[svc])
                if final in seen and seen[final][1] != rewritten:
                    clashes.add(final)
                else:
                    seen.setdefault(final, (svc, rewritten))
        if not clashes:
            return renames
        for svc, doc in docs.items():
            for name in doc.get("components", {}).get("schemas", {}):
                if renames[svc].get(name, name) in clashes:
                    candidate = svc.capitalize() + renames[svc].get(name, name)
                    while candidate in taken:
                        candidate = svc.capitalize() + candidate
                    taken.add(candidate)
                    renames[svc][name] = candidate


def _unify_security(operation: dict[str, Any]) -> None:
    security = operation.get("security")
    if not security:
        return
    scopes = sorted({s for requirement in security for values in requirement.values() for s in values})
    operation["security"] = [{SECURITY_SCHEME: scopes}]


def merge_openapi(docs: Mapping[str, dict[str, Any]], *, own: dict[str, Any], owns_path: Callable[[str, str], bool],
                  title: str, version: str, description: str) -> dict[str, Any]:
    """Merge the services' documents (by service name) with the gateway's own into one OpenAPI 3.1 document."""
    sources = {svc: copy.deepcopy(doc) for svc, doc in docs.items()}
    sources["gateway"] = copy.deepcopy(own)
    renames = _schema_renames(sources)
    merged: dict[str, Any] = {
        "openapi": "3.1.0",
        "info": {"title": title, "version": version, "description": description},
        "paths": {},
        "components": {"securitySchemes": {SECURITY_SCHEME: {
            "type": "oauth2",
            "description": "Access tokens from identity's token endpoint (password or client credentials).",
            "flows": {"password": {"tokenUrl": TOKEN_URL, "scopes": {}},
                      "clientCredentials": {"tokenUrl": TOKEN_URL, "scopes": {}}},
        }}},
        "tags": [],
    }
    tag_names: set[str] = set()
    operation_ids: set[str] = set()
    for svc, doc in sources.items():
        doc = _rewrite_refs(doc, renames[svc])
        for path, item in doc.get("paths", {}).items():
            if svc != "gateway" and not owns_path(svc, path):
                continue
            target = merged["paths"].setdefault(path, {})
            for method, operation in item.items():
                if method in HTTP_METHODS and isinstance(operation, dict):
                    _unify_security(operation)
                    op_id = operation.get("operationId")
                    if op_id is not None:
                        if op_id in operation_ids:
                            op_id = f"{svc}_{op_id}"
                            operation["operationId"] = op_id
                        operation_ids.add(op_id)
                target[method] = operation
        components = doc.get("components", {})
        for kind in COMPONENT_KINDS:
            for name, value in components.get(kind, {}).items():
                final = renames[svc].get(name, name) if kind == "schemas" else name
                merged["components"].setdefault(kind, {}).setdefault(final, value)
        for tag in doc.get("tags", []):
            if tag.get("name") not in tag_names:
                tag_names.add(tag.get("name"))
                merged["tags"].append(tag)
    if not merged["tags"]:
        del merged["tags"]
    return merged


class MergedOpenAPI:
    """The merged document, fetched from the services, cached as bytes and rebuilt when stale."""

    def __init__(self, urls: Mapping[str, str], *, own: Callable[[], dict[str, Any]],
                 owns_path: Callable[[str, str], bool], refresh_seconds: float, title: str, version: str,
                 description: str) -> None:
        self.urls = dict(urls)
        self._own = own
        self._owns_path = owns_path
        self._refresh_seconds = refresh_seconds
        self._title, self._version, self._description = title, version, description
        self._docs: dict[str, dict[str, Any]] = {}
        self._body: bytes | None = None
        self._built_at = 0.0
        self._lock = asyncio.Lock()
        self._task: asyncio.Task[None] | None = None
        self.missing: list[str] = list(urls)

    async def refresh(self, client: httpx.AsyncClient) -> None:
        """Fetch every service's document (keeping the last good copy of one that fails) and rebuild."""
        async with self._lock:
            async def fetch(name: str, url: str) -> tuple[str, dict[str, Any] | None]:
                try:
                    response = await client.get(url + "/openapi.json", timeout=5.0)
                    response.raise_for_status()
                    return name, response.json()
                except (httpx.HTTPError, ValueError) as exc:
                    log.warning("openapi_fetch_failed", upstream=name, error=type(exc).__name__)
                    return name, None

            for name, doc in await asyncio.gather(*(fetch(n, u) for n, u in self.urls.items())):
                if doc is not None:
                    self._docs[name] = doc
            self.missing = [n for n in self.urls if n not in self._docs]
            description = self._description
            if self.missing:
                description += "\n\nNot yet available from: " + ", ".join(self.missing) + "."
            merged = merge_openapi(self._docs, own=self._own(), owns_path=self._owns_path, title=self._title,
                                   version=self._version, description=description)
            self._body = orjson.dumps(merged)
            self._built_at = time.monotonic()

    async def body(self, client: httpx.AsyncClient) -> bytes:
        """The document's bytes: built now if never built or missing a service (at most once a second, so a
        reader right after start-up gets every operation); otherwise rebuilt in the background when stale."""
        if self._body is None or (self.missing and time.monotonic() - self._built_at > 1.0):
            await self.refresh(client)
        elif time.monotonic() - self._built_at > self._refresh_seconds and (self._task is None or self._task.done()):
            self._task = asyncio.create_task(self.refresh(client))
        assert self._body is not None
        return self._body

    async def close(self) -> None:
        """Wait for a background refresh to finish."""
        if self._task is not None:
            await asyncio.gather(self._task, return_exceptions=True)
