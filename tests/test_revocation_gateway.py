"""Revocation takes effect at every service within seconds (decision 0103).

A user's or client's token keeps working until it expires unless every verifier learns of the change. Each
attack here holds a token that worked, has the administrator deactivate its user, narrow its role, revoke its
client or withdraw its signing key, and then sends the same token through the gateway and straight to each
service: within a bounded wait, everyone answers 401 with a problem and nothing of the data behind it.

The processes run on their own Postgres (an isolated stack): the emergency key revocation withdraws the key
that signed every token of the session, which the shared stack's other suites still hold.
"""

from __future__ import annotations

import secrets
import uuid
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest
from authz.provision import PARTNER_SCOPES, RABAT, SALE, expect, wait_for

from tests.faults_support import IsolatedStack, isolated_stack

# Read endpoints of each service that these callers may use; what a refusal must never carry.
PROBES = {"identity": "/v1/me", "cases": "/v1/cases", "referrals": "/v1/referrals"}


@pytest.fixture(scope="module")
def env(tmp_path_factory: pytest.TempPathFactory) -> Iterator[IsolatedStack]:
    with isolated_stack(Path(tmp_path_factory.mktemp("revocation"))) as running:
        yield running


@pytest.fixture(scope="module")
def gw(env: IsolatedStack) -> Iterator[httpx.Client]:
    with httpx.Client(base_url=env.url("gateway"), timeout=15.0) as client:
        yield client


def login(gw: httpx.Client, username: str, password: str) -> dict[str, Any]:
    body: dict[str, Any] = expect(gw.post("/v1/auth/token", data={
        "grant_type": "password", "username": username, "password": password}), 200)
    return body


def bearer(token: str) -> dict[str, str]:
    return {"Authorization": f"Bearer {token}"}


def admin_token(env: IsolatedStack, gw: httpx.Client) -> str:
    return str(login(gw, "admin", env.config.secrets["admin_password"])["access_token"])


def organization(gw: httpx.Client, admin: str, type_: str) -> str:
    body = expect(gw.post("/v1/organizations", headers=bearer(admin), json={
        "name": f"{type_} {secrets.token_hex(4)}", "type": type_, "territory_code": RABAT}), 201)
    return str(body["id"])


def new_user(gw: httpx.Client, admin: str, *, role: str, org_type: str,
             territories: list[str]) -> tuple[dict[str, Any], str]:
    password = secrets.token_urlsafe(18)
    user = expect(gw.post("/v1/users", headers=bearer(admin), json={
        "username": f"rev-{secrets.token_hex(4)}", "full_name": "Revocation Test",
        "organization_id": organization(gw, admin, org_type), "role": role, "territories": territories,
        "password": password}), 201)
    return user, password


def answers(env: IsolatedStack, token: str) -> dict[str, httpx.Response]:
    """The probe of every service, through the gateway and straight to the service."""
    out = {}
    for service, path in PROBES.items():
        out[f"gateway {path}"] = httpx.get(env.url("gateway") + path, headers=bearer(token), timeout=15.0)
        out[f"{service} {path}"] = httpx.get(env.url(service) + path, headers=bearer(token), timeout=15.0)
    return out


def assert_works(env: IsolatedStack, token: str) -> None:
    for where, response in answers(env, token).items():
        assert response.status_code == 200, (where, response.status_code, response.text[:300])


def refused_everywhere(env: IsolatedStack, token: str) -> dict[str, httpx.Response] | None:
    responses = answers(env, token)
    return responses if all(r.status_code == 401 for r in responses.values()) else None


def assert_refused_everywhere(env: IsolatedStack, token: str, *, what: str) -> None:
    responses = wait_for(lambda: refused_everywhere(env, token), what=what, timeout=20.0, interval=0.2)
    for where, response in responses.items():
        assert response.headers["content-type"].startswith("application/problem+json"), where
        body = response.json()
        assert body["status"] == 401 and "items" not in body and "username" not in body, (where, body)


