"""Organisations, users (org admins confined), field teams, territories and roles."""

from __future__ import annotations

import uuid

import pytest

from himaya.scopes import ROLE_SCOPES


class TestOrganizations:
    async def test_admin_creates_a_prosecution_office_in_rabat(self, client, admin):
        response = await client.post("/v1/organizations", headers=admin, json={
            "name": "Parquet près le TPI de Rabat", "type": "prosecution_office", "territory_code": "04.421",
            "court_code": "TPI-RAB"})
        assert response.status_code == 201, response.text
        assert response.json()["court_code"] == "TPI-RAB"
        assert response.headers["etag"] == '"1"'
        listed = await client.get("/v1/organizations", headers=admin, params={"territory_code": "04"})
        assert response.json()["id"] in [o["id"] for o in listed.json()["items"]]

    async def test_prosecution_office_needs_a_court(self, client, admin):
        response = await client.post("/v1/organizations", headers=admin, json={
            "name": "Parquet", "type": "prosecution_office", "territory_code": "04.421"})
        assert response.status_code == 422

    async def test_unknown_territory_and_unknown_fields_are_refused(self, client, admin):
        unknown = await client.post("/v1/organizations", headers=admin, json={
            "name": "X", "type": "ngo", "territory_code": "04.999"})
        assert unknown.status_code == 422
        extra = await client.post("/v1/organizations", headers=admin, json={
            "name": "X", "type": "ngo", "territory_code": "04.421", "id": str(uuid.uuid4())})
        assert extra.status_code == 422

    async def test_idempotency_key_replays_the_first_response(self, client, admin):
        body = {"name": "Association Bayti", "type": "ngo", "territory_code": "04.421"}
        headers = {**admin, "Idempotency-Key": "org-bayti-1"}
        first = await client.post("/v1/organizations", headers=headers, json=body)
        second = await client.post("/v1/organizations", headers=headers, json=body)
        assert first.status_code == second.status_code == 201
        assert first.json()["id"] == second.json()["id"]
        assert first.content == second.content  # byte-identical, as for every other service
        assert first.headers["etag"] == second.headers["etag"]
        assert second.headers["idempotent-replayed"] == "true"

    async def test_update_needs_if_match(self, client, admin, make_org):
        org = await make_org("ngo")
        missing = await client.patch(f"/v1/organizations/{org['id']}", headers=admin, json={"name": "New"})
        assert missing.status_code == 428
        stale = await client.patch(f"/v1/organizations/{org['id']}", headers={**admin, "If-Match": '"7"'},
                                   json={"name": "New"})
        assert stale.status_code == 412
        ok = await client.patch(f"/v1/organizations/{org['id']}", headers={**admin, "If-Match": '"1"'},
                                json={"name": "New"})
        assert ok.status_code == 200 and ok.json()["name"] == "New" and ok.headers["etag"] == '"2"'

    async def test_non_admin_cannot_create(self, client, as_user):
        _, _, headers = await as_user("police_officer", "police")
        response = await client.post("/v1/organizations", headers=headers, json={
            "name": "X", "type": "ngo", "territory_code": "04.421"})
        assert response.status_code == 403


class TestUsers:
    async def test_admin_creates_a_prosecutor_who_logs_in(self, client, admin, make_org, login):
        org = await make_org("prosecution_office", "04.421", court_code="TPI-RAB")
        response = await client.post("/v1/users", headers=admin, json={
            "username": "k.alaoui", "full_name": "Karima Alaoui", "email": "k.alaoui@example.ma",
            "organization_id": str(org["id"]), "role": "prosecutor", "territories": ["04.421"],
            "password": "Rabat-prosecution-2026"})
        assert response.status_code == 201, response.text
        assert "password" not in response.json()
        tokens = await login("k.alaoui", "Rabat-prosecution-2026")
        me = (await client.get("/v1/me", headers={"Authorization": f"Bearer {tokens['access_token']}"})).json()
        assert me["organization"]["id"] == str(org["id"]) and me["role"] == "prosecutor"
        assert me["territories"] == ["04.421"]
        assert set(me["scopes"]) == {s.value for s in ROLE_SCOPES["prosecutor"]}

    @pytest.mark.parametrize("password", ["short-1", "passwordpassword", "aaaaaaaaaaaaaaa", "x-k.alaoui-2026-long"])
    async def test_password_policy(self, client, admin, make_org, password):
        org = await make_org("police")
        response = await client.post("/v1/users", headers=admin, json={
            "username": "k.alaoui", "full_name": "K", "organization_id": str(org["id"]),
            "role": "police_officer", "territories": ["04.421"], "password": password})
        assert response.status_code == 422
        assert response.json()["code"] == "password_policy"

    async def test_role_must_fit_the_organisation_type(self, client, admin, make_org):
        org = await make_org("ngo")
        response = await client.post("/v1/users", headers=admin, json={
            "username": "ngo.prosecutor", "full_name": "X", "organization_id": str(org["id"]),
            "role": "prosecutor", "territories": ["04.421"], "password": "Sufficiently-long-9"})
        assert response.status_code == 422

    async def test_unknown_territory_is_refused(self, client, admin, make_org):
        org = await make_org("police")
        response = await client.post("/v1/users", headers=admin, json={
            "username": "p.officer", "full_name": "X", "organization_id": str(org["id"]),
            "role": "police_officer", "territories": ["04.999"], "password": "Sufficiently-long-9"})
        assert response.status_code == 422

    async def test_username_is_unique_case_insensitively(self, client, admin, make_org, make_user):
        org = await make_org("police")
        await make_user(org["id"], "police_officer", username="Taken.Name")
        response = await client.post("/v1/users", headers=admin, json={
            "username": "taken.name", "full_name": "X", "organization_id": str(org["id"]),
            "role": "police_officer", "territories": ["04.421"], "password": "Sufficiently-long-9"})
        assert response.status_code == 409

    async def test_password_change_revokes_refresh_tokens(self, client, admin, as_user, login):
        user, _, _ = await as_user("case_manager", "cape")
        tokens = await login(user["username"])
        etag = (await client.get(f"/v1/users/{user['id']}", headers=admin)).headers["etag"]
        patch = await client.patch(f"/v1/users/{user['id']}", headers={**admin, "If-Match": etag},
                                   json={"password": "Another-strong-pass-7"})
        assert patch.status_code == 200
        refresh = await client.post("/v1/auth/token", data={"grant_type": "refresh_token",
                                                            "refresh_token": tokens["refresh_token"]})
        assert refresh.status_code == 401
        assert (await login(user["username"], "Another-strong-pass-7"))["access_token"]


