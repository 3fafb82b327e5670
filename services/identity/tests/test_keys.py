"""Signing keys: encrypted at rest, published before they sign, kept until their last token expires."""

from __future__ import annotations

import dataclasses
from datetime import UTC, datetime, timedelta

import jwt
import pytest
import sqlalchemy as sa

from himaya.auth import JWKSCache, TokenVerifier
from himaya.errors import Conflict, Unauthorized
from identity_service.keys import service as keys

ADMIN_PASSWORD = "bootstrap-Root-pass-2026"


def kid_of(token: str) -> str:
    return jwt.get_unverified_header(token)["kid"]


@pytest.fixture
def rotate(tx, harness):
    async def run(lead_seconds: int, now: datetime | None = None):
        return await tx(lambda c: keys.rotate_signing_key(c, now=now or datetime.now(UTC),
            lead=timedelta(seconds=lead_seconds), access_ttl=timedelta(seconds=600)))
    return run


class TestKeysAtRest:
    async def test_private_key_is_encrypted(self, seeded, db):
        row = (await db.execute(sa.text("SELECT kid, private_key_encrypted, public_jwk FROM identity.signing_keys"))
               ).mappings().one()
        blob = bytes(row["private_key_encrypted"])
        assert b"PRIVATE KEY" not in blob and len(blob) > 12 + 48
        assert "d" not in row["public_jwk"]  # the JWK holds no private part

    async def test_jwks_publishes_only_public_ed25519_keys(self, client, seeded):
        body = (await client.get("/.well-known/jwks.json")).json()
        assert len(body["keys"]) == 1
        key = body["keys"][0]
        assert key["kty"] == "OKP" and key["crv"] == "Ed25519" and key["alg"] == "EdDSA" and "d" not in key

    async def test_wrong_encryption_key_cannot_decrypt(self, seeded, tx):
        from identity_service.core.crypto import KeyEncryption

        with pytest.raises(RuntimeError, match="cannot be decrypted"):
            other = KeyEncryption("another-key-" + "x" * 30)
            await tx(lambda c: keys.current_signing_key(dataclasses.replace(c, encryption=other),
                                                        now=datetime.now(UTC)))


class TestRotation:
    async def test_new_key_is_published_before_it_signs(self, client, login, rotate, seeded):
        before = (await login("admin", ADMIN_PASSWORD))["access_token"]
        await rotate(300)
        jwks = (await client.get("/.well-known/jwks.json")).json()
        assert len(jwks["keys"]) == 2
        during = (await login("admin", ADMIN_PASSWORD))["access_token"]
        assert kid_of(during) == kid_of(before)  # the published key does not sign yet
        with pytest.raises(Conflict):
            await rotate(300)

    async def test_old_tokens_stay_valid_and_new_tokens_use_the_new_key(self, client, login, rotate, tx, seeded):
        old = (await login("admin", ADMIN_PASSWORD))["access_token"]
        now = datetime.now(UTC)
        await rotate(0, now=now)
        new = (await login("admin", ADMIN_PASSWORD))["access_token"]
        assert kid_of(new) != kid_of(old)
        for token in (old, new):
            assert (await client.get("/v1/me", headers={"Authorization": f"Bearer {token}"})).status_code == 200
        jwks_now = (await client.get("/.well-known/jwks.json")).json()
        verifier = TokenVerifier(JWKSCache.static(jwks_now), issuer="himaya-identity", audience="himaya")
        assert (await verifier.verify(old)).role == (await verifier.verify(new)).role == "admin"
        # Once the last token the old key could have signed has expired, the old key leaves the JWKS.
        later = await tx(lambda c: keys.jwks(c, now=now + timedelta(seconds=600) + keys.VERIFIER_LEEWAY
                                              + timedelta(seconds=1)))
        assert [k["kid"] for k in later["keys"]] == [kid_of(new)]
        later_verifier = TokenVerifier(JWKSCache.static(later), issuer="himaya-identity", audience="himaya")
        with pytest.raises(Unauthorized):
            await later_verifier.verify(old)

    async def test_admin_rotates_through_the_api(self, client, admin):
        response = await client.post("/v1/signing-keys/rotate", headers=admin)
        assert response.status_code == 201, response.text
        states = sorted(k["state"] for k in response.json())
        assert states == ["pending", "signing"]
        listed = await client.get("/v1/signing-keys", headers=admin)
        assert len(listed.json()) == 2

    async def test_only_admins_rotate(self, client, as_user):
        _, _, headers = await as_user("auditor", "ministry", ["MA"])
        assert (await client.post("/v1/signing-keys/rotate", headers=headers)).status_code == 403
