"""The token endpoint's grants, refresh rotation, revocation, and /v1/me."""

from __future__ import annotations

import base64

import jwt
import pytest
import sqlalchemy as sa

from himaya.scopes import ROLE_SCOPES, Role
from identity_service.core.access import ORG_TYPE_ROLES, USER_ROLES
from identity_service.core.tables import audit_events

ADMIN_PASSWORD = "bootstrap-Root-pass-2026"
PASSWORD = "Sufficiently-long-9"
ROLE_ORG = {role: next(t.value for t, roles in ORG_TYPE_ROLES.items() if role in roles) for role in USER_ROLES
            if role != Role.ORG_ADMIN}
ROLE_ORG[Role.ORG_ADMIN] = "ngo"


def bearer(token: str) -> dict[str, str]:
    return {"Authorization": f"Bearer {token}"}


def claims_of(token: str) -> dict:
    return jwt.decode(token, options={"verify_signature": False})


class TestPasswordGrant:
    async def test_admin_logs_in_with_bootstrap_password(self, client, seeded, login):
        tokens = await login("admin", ADMIN_PASSWORD)
        assert tokens["token_type"] == "Bearer"
        assert tokens["expires_in"] == 600
        assert tokens["refresh_token"]
        claims = claims_of(tokens["access_token"])
        assert claims["iss"] == "himaya-identity" and claims["aud"] == "himaya"
        assert claims["role"] == "admin" and claims["territories"] == ["MA"]
        assert claims["typ"] == "access" and claims["preferred_username"] == "admin"
        assert claims["exp"] - claims["iat"] == 600
        assert claims["sub"].startswith("user:") and claims["org_type"] == "ministry"
        assert jwt.get_unverified_header(tokens["access_token"])["alg"] == "EdDSA"

    async def test_token_response_is_not_cached(self, client, seeded):
        response = await client.post("/v1/auth/token", data={"grant_type": "password", "username": "admin",
                                                             "password": ADMIN_PASSWORD})
        assert response.headers["cache-control"] == "no-store"

    async def test_wrong_password_is_invalid_grant_problem(self, client, seeded):
        response = await client.post("/v1/auth/token", data={"grant_type": "password", "username": "admin",
                                                             "password": "wrong-password-123"})
        assert response.status_code == 401
        assert response.headers["content-type"].startswith("application/problem+json")
        assert response.json()["code"] == "invalid_grant"
        assert response.json()["error"] == "invalid_grant"

    async def test_unknown_user_answers_like_wrong_password(self, client, seeded):
        response = await client.post("/v1/auth/token", data={"grant_type": "password", "username": "nobody",
                                                             "password": "wrong-password-123"})
        assert response.status_code == 401
        assert response.json()["code"] == "invalid_grant"

    async def test_unsupported_grant_type(self, client, seeded):
        response = await client.post("/v1/auth/token", data={"grant_type": "implicit"})
        assert response.status_code == 400
        assert response.json()["code"] == "unsupported_grant_type"

    async def test_json_body_is_refused(self, client, seeded):
        response = await client.post("/v1/auth/token", json={"grant_type": "password"})
        assert response.status_code == 422


class TestEveryRoleScopes:
    @pytest.mark.parametrize("role", sorted(r.value for r in USER_ROLES))
    async def test_user_token_carries_exactly_the_role_scopes(self, client, as_user, role):
        _, org, headers = await as_user(role, ROLE_ORG[Role(role)])
        token = headers["Authorization"].removeprefix("Bearer ")
        claims = claims_of(token)
        assert set(claims["scope"].split()) == {s.value for s in ROLE_SCOPES[Role(role)]}
        assert claims["role"] == role
        assert claims["org"] == str(org["id"]) and claims["org_type"] == org["type"]
        me = await client.get("/v1/me", headers=headers)
        assert me.status_code == 200
        assert set(me.json()["scopes"]) == {s.value for s in ROLE_SCOPES[Role(role)]}