class TestOrgAdminConfined:
    @pytest.fixture
    async def org_admin(self, as_user):
        _, org, headers = await as_user("org_admin", "police", ["04.421"])
        return org, headers

    def body(self, org_id, **over):
        return {"username": f"u{uuid.uuid4().hex[:8]}", "full_name": "Officer", "organization_id": str(org_id),
                "role": "police_officer", "territories": ["04.421"], "password": "Sufficiently-long-9", **over}

    async def test_creates_an_officer_in_own_organisation_and_territory(self, client, org_admin):
        org, headers = org_admin
        response = await client.post("/v1/users", headers=headers, json=self.body(org["id"]))
        assert response.status_code == 201, response.text

    async def test_can_narrow_to_a_commune_of_own_territory(self, client, org_admin):
        org, headers = org_admin
        response = await client.post("/v1/users", headers=headers, json=self.body(org["id"],
                                                                                    territories=["04.421.01"]))
        assert response.status_code == 201, response.text

    async def test_cannot_create_in_another_organisation(self, client, org_admin, make_org):
        _, headers = org_admin
        other = await make_org("police")
        response = await client.post("/v1/users", headers=headers, json=self.body(other["id"]))
        assert response.status_code == 403
        assert response.json()["code"] == "grant_not_allowed"

    async def test_cannot_grant_a_territory_outside_own(self, client, org_admin):
        org, headers = org_admin
        for territories in (["04.441"], ["MA"], ["04"]):
            response = await client.post("/v1/users", headers=headers,
                                         json=self.body(org["id"], territories=territories))
            assert response.status_code == 403, territories

    async def test_cannot_grant_admin(self, client, as_user):
        _, org, headers = await as_user("org_admin", "ministry", ["MA"])
        response = await client.post("/v1/users", headers=headers, json=self.body(
            org["id"], role="admin", territories=["MA"]))
        assert response.status_code == 403

    async def test_sees_only_own_organisation_users(self, client, org_admin, make_org, make_user):
        org, headers = org_admin
        other = await make_org("police")
        stranger = await make_user(other["id"], "police_officer")
        mine = (await client.post("/v1/users", headers=headers, json=self.body(org["id"]))).json()
        listed = (await client.get("/v1/users", headers=headers)).json()["items"]
        assert {u["organization_id"] for u in listed} == {str(org["id"])}
        assert mine["id"] in [u["id"] for u in listed]
        filtered = (await client.get("/v1/users", headers=headers, params={"organization_id": str(other["id"])}))
        assert filtered.json()["items"] == []
        assert (await client.get(f"/v1/users/{stranger['id']}", headers=headers)).status_code == 404
        patch = await client.patch(f"/v1/users/{stranger['id']}", headers={**headers, "If-Match": '"1"'},
                                   json={"active": False})
        assert patch.status_code == 404

    async def test_officer_cannot_manage_users(self, client, as_user):
        _, org, headers = await as_user("police_officer", "police")
        assert (await client.get("/v1/users", headers=headers)).status_code == 403
        response = await client.post("/v1/users", headers=headers, json=self.body(org["id"]))
        assert response.status_code == 403

    async def test_only_admin_manages_clients(self, client, org_admin):
        org, headers = org_admin
        response = await client.post("/v1/clients", headers=headers, json={
            "name": "x", "organization_id": str(org["id"]), "scopes": ["referrals:read"],
            "territories": ["04.421"]})
        assert response.status_code == 403