def test_deactivated_user_is_refused_everywhere(env: IsolatedStack, gw: httpx.Client) -> None:
    admin = admin_token(env, gw)
    user, password = new_user(gw, admin, role="case_manager", org_type="cape", territories=[RABAT])
    tokens = login(gw, user["username"], password)
    assert_works(env, tokens["access_token"])
    # Every process keeps its list current, and says how old it is.
    for service in ("gateway", "identity", "cases", "referrals"):
        gauge = next(line for line in httpx.get(env.url(service) + "/metrics").text.splitlines()
                     if line.startswith("himaya_revocations_staleness_seconds "))
        assert float(gauge.split()[1]) >= 0, (service, gauge)

    current = gw.get(f"/v1/users/{user['id']}", headers=bearer(admin))
    expect(gw.patch(f"/v1/users/{user['id']}", headers={**bearer(admin), "If-Match": current.headers["etag"]},
                    json={"active": False}), 200)

    assert_refused_everywhere(env, tokens["access_token"], what="the deactivated user's token to be refused")
    # Its refresh token and its password are dead too.
    expect(gw.post("/v1/auth/token", data={"grant_type": "refresh_token",
                                            "refresh_token": tokens["refresh_token"]}), 400, 401)
    expect(gw.post("/v1/auth/token", data={"grant_type": "password", "username": user["username"],
                                            "password": password}), 400, 401)
    # The feed names the user by id only, and the gateway does not route it.
    feed = httpx.get(env.url("identity") + "/internal/v1/revocations", timeout=15.0).json()
    assert any(e["subject"] == f"user:{user['id']}" for e in feed["entries"])
    assert user["username"] not in str(feed)
    assert gw.get("/internal/v1/revocations").status_code == 401
    assert gw.get("/internal/v1/revocations", headers=bearer(admin)).status_code == 404


def test_narrowed_role_refuses_old_token_and_new_login_carries_the_narrower_scopes(
        env: IsolatedStack, gw: httpx.Client) -> None:
    admin = admin_token(env, gw)
    user, password = new_user(gw, admin, role="team_coordinator", org_type="cape", territories=[RABAT, SALE])
    old = login(gw, user["username"], password)
    assert "care_plans:validate" in old["scope"].split()
    assert_works(env, old["access_token"])

    current = gw.get(f"/v1/users/{user['id']}", headers=bearer(admin))
    expect(gw.patch(f"/v1/users/{user['id']}", headers={**bearer(admin), "If-Match": current.headers["etag"]},
                    json={"role": "case_manager", "territories": [RABAT]}), 200)

    assert_refused_everywhere(env, old["access_token"], what="the token of the former role to be refused")
    # Logging in again at once works, with the new role's scopes and territories only.
    new = login(gw, user["username"], password)
    assert "care_plans:validate" not in new["scope"].split()
    assert_works(env, new["access_token"])
    me = expect(gw.get("/v1/me", headers=bearer(new["access_token"])), 200)
    assert me["role"] == "case_manager" and me["territories"] == [RABAT]
    # The old token stays refused after the new login.
    assert refused_everywhere(env, old["access_token"]) is not None


def test_revoked_client_is_refused_everywhere(env: IsolatedStack, gw: httpx.Client) -> None:
    admin = admin_token(env, gw)
    org = expect(gw.post("/v1/organizations", headers=bearer(admin), json={
        "name": f"prosecution {secrets.token_hex(4)}", "type": "prosecution_office", "territory_code": RABAT,
        "court_code": "TPI-RAB"}), 201)
    client = expect(gw.post("/v1/clients", headers=bearer(admin), json={
        "name": f"partner {secrets.token_hex(4)}", "organization_id": org["id"], "scopes": PARTNER_SCOPES,
        "territories": [RABAT]}), 201)
    credentials = (client["client_id"], client["client_secret"])
    token = expect(gw.post("/v1/auth/token", data={"grant_type": "client_credentials"}, auth=credentials),
                   200)["access_token"]
    for service in ("cases", "referrals"):
        path = PROBES[service]
        assert httpx.get(env.url("gateway") + path, headers=bearer(token)).status_code == 200
        assert httpx.get(env.url(service) + path, headers=bearer(token)).status_code == 200

    current = gw.get(f"/v1/clients/{client['client_id']}", headers=bearer(admin))
    expect(gw.patch(f"/v1/clients/{client['client_id']}",
                    headers={**bearer(admin), "If-Match": current.headers["etag"]}, json={"active": False}), 200)

    assert_refused_everywhere(env, token, what="the revoked client's token to be refused")
    expect(gw.post("/v1/auth/token", data={"grant_type": "client_credentials"}, auth=credentials), 401)


