"""Revocations on real Postgres: written with the change, served after a cursor, applied by a verifier."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import jwt
import pytest
import sqlalchemy as sa

from himaya.auth import TokenVerifier
from himaya.errors import Unauthorized
from himaya.revocation import RevocationList, refresh
from identity_service.config import Settings
from identity_service.keys import service as keys
from identity_service.main import own_revocations_feed
from identity_service.revocations import service as revocations


def claims_of(token: str) -> dict:
    return jwt.decode(token, options={"verify_signature": False})


@pytest.fixture
def deny_list_verifier(harness, settings):
    """A verifier like every service's, its deny-list read from identity's database."""

    async def build() -> TokenVerifier:
        deny = RevocationList()
        await refresh(deny, own_revocations_feed(lambda: harness.app.state.db, harness.app.state.key_encryption))
        return TokenVerifier(harness.app.state.own_jwks, issuer=settings.token_issuer,
                             audience=settings.token_audience, revocations=deny)

    return build


async def patch_user(client, admin, user_id, body):
    etag = (await client.get(f"/v1/users/{user_id}", headers=admin)).headers["etag"]
    response = await client.patch(f"/v1/users/{user_id}", headers={**admin, "If-Match": etag}, json=body)
    assert response.status_code == 200, response.text
    return response.json()


async def entries(db, subject=None):
    q = "SELECT subject, min_version, kid, issued_after, reason FROM identity.revocations"
    rows = (await db.execute(sa.text(q + " ORDER BY id"))).mappings().all()
    return [dict(r) for r in rows if subject is None or r["subject"] == subject]


class TestWrittenWithTheChange:
    async def test_a_narrowed_role_refuses_the_old_token_and_accepts_the_next_login(
            self, client, admin, as_user, login, db, deny_list_verifier):
        user, _, _ = await as_user("team_coordinator", "cape", ["04.421", "04.441"])
        old = (await login(user["username"]))["access_token"]
        assert claims_of(old)["sub_ver"] == 1
        await patch_user(client, admin, user["id"], {"role": "case_manager", "territories": ["04.421"]})
        assert [(e["min_version"], e["reason"]) for e in await entries(db, f"user:{user['id']}")] == \
            [(2, "user.update")]
        verifier = await deny_list_verifier()
        with pytest.raises(Unauthorized, match="revoked"):
            await verifier.verify(old)
        new = (await login(user["username"]))["access_token"]
        principal = await verifier.verify(new)
        assert principal.role == "case_manager" and principal.territories == ("04.421",)

    @pytest.mark.parametrize("body", [{"active": False}, {"password": "Another-strong-pass-7"},
                                      {"territories": ["04.441"]}])
    async def test_deactivation_password_and_territories_revoke(self, client, admin, as_user, db, body):
        user, _, _ = await as_user("case_manager", "cape")
        await patch_user(client, admin, user["id"], body)
        assert len(await entries(db, f"user:{user['id']}")) == 1

    async def test_a_profile_change_revokes_nothing(self, client, admin, as_user, db):
        user, _, _ = await as_user("case_manager", "cape")
        await patch_user(client, admin, user["id"], {"full_name": "Another Name"})
        assert await entries(db, f"user:{user['id']}") == []

    async def test_a_deactivated_client_is_revoked(self, client, admin, make_org, db, deny_list_verifier):
        org = await make_org("prosecution_office", court_code="TPI-RAB")
        created = (await client.post("/v1/clients", headers=admin, json={
            "name": "partner", "organization_id": str(org["id"]), "scopes": ["cases:read"],
            "territories": ["04.421"]})).json()
        token = (await client.post("/v1/auth/token", data={
            "grant_type": "client_credentials", "client_id": created["client_id"],
            "client_secret": created["client_secret"]})).json()["access_token"]
        assert (await (await deny_list_verifier()).verify(token)).subject_type == "client"
        etag = (await client.get(f"/v1/clients/{created['client_id']}", headers=admin)).headers["etag"]
        assert (await client.patch(f"/v1/clients/{created['client_id']}", headers={**admin, "If-Match": etag},
                                   json={"active": False})).status_code == 200
        assert [e["reason"] for e in await entries(db, f"client:{created['client_id']}")] == ["client.deactivate"]
        with pytest.raises(Unauthorized, match="revoked"):
            await (await deny_list_verifier()).verify(token)


class TestFeed:
    async def test_cursor_pages_and_reset(self, client, admin, as_user, tx):
        users = [(await as_user("case_manager", "cape"))[0] for _ in range(3)]
        for user in users:
            await patch_user(client, admin, user["id"], {"active": False})
        now = datetime.now(UTC)
        full = await tx(lambda c: revocations.feed(c, after=None, limit=100, now=now))
        assert full.reset and not full.more and len(full.entries) == 3
        first = await tx(lambda c: revocations.feed(c, after=None, limit=2, now=now))
        assert first.more and len(first.entries) == 2 and first.cursor == first.entries[-1].id
        rest = await tx(lambda c: revocations.feed(c, after=first.cursor, limit=2, now=now))
        assert not rest.reset and not rest.more
        assert [e.subject for e in first.entries + rest.entries] == [f"user:{u['id']}" for u in users]
        nothing = await tx(lambda c: revocations.feed(c, after=full.cursor, limit=100, now=now))
        assert nothing.entries == [] and nothing.cursor == full.cursor and not nothing.reset
        ahead = await tx(lambda c: revocations.feed(c, after=full.cursor + 50, limit=100, now=now))
        assert ahead.reset and len(ahead.entries) == 3
        # Entries past their use are no longer served.
        expired = await tx(lambda c: revocations.feed(
            c, after=None, limit=100, now=now + revocations.SUBJECT_ENTRY_LIFETIME + timedelta(seconds=1)))
        assert expired.entries == []

    async def test_served_internally_and_naming_ids_only(self, client, admin, as_user):
        user, _, _ = await as_user("case_manager", "cape")
        await patch_user(client, admin, user["id"], {"active": False})
        response = await client.get("/internal/v1/revocations")
        assert response.status_code == 200 and response.headers["cache-control"] == "no-store"
        assert user["username"] not in response.text and "Test User" not in response.text
        assert {"subject": f"user:{user['id']}", "min_version": 2} in [
            {"subject": e["subject"], "min_version": e["min_version"]} for e in response.json()["entries"]]

    def test_a_subject_entry_outlives_the_longest_token(self):
        longest = Settings.model_fields["access_token_ttl"].metadata
        assert any(getattr(m, "le", None) == 3600 for m in longest)
        assert revocations.SUBJECT_ENTRY_LIFETIME >= timedelta(seconds=3600) + keys.VERIFIER_LEEWAY


class TestEmergencyKeyRevocation:
    async def test_the_key_leaves_the_jwks_its_tokens_are_refused_and_a_new_key_signs(
            self, client, admin, login, admin_password, db, deny_list_verifier):
        old_kid = jwt.get_unverified_header(admin["Authorization"].split()[1])["kid"]
        response = await client.post(f"/v1/signing-keys/{old_kid}/revoke", headers=admin)
        assert response.status_code == 200, response.text
        states = response.json()
        assert old_kid not in {k["kid"] for k in states}
        assert [k["state"] for k in states] == ["signing"]
        jwks = (await client.get("/.well-known/jwks.json")).json()
        assert old_kid not in {k["kid"] for k in jwks["keys"]}
        assert [(e["kid"], e["issued_after"]) for e in await entries(db) if e["kid"]] == [(old_kid, None)]
        verifier = await deny_list_verifier()
        with pytest.raises(Unauthorized, match="signing key"):
            await verifier.verify(admin["Authorization"].split()[1])
        fresh = (await login("admin", admin_password))["access_token"]
        assert jwt.get_unverified_header(fresh)["kid"] == states[0]["kid"]
        assert (await verifier.verify(fresh)).role == "admin"
        again = await client.post(f"/v1/signing-keys/{old_kid}/revoke", headers={"Authorization": f"Bearer {fresh}"})
        assert again.status_code == 409

    async def test_a_pending_rotation_is_withdrawn_with_it(self, client, admin, tx, harness):
        now = datetime.now(UTC)
        await tx(lambda c: keys.rotate_signing_key(c, now=now, lead=timedelta(minutes=5),
                                                   access_ttl=timedelta(minutes=10)))
        states = (await client.get("/v1/signing-keys", headers=admin)).json()
        signing = next(k["kid"] for k in states if k["state"] == "signing")
        pending = next(k["kid"] for k in states if k["state"] == "pending")
        after = (await client.post(f"/v1/signing-keys/{signing}/revoke", headers=admin)).json()
        kids = {k["kid"] for k in after}
        assert signing not in kids and pending not in kids and len(after) == 1
        later = datetime.now(UTC) + timedelta(minutes=6)
        key = await tx(lambda c: keys.current_signing_key(c, now=later))
        assert key.kid == after[0]["kid"]

    async def test_only_a_national_administrator_and_only_a_known_key(self, client, admin, as_user):
        _, _, org_admin = await as_user("org_admin", "cape")
        kid = (await client.get("/v1/signing-keys", headers=admin)).json()[0]["kid"]
        assert (await client.post(f"/v1/signing-keys/{kid}/revoke", headers=org_admin)).status_code == 403
        assert (await client.post("/v1/signing-keys/nokey/revoke", headers=admin)).status_code == 404
        assert [k["kid"] for k in (await client.get("/v1/signing-keys", headers=admin)).json()] == [kid]

    async def test_a_rotation_refuses_tokens_the_retired_key_claims_to_sign_later(self, tx, harness, db, seeded):
        now = datetime.now(UTC)
        await tx(lambda c: keys.rotate_signing_key(c, now=now, lead=timedelta(minutes=5),
                                                   access_ttl=timedelta(minutes=10)))
        retired = [e for e in await entries(db) if e["kid"]]
        assert len(retired) == 1 and retired[0]["issued_after"] == now + timedelta(minutes=5)
        assert retired[0]["reason"] == "signing_key.retire"
