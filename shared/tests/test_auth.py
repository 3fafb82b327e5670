"""Token verification: pinned algorithms, issuer, audience, expiry, key ids; scopes and territories."""

import base64
import json
import time
import uuid

import httpx
import jwt
import pytest
from fastapi import Depends, FastAPI

from himaya.auth import JWKSCache, Principal, TokenVerifier, require_scopes, territory_covers
from himaya.errors import Unauthorized, install_problem_handlers
from himaya_dev.testing.plugin import AUDIENCE, ISSUER, TokenFactory


@pytest.fixture(scope="module")
def factory() -> TokenFactory:
    return TokenFactory.generate()


def b64(data: bytes) -> str:
    return base64.urlsafe_b64encode(data).decode().rstrip("=")


class TestVerifier:
    async def test_valid_token_gives_principal(self, factory):
        org = uuid.uuid4()
        p = await factory.verifier().verify(factory.token(role="case_manager", scopes=["cases:read"],
                                                          territories=["04.421"], org=org, org_type="cape"))
        assert p.role == "case_manager" and p.organization_id == org and p.scopes == {"cases:read"}
        assert p.covers("04.421.01") and not p.covers("04.441")

    async def test_alg_none_is_refused(self, factory):
        claims = jwt.decode(factory.token(), options={"verify_signature": False})
        token = b64(json.dumps({"alg": "none", "kid": factory.kid}).encode()) + "." + b64(
            json.dumps(claims).encode()) + "."
        with pytest.raises(Unauthorized):
            await factory.verifier().verify(token)

    async def test_hmac_signed_with_public_key_is_refused(self, factory):
        public = json.dumps(factory.jwks["keys"][0]).encode()
        claims = jwt.decode(factory.token(), options={"verify_signature": False})
        header = b64(json.dumps({"alg": "HS256", "kid": factory.kid, "typ": "JWT"}).encode())
        payload = b64(json.dumps(claims).encode())
        import hashlib
        import hmac
        sig = b64(hmac.new(public, f"{header}.{payload}".encode(), hashlib.sha256).digest())
        with pytest.raises(Unauthorized):
            await factory.verifier().verify(f"{header}.{payload}.{sig}")

    async def test_expired_token_is_refused(self, factory):
        with pytest.raises(Unauthorized, match="expired"):
            await factory.verifier().verify(factory.token(ttl=-120))

    @pytest.mark.parametrize("claim", [{"iss": "someone-else"}, {"aud": "other-api"}])
    async def test_wrong_issuer_or_audience_is_refused(self, factory, claim):
        with pytest.raises(Unauthorized):
            await factory.verifier().verify(factory.token(**claim))

    async def test_unknown_key_id_is_refused(self, factory):
        other = TokenFactory.generate()
        with pytest.raises(Unauthorized, match="unknown key"):
            await factory.verifier().verify(other.token())

    async def test_tampered_payload_is_refused(self, factory):
        header, payload, sig = factory.token(role="ngo_worker").split(".")
        claims = json.loads(base64.urlsafe_b64decode(payload + "=="))
        claims["role"] = "admin"
        with pytest.raises(Unauthorized):
            await factory.verifier().verify(f"{header}.{b64(json.dumps(claims).encode())}.{sig}")

    async def test_refresh_token_type_is_not_an_access_token(self, factory):
        with pytest.raises(Unauthorized):
            await factory.verifier().verify(factory.token(typ="refresh"))

    async def test_missing_territories_claim_is_refused(self, factory):
        now = int(time.time())
        token = jwt.encode({"iss": ISSUER, "aud": AUDIENCE, "sub": f"user:{uuid.uuid4()}", "iat": now,
                            "exp": now + 60, "jti": "x", "scope": "", "role": "admin"},
                           factory.private_key, algorithm="EdDSA", headers={"kid": factory.kid})
        with pytest.raises(Unauthorized):
            await factory.verifier().verify(token)


class TestJWKSCache:
    async def test_unknown_kid_refetches_once_within_cooldown(self, factory):
        calls = []
        current = {"keys": []}

        async def fetch():
            calls.append(1)
            return current

        cache = JWKSCache(fetch, cooldown_seconds=60)
        assert await cache.get(factory.kid) is None
        current = factory.jwks
        assert await cache.get(factory.kid) is None  # within the cooldown: no second fetch
        assert len(calls) == 1

    async def test_rotated_key_is_found_after_cooldown(self, factory):
        current = {"keys": []}

        async def fetch():
            return current

        cache = JWKSCache(fetch, cooldown_seconds=0)
        assert await cache.get(factory.kid) is None
        current = factory.jwks
        assert await cache.get(factory.kid) is not None