class TestFieldTeams:
    async def test_admin_builds_the_rabat_team_and_members_see_it(self, client, admin, as_user):
        police, _, police_headers = await as_user("police_officer", "police")
        cape, _, _ = await as_user("case_manager", "cape")
        _, _, outsider = await as_user("ngo_worker", "ngo", ["09.001"], org_territory="09.001")
        response = await client.post("/v1/field-teams", headers=admin, json={
            "territory_code": "04.421", "name": "Équipe de Rabat", "members": [str(police["id"]), str(cape["id"])]})
        assert response.status_code == 201, response.text
        team = response.json()
        assert {m["user_id"] for m in team["members"]} == {str(police["id"]), str(cape["id"])}
        mine = await client.get("/v1/field-teams", headers=police_headers)
        assert [t["id"] for t in mine.json()["items"]] == [team["id"]]
        assert (await client.get("/v1/field-teams", headers=outsider)).json()["items"] == []
        assert (await client.get(f"/v1/field-teams/{team['id']}", headers=outsider)).status_code == 404

    async def test_members_are_replaced_with_if_match(self, client, admin, as_user):
        police, _, _ = await as_user("police_officer", "police")
        team = (await client.post("/v1/field-teams", headers=admin, json={
            "territory_code": "04.421", "name": "Équipe", "members": [str(police["id"])]})).json()
        response = await client.patch(f"/v1/field-teams/{team['id']}", headers={**admin, "If-Match": '"1"'},
                                      json={"members": []})
        assert response.status_code == 200 and response.json()["members"] == []

    async def test_members_must_be_active_users(self, client, admin, seeded):
        response = await client.post("/v1/field-teams", headers=admin, json={
            "territory_code": "04.421", "name": "Équipe", "members": [str(uuid.uuid4())]})
        assert response.status_code == 422

    async def test_police_officer_cannot_create_a_team(self, client, as_user):
        _, _, headers = await as_user("police_officer", "police")
        response = await client.post("/v1/field-teams", headers=headers, json={
            "territory_code": "04.421", "name": "Équipe"})
        assert response.status_code == 403


class TestTerritories:
    async def test_prefectures_of_rabat_sale_kenitra_in_french(self, client, admin):
        response = await client.get("/v1/territories", headers={**admin, "Accept-Language": "fr"},
                                    params={"parent_code": "04", "level": "prefecture"})
        items = response.json()["items"]
        by_code = {t["code"]: t for t in items}
        assert by_code["04.421"]["name"] == by_code["04.421"]["name_fr"]
        assert "Rabat" in by_code["04.421"]["name_fr"]
        assert all(t["parent_code"] == "04" and t["level"] == "prefecture" for t in items)

    async def test_labels_in_arabic(self, client, admin):
        response = await client.get("/v1/territories", headers={**admin, "Accept-Language": "ar"},
                                    params={"level": "region"})
        items = response.json()["items"]
        assert len(items) == 12
        assert all(t["name"] == t["name_ar"] for t in items)

    async def test_pages_with_a_cursor(self, client, admin):
        first = (await client.get("/v1/territories", headers=admin, params={"limit": 50})).json()
        second = (await client.get("/v1/territories", headers=admin,
                                   params={"limit": 50, "cursor": first["next_cursor"]})).json()
        assert first["items"][-1]["code"] < second["items"][0]["code"]

    async def test_needs_a_token(self, client, seeded):
        assert (await client.get("/v1/territories")).status_code == 401


class TestRoles:
    async def test_roles_table_is_role_scopes(self, client, admin):
        body = (await client.get("/v1/roles", headers=admin)).json()
        assert {r["role"]: set(r["scopes"]) for r in body} == {
            role.value: {s.value for s in scopes} for role, scopes in ROLE_SCOPES.items()}


class TestUserDirectoryEntry:
    """What cases asks before assigning a user to a case: no name, username or contact (decision 0107)."""

    async def test_any_directory_reader_gets_the_entry_without_identity(self, client, as_user):
        manager, cape, _ = await as_user("case_manager", "cape")
        _, _, ngo = await as_user("ngo_worker", "ngo")
        response = await client.get(f"/v1/users/{manager['id']}/directory-entry", headers=ngo)
        assert response.status_code == 200, response.text
        assert response.json() == {"id": str(manager["id"]), "organization_id": str(cape["id"]),
                                   "organization_type": "cape", "role": "case_manager",
                                   "territories": ["04.421"], "active": True}
        assert manager["username"] not in response.text and "Test User" not in response.text

    async def test_unknown_user_is_404_and_a_token_is_needed(self, client, as_user):
        _, _, ngo = await as_user("ngo_worker", "ngo")
        assert (await client.get(f"/v1/users/{uuid.uuid4()}/directory-entry", headers=ngo)).status_code == 404
        assert (await client.get(f"/v1/users/{uuid.uuid4()}/directory-entry")).status_code == 401

