"""Forged and stale tokens are refused with 401 problem+json, by /v1/me and by himaya.auth.TokenVerifier."""

from __future__ import annotations

import base64
import hashlib
import hmac
import json
import time
from datetime import UTC, datetime

import jwt
import pytest
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey

from himaya.auth import JWKSCache, TokenVerifier
from himaya.errors import Unauthorized
from identity_service.keys import service as keys

ADMIN_PASSWORD = "bootstrap-Root-pass-2026"


def b64(data: bytes) -> str:
    return base64.urlsafe_b64encode(data).decode().rstrip("=")


def forge(header: dict, claims: dict, sign) -> str:
    signing_input = b64(json.dumps(header).encode()) + "." + b64(json.dumps(claims).encode())
    return signing_input + "." + b64(sign(signing_input.encode()))


@pytest.fixture
async def genuine(login, seeded):
    """A genuine access token of the admin, its claims and kid."""
    token = (await login("admin", ADMIN_PASSWORD))["access_token"]
    return token, jwt.decode(token, options={"verify_signature": False}), jwt.get_unverified_header(token)["kid"]


@pytest.fixture
async def sign_with_real_key(tx, harness):
    """Sign arbitrary claims with identity's current signing key."""

    async def sign(claims: dict) -> str:
        key = await tx(lambda c: keys.current_signing_key(c, now=datetime.now(UTC)))
        return keys.sign(claims, key)

    return sign


@pytest.fixture
async def verifier(client, seeded):
    """A TokenVerifier over the JWKS identity publishes, as every other service uses."""
    jwks = (await client.get("/.well-known/jwks.json")).json()
    return TokenVerifier(JWKSCache.static(jwks), issuer="himaya-identity", audience="himaya")


async def attacks(genuine, sign_with_real_key) -> dict[str, str]:
    token, claims, kid = genuine
    now = int(time.time())
    header_b64, _, signature = token.split(".")
    tampered_claims = {**claims, "role": "auditor", "scope": claims["scope"] + " audit:read"}
    return {
        "alg_none": forge({"alg": "none", "kid": kid, "typ": "JWT"}, claims, lambda _: b""),
        "tampered_payload": header_b64 + "." + b64(json.dumps(tampered_claims).encode()) + "." + signature,
        "expired": await sign_with_real_key({**claims, "iat": now - 3600, "exp": now - 1800}),
        "wrong_issuer": await sign_with_real_key({**claims, "iss": "someone-else"}),
        "wrong_audience": await sign_with_real_key({**claims, "aud": "other-system"}),
        "unknown_kid": jwt.encode(claims, Ed25519PrivateKey.generate(), algorithm="EdDSA",
                                  headers={"kid": "attacker-key"}),
        "real_kid_other_key": jwt.encode(claims, Ed25519PrivateKey.generate(), algorithm="EdDSA",
                                         headers={"kid": kid}),
        "not_a_jwt": "definitely.not.a-token",
    }


ATTACKS = ["alg_none", "tampered_payload", "expired", "wrong_issuer", "wrong_audience", "unknown_kid",
           "real_kid_other_key", "not_a_jwt", "hs256_with_public_key"]


async def forged(name, genuine, sign_with_real_key, client) -> str:
    if name == "hs256_with_public_key":
        _, claims, kid = genuine
        jwk = next(k for k in (await client.get("/.well-known/jwks.json")).json()["keys"] if k["kid"] == kid)
        raw_public = base64.urlsafe_b64decode(jwk["x"] + "==")
        # Try the classic confusion with each form a verifier might use as the HMAC secret.
        return forge({"alg": "HS256", "kid": kid, "typ": "JWT"}, claims,
                     lambda m: hmac.new(raw_public, m, hashlib.sha256).digest())
    return (await attacks(genuine, sign_with_real_key))[name]


class TestForgedTokensAtMe:
    async def test_genuine_token_is_accepted(self, client, genuine):
        response = await client.get("/v1/me", headers={"Authorization": f"Bearer {genuine[0]}"})
        assert response.status_code == 200

    @pytest.mark.parametrize("attack", ATTACKS)
    async def test_forged_token_is_refused(self, client, genuine, sign_with_real_key, attack):
        token = await forged(attack, genuine, sign_with_real_key, client)
        response = await client.get("/v1/me", headers={"Authorization": f"Bearer {token}"})
        assert response.status_code == 401, attack
        assert response.headers["content-type"].startswith("application/problem+json")
        assert response.json()["code"] == "unauthorized"

    async def test_hs256_with_jwk_json_as_secret_is_refused(self, client, genuine):
        _, claims, kid = genuine
        jwks_text = (await client.get("/.well-known/jwks.json")).text
        forged_token = forge({"alg": "HS256", "kid": kid}, claims,
                             lambda m: hmac.new(jwks_text.encode(), m, hashlib.sha256).digest())
        assert (await client.get("/v1/me", headers={"Authorization": f"Bearer {forged_token}"})).status_code == 401


class TestForgedTokensAtVerifier:
    async def test_genuine_token_verifies(self, verifier, genuine):
        principal = await verifier.verify(genuine[0])
        assert principal.role == "admin" and principal.is_national

    @pytest.mark.parametrize("attack", ATTACKS)
    async def test_forged_token_is_refused(self, verifier, genuine, sign_with_real_key, client, attack):
        token = await forged(attack, genuine, sign_with_real_key, client)
        with pytest.raises(Unauthorized):
            await verifier.verify(token)


class TestDeactivatedUser:
    async def test_deactivated_user_loses_access_refresh_and_login(self, client, admin, as_user, login):
        user, _, headers = await as_user("police_officer", "police")
        tokens = await login(user["username"])
        current = await client.get(f"/v1/users/{user['id']}", headers=admin)
        patch = await client.patch(f"/v1/users/{user['id']}", json={"active": False},
                                   headers={**admin, "If-Match": current.headers["etag"]})
        assert patch.status_code == 200, patch.text
        assert patch.json()["active"] is False
        me = await client.get("/v1/me", headers=headers)
        assert me.status_code == 401 and me.headers["content-type"].startswith("application/problem+json")
        refresh = await client.post("/v1/auth/token", data={"grant_type": "refresh_token",
                                                            "refresh_token": tokens["refresh_token"]})
        assert refresh.status_code == 401
        again = await client.post("/v1/auth/token", data={"grant_type": "password", "username": user["username"],
                                                          "password": "Sufficiently-long-9"})
        assert again.status_code == 401