class TestTerritories:
    @pytest.mark.parametrize(("scope", "code", "expected"), [
        ("MA", "07.351.01", True), ("04.421", "04.421.03", True), ("04.421", "04.421", True),
        ("04.421", "04.4210", False), ("04", "07.351", False), ("04.421.01", "04.421", False),
    ])
    def test_parent_covers_children(self, scope, code, expected):
        assert territory_covers(scope, code) is expected


class TestRequireScopes:
    async def test_missing_scope_is_403_and_missing_token_401(self, factory):
        app = FastAPI()
        install_problem_handlers(app)
        app.state.token_verifier = factory.verifier()

        @app.get("/guarded")
        async def guarded(p: Principal = Depends(require_scopes("cases:read"))) -> dict[str, str]:
            return {"role": p.role}

        async with httpx.AsyncClient(transport=httpx.ASGITransport(app=app), base_url="http://t") as c:
            assert (await c.get("/guarded")).status_code == 401
            assert (await c.get("/guarded", headers=factory.headers(scopes=["x"]))).status_code == 403
            ok = await c.get("/guarded", headers=factory.headers(role="police_officer", scopes=["cases:read"]))
            assert ok.status_code == 200 and ok.json() == {"role": "police_officer"}
            bad = await c.get("/guarded", headers={"Authorization": "Bearer not.a.token"})
            assert bad.status_code == 401 and bad.headers["www-authenticate"].startswith("Bearer")


class TestVerifiedTokenCache:
    async def test_a_repeated_token_is_verified_once_and_gives_the_same_principal(self, factory, monkeypatch):
        verifier = factory.verifier()
        token = factory.token(role="case_manager", scopes=["cases:read"], territories=["04.421"])
        calls = []
        original = jwt.decode
        monkeypatch.setattr(jwt, "decode", lambda *a, **k: calls.append(1) or original(*a, **k))
        first = await verifier.verify(token)
        second = await verifier.verify(token)
        assert second is first and len(calls) == 1

    async def test_a_cached_token_is_verified_again_once_its_exp_passes(self, factory, monkeypatch):
        verifier = factory.verifier()
        token = factory.token(ttl=5)
        await verifier.verify(token)
        calls = []
        original = jwt.decode
        monkeypatch.setattr(jwt, "decode", lambda *a, **k: calls.append(1) or original(*a, **k))
        await verifier.verify(token)
        assert calls == []
        later = time.time() + 10
        monkeypatch.setattr(time, "time", lambda: later)
        await verifier.verify(token)  # within the 30 s leeway the full check still accepts it
        assert calls == [1]

    async def test_a_cached_token_is_refused_when_its_key_leaves_the_jwks(self, factory):
        served = {"jwks": factory.jwks}

        async def fetch():
            return served["jwks"]

        verifier = TokenVerifier(JWKSCache(fetch, cooldown_seconds=0.0), issuer=ISSUER, audience=AUDIENCE)
        token = factory.token()
        await verifier.verify(token)
        served["jwks"] = TokenFactory.generate().jwks  # identity rotated the key out
        verifier.jwks.load(served["jwks"])
        with pytest.raises(Unauthorized, match="unknown key"):
            await verifier.verify(token)

    async def test_a_tampered_copy_of_a_cached_token_is_still_refused(self, factory):
        verifier = factory.verifier()
        token = factory.token(role="ngo_worker")
        await verifier.verify(token)
        header, payload, sig = token.split(".")
        claims = json.loads(base64.urlsafe_b64decode(payload + "=="))
        claims["role"] = "admin"
        with pytest.raises(Unauthorized):
            await verifier.verify(f"{header}.{b64(json.dumps(claims).encode())}.{sig}")

    async def test_the_cache_stays_within_its_size(self, factory):
        verifier = factory.verifier()
        verifier.cache_size = 3
        for _ in range(7):
            await verifier.verify(factory.token())
        assert len(verifier._verified) == 3