class TestRefreshTokens:
    async def test_refresh_rotates_the_refresh_token(self, client, seeded, login):
        first = await login("admin", ADMIN_PASSWORD)
        response = await client.post("/v1/auth/token", data={"grant_type": "refresh_token",
                                                             "refresh_token": first["refresh_token"]})
        assert response.status_code == 200, response.text
        second = response.json()
        assert second["refresh_token"] != first["refresh_token"]
        assert claims_of(second["access_token"])["role"] == "admin"
        assert (await client.get("/v1/me", headers=bearer(second["access_token"]))).status_code == 200

    async def test_reusing_a_spent_refresh_token_revokes_the_family(self, client, seeded, login):
        first = await login("admin", ADMIN_PASSWORD)
        rotated = (await client.post("/v1/auth/token", data={"grant_type": "refresh_token",
                                                             "refresh_token": first["refresh_token"]})).json()
        reuse = await client.post("/v1/auth/token", data={"grant_type": "refresh_token",
                                                          "refresh_token": first["refresh_token"]})
        assert reuse.status_code == 401
        assert reuse.json()["code"] == "invalid_grant"
        # The thief's reuse also kills the legitimate holder's newer token.
        after = await client.post("/v1/auth/token", data={"grant_type": "refresh_token",
                                                          "refresh_token": rotated["refresh_token"]})
        assert after.status_code == 401

    async def test_reuse_is_audited(self, client, seeded, db, login):
        first = await login("admin", ADMIN_PASSWORD)
        for _ in range(2):
            await client.post("/v1/auth/token", data={"grant_type": "refresh_token",
                                                      "refresh_token": first["refresh_token"]})
        outcomes = (await db.execute(sa.select(audit_events.c.outcome)
                                     .where(audit_events.c.action == "token.refresh"))).scalars().all()
        assert "reuse_detected" in outcomes

    async def test_unknown_refresh_token_is_refused(self, client, seeded):
        response = await client.post("/v1/auth/token", data={"grant_type": "refresh_token",
                                                             "refresh_token": "not-a-token"})
        assert response.status_code == 401

    async def test_revoked_refresh_token_is_refused(self, client, seeded, login):
        tokens = await login("admin", ADMIN_PASSWORD)
        revoke = await client.post("/v1/auth/revoke", data={"token": tokens["refresh_token"]})
        assert revoke.status_code == 200
        response = await client.post("/v1/auth/token", data={"grant_type": "refresh_token",
                                                             "refresh_token": tokens["refresh_token"]})
        assert response.status_code == 401
        assert response.headers["content-type"].startswith("application/problem+json")

    async def test_revoking_an_unknown_token_answers_200(self, client, seeded):
        assert (await client.post("/v1/auth/revoke", data={"token": "whatever"})).status_code == 200

    async def test_revoke_answers_the_empty_body_its_openapi_documents(self, client, seeded):
        response = await client.post("/v1/auth/revoke", data={"token": "whatever"})
        documented = (await client.get("/openapi.json")).json()["paths"]["/v1/auth/revoke"]["post"]["responses"]
        assert response.content == b""
        assert "content" not in documented["200"]


