"""Organisation administrators through the gateway: they manage only what they cover before and after a change,
never an administrator's account, and never hold a working credential of an account that reaches case data."""

import secrets
from typing import Any

import httpx
import pytest
from authz.provision import NATIONAL, RABAT, Actor, Directory, expect

pytestmark = pytest.mark.stack


def _password() -> str:
    return secrets.token_urlsafe(18)


def _login(gateway: httpx.Client, username: str, password: str) -> httpx.Response:
    return gateway.post("/v1/auth/token", data={"grant_type": "password", "username": username, "password": password})


def _patch(gateway: httpx.Client, actor_headers: dict[str, str], user_id: str, body: dict[str, Any],
           admin: dict[str, str]) -> httpx.Response:
    path = f"/v1/users/{user_id}"
    read = gateway.get(path, headers=admin)
    expect(read, 200)
    etag = read.headers["etag"]
    return gateway.patch(path, json=body, headers={**actor_headers, "If-Match": etag})


def _user(gateway: httpx.Client, directory: Directory, user_id: str | Any) -> dict[str, Any]:
    return expect(gateway.get(f"/v1/users/{user_id}", headers=directory.admin), 200)  # type: ignore[no-any-return]


def _refused(response: httpx.Response, *codes: int) -> None:
    assert response.status_code in (codes or (403,)), response.text
    assert response.headers["content-type"] == "application/problem+json"
    # Nothing of the account comes back with a refusal.
    assert "$argon2" not in response.text and "username" not in response.json()


@pytest.fixture(scope="module")
def ministry(directory: Directory) -> dict[str, Actor]:
    """A ministry with a second national administrator, its organisation administrator (national, like the
    ministry) and a peer organisation administrator."""
    directory.organization("min-x", type_="ministry", territory=RABAT)
    return {name: directory.user(f"{name}-dlg", role=role, org="min-x", territories=[NATIONAL])
            for name, role in (("victim", "admin"), ("orgadmin", "org_admin"), ("peer", "org_admin"))}


class TestOrgAdminCannotTakeOverAnAdministrator:
    @pytest.mark.parametrize("body", [
        {"role": "steering_viewer"}, {"territories": [RABAT]}, {"active": False}, {"password": "x" * 8 + _password()},
        {"full_name": "Taken Over"}])
    def test_any_change_to_the_national_administrator_is_refused(self, gateway, directory, ministry, body):
        victim, attacker = ministry["victim"], ministry["orgadmin"]
        before = _user(gateway, directory, victim.subject_id)
        _refused(_patch(gateway, attacker.headers, str(victim.subject_id), body, directory.admin))
        after = _user(gateway, directory, victim.subject_id)
        assert (after["role"], after["territories"], after["active"], after["full_name"]) == \
               (before["role"], before["territories"], before["active"], before["full_name"])
        # The administrator still gets in, with all their scopes.
        assert expect(gateway.get("/v1/me", headers=victim.headers), 200)["role"] == "admin"

    def test_demote_then_reset_password_then_login_is_closed(self, gateway, directory, ministry):
        victim, attacker = ministry["victim"], ministry["orgadmin"]
        _refused(_patch(gateway, attacker.headers, str(victim.subject_id), {"role": "steering_viewer"},
                        directory.admin))
        new = _password()
        _refused(_patch(gateway, attacker.headers, str(victim.subject_id), {"password": new}, directory.admin))
        assert "access_token" not in _login(gateway, _user(gateway, directory, victim.subject_id)["username"],
                                            new).json()

    def test_unlock_of_the_administrator_is_refused(self, gateway, ministry):
        _refused(gateway.post(f"/v1/users/{ministry['victim'].subject_id}/unlock",
                              headers=ministry["orgadmin"].headers))

    def test_a_peer_organisation_administrator_is_not_managed_by_another(self, gateway, directory, ministry):
        peer = ministry["peer"]
        new = _password()
        _refused(_patch(gateway, ministry["orgadmin"].headers, str(peer.subject_id), {"password": new},
                        directory.admin))
        _refused(_patch(gateway, ministry["orgadmin"].headers, str(peer.subject_id), {"active": False},
                        directory.admin))
        assert _user(gateway, directory, peer.subject_id)["active"] is True
        assert "access_token" not in _login(gateway, _user(gateway, directory, peer.subject_id)["username"],
                                            new).json()

    @pytest.mark.parametrize("role", ["admin", "org_admin"])
    def test_no_administrator_is_created_by_an_organisation_administrator(self, gateway, ministry, role):
        username = f"made-{role}-{secrets.token_hex(3)}"
        _refused(gateway.post("/v1/users", headers=ministry["orgadmin"].headers, json={
            "username": username, "full_name": "Made Admin",
            "organization_id": str(ministry["orgadmin"].organization_id), "role": role, "territories": [NATIONAL],
            "password": _password()}))

    def test_a_user_of_the_organisation_is_not_promoted_to_administrator(self, gateway, directory, ministry):
        viewer = directory.user("viewer-dlg", role="steering_viewer", org="min-x", territories=[RABAT])
        for body in ({"role": "admin"}, {"role": "org_admin"}):
            _refused(_patch(gateway, ministry["orgadmin"].headers, str(viewer.subject_id), body, directory.admin))
        assert _user(gateway, directory, viewer.subject_id)["role"] == "steering_viewer"


