"""Organisations, users and machine clients created through the gateway as the administrator, one token each.

Cross-service tests act as real people would: each actor is a user (or a partner system's client) of an
organisation with a role and territories, and gets its token from `POST /v1/auth/token` like anyone else.
"""

from __future__ import annotations

import secrets
import time
import uuid
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

import httpx

RABAT, RABAT_COMMUNE = "04.421", "04.421.01"
SALE, SALE_COMMUNE = "04.441", "04.441.01"
MARRAKECH, MARRAKECH_COMMUNE = "07.351", "07.351.01"
NATIONAL = "MA"
PARTNER_SCOPES = ["directory:read", "cases:read", "referrals:read", "referrals:receive", "decisions:write",
                  "webhooks:manage"]


def expect(response: httpx.Response, *codes: int) -> Any:
    """The JSON body of a response whose status is one of `codes` (a readable failure otherwise)."""
    assert response.status_code in codes, f"{response.request.method} {response.request.url} -> " \
                                          f"{response.status_code}: {response.text[:800]}"
    if not response.content:
        return None
    return response.json() if "json" in response.headers.get("content-type", "") else response.text


def wait_for(check: Callable[[], Any], *, what: str, timeout: float = 20.0, interval: float = 0.1) -> Any:
    """Poll `check` until it returns something truthy (events travel through the outbox): bounded, never timed."""
    deadline = time.monotonic() + timeout
    while True:
        value = check()
        if value:
            return value
        if time.monotonic() > deadline:
            raise AssertionError(f"gave up waiting for {what}")
        time.sleep(interval)


@dataclass
class Actor:
    """One caller: its organisation, role, territories and access token."""

    name: str
    role: str
    organization_id: uuid.UUID
    organization_type: str
    territories: list[str]
    token: str
    subject_id: uuid.UUID

    @property
    def headers(self) -> dict[str, str]:
        """The Authorization header of this actor."""
        return {"Authorization": f"Bearer {self.token}"}

    @property
    def subject(self) -> str:
        """The `sub` claim of the actor's tokens (what audit events name)."""
        return f"{'client' if self.role == 'partner_system' else 'user'}:{self.subject_id}"


@dataclass
class Directory:
    """Creates organisations and actors through the gateway with the administrator's token."""

    gateway: httpx.Client
    admin_token: str
    tag: str = field(default_factory=lambda: secrets.token_hex(3))
    organizations: dict[str, dict[str, Any]] = field(default_factory=dict)
    actors: dict[str, Actor] = field(default_factory=dict)

    @property
    def admin(self) -> dict[str, str]:
        """The administrator's Authorization header."""
        return {"Authorization": f"Bearer {self.admin_token}"}

    def organization(self, key: str, *, type_: str, territory: str, court_code: str | None = None) -> dict[str, Any]:
        """The organisation named `key` (created once)."""
        if key not in self.organizations:
            body = {"name": f"{key} {self.tag}", "type": type_, "territory_code": territory}
            if court_code:
                body["court_code"] = court_code
            self.organizations[key] = expect(self.gateway.post("/v1/organizations", json=body, headers=self.admin),
                                             201)
        return self.organizations[key]

    def user(self, name: str, *, role: str, org: str, territories: list[str]) -> Actor:
        """A user with `role` in organisation `org`, logged in through the gateway."""
        if name in self.actors:
            return self.actors[name]
        organization = self.organizations[org]
        username = f"{name.replace('@', '-')}-{self.tag}"[:60]
        password = secrets.token_urlsafe(18)
        created = expect(self.gateway.post("/v1/users", headers=self.admin, json={
            "username": username, "full_name": f"Test {name}", "organization_id": organization["id"],
            "role": role, "territories": territories, "password": password}), 201)
        token = expect(self.gateway.post("/v1/auth/token", data={
            "grant_type": "password", "username": username, "password": password}), 200)
        actor = Actor(name=name, role=role, organization_id=uuid.UUID(organization["id"]),
                      organization_type=organization["type"], territories=territories,
                      token=token["access_token"], subject_id=uuid.UUID(created["id"]))
        self.actors[name] = actor
        return actor

    def client(self, name: str, *, org: str, territories: list[str], scopes: list[str] | None = None) -> Actor:
        """A partner system's machine client, authenticated with client credentials (HTTP Basic)."""
        if name in self.actors:
            return self.actors[name]
        organization = self.organizations[org]
        created = expect(self.gateway.post("/v1/clients", headers=self.admin, json={
            "name": f"{name} {self.tag}", "organization_id": organization["id"],
            "scopes": scopes or PARTNER_SCOPES, "territories": territories}), 201)
        token = expect(self.gateway.post("/v1/auth/token", data={"grant_type": "client_credentials"},
                                         auth=(created["client_id"], created["client_secret"])), 200)
        actor = Actor(name=name, role="partner_system", organization_id=uuid.UUID(organization["id"]),
                      organization_type=organization["type"], territories=territories,
                      token=token["access_token"], subject_id=uuid.UUID(created["client_id"]))
        self.actors[name] = actor
        return actor