class TestClientCredentials:
    async def make_client(self, client, admin, make_org, scopes=("referrals:read", "decisions:write")):
        org = await make_org("prosecution_office", "04.421", court_code="TPI-RAB")
        response = await client.post("/v1/clients", headers=admin, json={
            "name": "Prosecution IS", "organization_id": str(org["id"]), "scopes": list(scopes),
            "territories": ["04.421"]})
        assert response.status_code == 201, response.text
        return org, response.json()

    async def test_form_authentication(self, client, admin, make_org):
        org, created = await self.make_client(client, admin, make_org)
        response = await client.post("/v1/auth/token", data={
            "grant_type": "client_credentials", "client_id": created["client_id"],
            "client_secret": created["client_secret"]})
        assert response.status_code == 200, response.text
        body = response.json()
        assert "refresh_token" not in body
        claims = claims_of(body["access_token"])
        assert claims["role"] == "partner_system"
        assert claims["scope"].split() == ["decisions:write", "referrals:read"]
        assert claims["sub"] == f"client:{created['client_id']}"
        assert claims["org"] == str(org["id"]) and claims["org_type"] == "prosecution_office"
        assert claims["territories"] == ["04.421"]
        assert "preferred_username" not in claims

    async def test_basic_authentication(self, client, admin, make_org):
        _, created = await self.make_client(client, admin, make_org)
        basic = base64.b64encode(f"{created['client_id']}:{created['client_secret']}".encode()).decode()
        response = await client.post("/v1/auth/token", data={"grant_type": "client_credentials"},
                                     headers={"Authorization": f"Basic {basic}"})
        assert response.status_code == 200, response.text
        me = await client.get("/v1/me", headers=bearer(response.json()["access_token"]))
        assert me.json()["subject_type"] == "client" and me.json()["name"] == "Prosecution IS"

    async def test_requested_scope_narrows_and_cannot_widen(self, client, admin, make_org):
        _, created = await self.make_client(client, admin, make_org)
        form = {"grant_type": "client_credentials", "client_id": created["client_id"],
                "client_secret": created["client_secret"]}
        narrow = await client.post("/v1/auth/token", data={**form, "scope": "referrals:read"})
        assert claims_of(narrow.json()["access_token"])["scope"] == "referrals:read"
        wide = await client.post("/v1/auth/token", data={**form, "scope": "referrals:read cases:write"})
        assert wide.status_code == 401 and wide.json()["error"] == "invalid_scope"

    async def test_wrong_secret_is_invalid_client(self, client, admin, make_org):
        _, created = await self.make_client(client, admin, make_org)
        response = await client.post("/v1/auth/token", data={
            "grant_type": "client_credentials", "client_id": created["client_id"], "client_secret": "nope"})
        assert response.status_code == 401
        assert response.json()["code"] == "invalid_client"
        assert response.headers["www-authenticate"].startswith("Basic")

    async def test_client_scopes_must_be_partner_system_scopes(self, client, admin, make_org):
        org = await make_org("prosecution_office", "04.421", court_code="TPI-RAB")
        response = await client.post("/v1/clients", headers=admin, json={
            "name": "Too wide", "organization_id": str(org["id"]), "scopes": ["identity:admin"],
            "territories": ["04.421"]})
        assert response.status_code == 422

    async def test_deactivated_client_gets_no_token(self, client, admin, make_org):
        _, created = await self.make_client(client, admin, make_org)
        form = {"grant_type": "client_credentials", "client_id": created["client_id"],
                "client_secret": created["client_secret"]}
        token = (await client.post("/v1/auth/token", data=form)).json()["access_token"]
        current = await client.get(f"/v1/clients/{created['id']}", headers=admin)
        patch = await client.patch(f"/v1/clients/{created['id']}", json={"active": False},
                                   headers={**admin, "If-Match": current.headers["etag"]})
        assert patch.status_code == 200, patch.text
        assert (await client.post("/v1/auth/token", data=form)).status_code == 401
        assert (await client.get("/v1/me", headers=bearer(token))).status_code == 401

    async def test_rotated_secret_overlaps_then_old_one_stops(self, client, admin, make_org):
        _, created = await self.make_client(client, admin, make_org)
        old = {"grant_type": "client_credentials", "client_id": created["client_id"],
               "client_secret": created["client_secret"]}
        rotated = await client.post(f"/v1/clients/{created['id']}/rotate-secret", headers=admin, json={})
        assert rotated.status_code == 200, rotated.text
        new = {**old, "client_secret": rotated.json()["client_secret"]}
        assert rotated.json()["client_secret"] != created["client_secret"]
        assert (await client.post("/v1/auth/token", data=old)).status_code == 200
        assert (await client.post("/v1/auth/token", data=new)).status_code == 200
        again = await client.post(f"/v1/clients/{created['id']}/rotate-secret", headers=admin,
                                  json={"overlap_seconds": 0})
        assert again.status_code == 200
        assert (await client.post("/v1/auth/token", data=old)).status_code == 401
        assert (await client.post("/v1/auth/token", data=new)).status_code == 401
        latest = {**old, "client_secret": again.json()["client_secret"]}
        assert (await client.post("/v1/auth/token", data=latest)).status_code == 200

    async def test_secret_is_stored_hashed(self, client, admin, make_org, db):
        _, created = await self.make_client(client, admin, make_org)
        dump = (await db.execute(sa.text("SELECT string_agg(encode(secret_hash, 'escape'), '') "
                                         "FROM identity.client_secrets"))).scalar()
        assert created["client_secret"] not in (dump or "")


class TestMe:
    async def test_me_shows_organisation_role_scopes_and_territories(self, client, as_user):
        user, org, headers = await as_user("prosecutor", "prosecution_office", ["04.421", "04.441"])
        me = (await client.get("/v1/me", headers=headers)).json()
        assert me["subject"] == f"user:{user['id']}" and me["username"] == user["username"]
        assert me["role"] == "prosecutor"
        assert me["territories"] == ["04.421", "04.441"]
        assert me["organization"]["id"] == str(org["id"]) and me["organization"]["court_code"] == "TPI-RAB"

    async def test_me_without_token_is_401_problem(self, client, seeded):
        response = await client.get("/v1/me")
        assert response.status_code == 401
        assert response.json()["code"] == "unauthorized"

    async def test_password_of_user_is_never_returned(self, client, admin, as_user):
        user, _, _ = await as_user("police_officer", "police")
        body = (await client.get(f"/v1/users/{user['id']}", headers=admin)).text
        assert "password" not in body and PASSWORD not in body