class TestOrgAdminTerritoriesBeforeAndAfter:
    def test_a_national_user_is_not_narrowed_by_a_regional_org_admin(self, gateway, directory):
        directory.organization("min-y", type_="ministry", territory=RABAT)
        regional = directory.user("regional-oa", role="org_admin", org="min-y", territories=[RABAT])
        national_viewer = directory.user("national-viewer", role="steering_viewer", org="min-y",
                                         territories=[NATIONAL])
        for body in ({"territories": [RABAT]}, {"active": False}, {"full_name": "Renamed"}):
            _refused(_patch(gateway, regional.headers, str(national_viewer.subject_id), body, directory.admin))
        after = _user(gateway, directory, national_viewer.subject_id)
        assert after["territories"] == [NATIONAL] and after["active"] is True


@pytest.fixture(scope="module")
def cape_admin(directory: Directory) -> Actor:
    """The organisation administrator of a Rabat CAPE."""
    directory.organization("cape-dlg", type_="cape", territory=RABAT)
    return directory.user("cape-oa", role="org_admin", org="cape-dlg", territories=[RABAT])


class TestOrgAdminHoldsNoRouteToCaseData:
    def test_a_coordinator_it_creates_waits_for_an_administrator(self, gateway, directory, cape_admin):
        username, password = f"coord-{secrets.token_hex(3)}", _password()
        created = expect(gateway.post("/v1/users", headers=cape_admin.headers, json={
            "username": username, "full_name": "New Coordinator", "organization_id": str(cape_admin.organization_id),
            "role": "team_coordinator", "territories": [RABAT], "password": password}), 201)
        assert created["active"] is False
        login = _login(gateway, username, password)
        assert login.status_code != 200 and "access_token" not in login.json()
        # The organisation administrator can neither activate it nor choose another password for it.
        _refused(_patch(gateway, cape_admin.headers, created["id"], {"active": True}, directory.admin))
        _refused(_patch(gateway, cape_admin.headers, created["id"], {"password": _password()}, directory.admin))
        assert _user(gateway, directory, created["id"])["active"] is False
        # An administrator's approval sets a password the organisation administrator never knew.
        _refused(_patch(gateway, directory.admin, created["id"], {"active": True}, directory.admin), 422)
        fresh = _password()
        expect(_patch(gateway, directory.admin, created["id"], {"active": True, "password": fresh}, directory.admin),
               200)
        assert "access_token" not in _login(gateway, username, password).json()
        assert expect(_login(gateway, username, fresh), 200)["access_token"]

    def test_it_cannot_reset_the_password_of_a_case_manager(self, gateway, directory, cape_admin):
        manager = directory.user("cape-cm-dlg", role="case_manager", org="cape-dlg", territories=[RABAT])
        new = _password()
        _refused(_patch(gateway, cape_admin.headers, str(manager.subject_id), {"password": new}, directory.admin))
        assert "access_token" not in _login(gateway, _user(gateway, directory, manager.subject_id)["username"],
                                            new).json()
        # Deactivating a colleague it covers stays its job; reactivating is an administrator's.
        expect(_patch(gateway, cape_admin.headers, str(manager.subject_id), {"active": False}, directory.admin), 200)
        _refused(_patch(gateway, cape_admin.headers, str(manager.subject_id), {"active": True}, directory.admin))
        assert _user(gateway, directory, manager.subject_id)["active"] is False

    def test_a_viewer_it_knows_the_password_of_becomes_a_coordinator_only_inactive(self, gateway, directory):
        directory.organization("min-z", type_="ministry", territory=RABAT)
        org_admin = directory.user("min-z-oa", role="org_admin", org="min-z", territories=[RABAT])
        username, password = f"viewer-{secrets.token_hex(3)}", _password()
        created = expect(gateway.post("/v1/users", headers=org_admin.headers, json={
            "username": username, "full_name": "Viewer", "organization_id": str(org_admin.organization_id),
            "role": "steering_viewer", "territories": [RABAT], "password": password}), 201)
        assert created["active"] is True  # no case data: the organisation administrator's to manage
        changed = expect(_patch(gateway, org_admin.headers, created["id"], {"role": "team_coordinator"},
                                directory.admin), 200)
        assert changed["role"] == "team_coordinator" and changed["active"] is False
        assert "access_token" not in _login(gateway, username, password).json()
        _refused(_patch(gateway, org_admin.headers, created["id"], {"role": "team_coordinator", "active": True},
                        directory.admin))


class TestAdministratorsCoverBothStatesToo:
    def test_a_regional_administrator_manages_neither_a_national_administrator_nor_a_national_client(
            self, gateway, directory, ministry):
        regional = directory.user("regional-admin", role="admin", org="min-x", territories=[RABAT])
        victim = ministry["victim"]
        for body in ({"territories": [RABAT]}, {"active": False}, {"password": _password()}):
            _refused(_patch(gateway, regional.headers, str(victim.subject_id), body, directory.admin))
        assert _user(gateway, directory, victim.subject_id)["territories"] == [NATIONAL]
        directory.organization("partner-dlg", type_="ngo", territory=RABAT)
        client = expect(gateway.post("/v1/clients", headers=directory.admin, json={
            "name": f"national partner {secrets.token_hex(3)}", "organization_id": directory.organizations[
                "partner-dlg"]["id"], "scopes": ["directory:read"], "territories": [NATIONAL]}), 201)
        path = f"/v1/clients/{client['client_id']}"
        etag = gateway.get(path, headers=directory.admin).headers["etag"]
        _refused(gateway.patch(path, json={"territories": [RABAT]}, headers={**regional.headers, "If-Match": etag}))
        _refused(gateway.patch(path, json={"active": False}, headers={**regional.headers, "If-Match": etag}))
        rotated = gateway.post(f"{path}/rotate-secret", json={}, headers=regional.headers)
        _refused(rotated)
        assert "client_secret" not in rotated.text
        after = expect(gateway.get(path, headers=directory.admin), 200)
        assert after["territories"] == [NATIONAL] and after["active"] is True