def test_emergency_key_revocation(env: IsolatedStack, gw: httpx.Client) -> None:
    admin = admin_token(env, gw)
    user, password = new_user(gw, admin, role="case_manager", org_type="cape", territories=[RABAT])
    before = login(gw, user["username"], password)["access_token"]
    assert_works(env, before)
    states = expect(gw.get("/v1/signing-keys", headers=bearer(admin)), 200)
    kid = next(k["kid"] for k in states if k["state"] == "signing")

    # Only a national administrator may do it, and an unknown key is a 404.
    expect(gw.post(f"/v1/signing-keys/{kid}/revoke", headers=bearer(before)), 403)
    expect(gw.post("/v1/signing-keys/20260101-000000000000/revoke", headers=bearer(admin)), 404)

    after_states = expect(gw.post(f"/v1/signing-keys/{kid}/revoke", headers=bearer(admin)), 200)
    assert kid not in {k["kid"] for k in after_states}
    new_kid = next(k["kid"] for k in after_states if k["state"] == "signing")
    assert new_kid != kid
    jwks = expect(gw.get("/.well-known/jwks.json"), 200)
    assert kid not in {k["kid"] for k in jwks["keys"]} and new_kid in {k["kid"] for k in jwks["keys"]}

    # Every token the key signed is refused everywhere, the administrator's own included.
    assert_refused_everywhere(env, before, what="tokens of the revoked key to be refused")
    assert refused_everywhere(env, admin) is not None
    expect(gw.post(f"/v1/signing-keys/{kid}/revoke", headers=bearer(admin)), 401)

    # New logins are signed by the new key and work at every service; the revocation cannot be repeated.
    fresh = login(gw, user["username"], password)["access_token"]
    assert fresh != before
    wait_for(lambda: all(r.status_code == 200 for r in answers(env, fresh).values()),
             what="a token of the new key to be accepted everywhere", timeout=40.0, interval=0.3)
    admin_again = admin_token(env, gw)
    expect(gw.post(f"/v1/signing-keys/{kid}/revoke", headers=bearer(admin_again)), 409)
    assert uuid.UUID(user["id"])  # the user was never touched: only the key was


def test_emergency_key_revocation_from_the_command_line(env: IsolatedStack, gw: httpx.Client,
                                                        monkeypatch: pytest.MonkeyPatch,
                                                        capsys: pytest.CaptureFixture[str]) -> None:
    """For when no administrator can log in: the command withdraws the key the same way."""
    from identity_service import revoke_key

    admin = admin_token(env, gw)
    user, password = new_user(gw, admin, role="case_manager", org_type="cape", territories=[RABAT])
    before = login(gw, user["username"], password)["access_token"]
    wait_for(lambda: all(r.status_code == 200 for r in answers(env, before).values()),
             what="the user's token to be accepted everywhere", timeout=40.0, interval=0.3)
    for name, value in env.config.env().items():
        if name.startswith("IDENTITY_") or name == "HIMAYA_ENV":
            monkeypatch.setenv(name, value)
    assert revoke_key.main([]) == 0
    kid = next(line.split()[0] for line in capsys.readouterr().out.splitlines() if " signing " in line)
    assert revoke_key.main([kid]) == 0
    assert kid in capsys.readouterr().out

    assert_refused_everywhere(env, before, what="tokens of the key withdrawn from the command line to be refused")
    assert kid not in {k["kid"] for k in expect(gw.get("/.well-known/jwks.json"), 200)["keys"]}
    assert revoke_key.main([kid]) == 1  # already revoked
    fresh = login(gw, user["username"], password)["access_token"]
    wait_for(lambda: all(r.status_code == 200 for r in answers(env, fresh).values()),
             what="a token of the new key to be accepted everywhere", timeout=40.0, interval=0.3)
