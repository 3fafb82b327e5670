"""Edge authentication: public routes pass without a token; a refused token never reaches a service."""

from __future__ import annotations

import time
import uuid

import httpx
import jwt
import pytest

from gateway_service.edge_auth import EdgeAuthenticator
from himaya.auth import JWKSCache, Principal, TokenVerifier
from himaya.errors import Unauthorized
from himaya.revocation import RevocationList
from himaya_dev.testing.plugin import AUDIENCE, ISSUER, TokenFactory


class TestRefusedAtTheEdge:
    @pytest.mark.parametrize("path", ["/v1/cases", "/v1/me", "/v1/referrals/x", "/v1/users", "/v1/nowhere"])
    async def test_missing_token_is_401_problem_and_never_proxied(self, gw: httpx.AsyncClient, stack: object,
                                                                  path: str) -> None:
        r = await gw.get(path)
        assert r.status_code == 401
        assert r.headers["content-type"] == "application/problem+json"
        assert r.headers["www-authenticate"].startswith("Bearer")
        assert r.json()["code"] == "unauthorized"
        assert r.json()["request_id"] == r.headers["x-request-id"]
        assert stack.hits() == 0  # type: ignore[attr-defined]

    async def test_expired_token_never_reaches_a_service(self, gw: httpx.AsyncClient, tokens: TokenFactory,
                                                         stack: object) -> None:
        r = await gw.get("/v1/cases", headers=tokens.headers(ttl=-120))
        assert r.status_code == 401
        assert "expired" in r.json()["detail"]
        assert stack.hits() == 0  # type: ignore[attr-defined]

    async def test_token_of_an_unknown_key_never_reaches_a_service(self, gw: httpx.AsyncClient,
                                                                   stack: object) -> None:
        stranger = TokenFactory.generate()
        r = await gw.post("/v1/intakes", headers=stranger.headers(), json={})
        assert r.status_code == 401
        assert stack.hits() == 0  # type: ignore[attr-defined]

    async def test_alg_none_and_tampered_tokens_are_refused(self, gw: httpx.AsyncClient, tokens: TokenFactory,
                                                            stack: object) -> None:
        claims = jwt.decode(tokens.token(), options={"verify_signature": False})
        unsigned = jwt.encode({**claims, "role": "admin"}, key="", algorithm="none",
                              headers={"kid": tokens.kid})
        head, _payload, sig = tokens.token(role="ngo_worker").split(".")
        other_payload = tokens.token(role="admin").split(".")[1]
        for token in (unsigned, f"{head}.{other_payload}.{sig}", "not-a-jwt"):
            r = await gw.get("/v1/cases", headers={"Authorization": f"Bearer {token}"})
            assert r.status_code == 401
        assert stack.hits() == 0  # type: ignore[attr-defined]

    async def test_wrong_audience_is_refused(self, gw: httpx.AsyncClient, tokens: TokenFactory,
                                             stack: object) -> None:
        r = await gw.get("/v1/cases", headers=tokens.headers(aud="someone-else"))
        assert r.status_code == 401
        assert stack.hits() == 0  # type: ignore[attr-defined]

    async def test_valid_token_passes_and_is_forwarded(self, gw: httpx.AsyncClient, tokens: TokenFactory,
                                                       stack: object) -> None:
        r = await gw.get("/v1/cases", headers=tokens.headers())
        assert r.status_code == 200
        assert stack.hits() == 1  # type: ignore[attr-defined]


class TestPublicRoutes:
    @pytest.mark.parametrize(("method", "path"), [
        ("POST", "/v1/auth/token"), ("POST", "/v1/auth/revoke"), ("GET", "/.well-known/jwks.json")])
    async def test_identity_public_endpoints_reach_identity_without_token(
            self, gw: httpx.AsyncClient, stack: object, method: str, path: str) -> None:
        r = await gw.request(method, path, data={"grant_type": "password"} if method == "POST" else None)
        assert r.status_code == 200
        assert r.json()["service"] == "identity"
        assert stack.hits() == 1  # type: ignore[attr-defined]

    async def test_other_methods_on_the_token_endpoint_need_a_token(self, gw: httpx.AsyncClient) -> None:
        assert (await gw.get("/v1/auth/token")).status_code == 401

    @pytest.mark.parametrize("path", ["/healthz", "/readyz", "/openapi.json", "/docs", "/docs/oauth2-redirect",
                                      "/docs/assets/swagger-ui-bundle.js", "/docs/assets/swagger-ui.css"])
    async def test_gateway_own_public_paths(self, gw: httpx.AsyncClient, path: str) -> None:
        r = await gw.get(path)
        assert r.status_code == 200, (path, r.text[:200])

    async def test_metrics_show_requests_per_upstream(self, gw: httpx.AsyncClient, tokens: TokenFactory) -> None:
        await gw.get("/v1/referrals", headers=tokens.headers())
        text = (await gw.get("/metrics")).text
        assert 'gateway_upstream_requests_total{status="200",upstream="referrals"}' in text
        assert 'gateway_upstream_duration_seconds_count{upstream="referrals"}' in text
        assert 'route="/v1/referrals/…"' in text


class CountingVerifier:
    """Wraps the real verifier and counts verifications."""

    def __init__(self, inner: TokenVerifier) -> None:
        self.inner = inner
        self.calls = 0

    @property
    def revocation_generation(self) -> int:
        return self.inner.revocation_generation

    async def verify(self, token: str) -> Principal:
        self.calls += 1
        return await self.inner.verify(token)


class TestVerifiedTokenCache:
    async def test_valid_token_is_verified_once(self, tokens: TokenFactory) -> None:
        verifier = CountingVerifier(tokens.verifier())
        edge = EdgeAuthenticator(verifier)  # type: ignore[arg-type]
        token = tokens.token()
        first = await edge.authenticate(token)
        second = await edge.authenticate(token)
        assert first.actor == second.actor
        assert verifier.calls == 1

    async def test_token_past_its_expiry_is_never_remembered(self, tokens: TokenFactory) -> None:
        verifier = CountingVerifier(tokens.verifier())
        edge = EdgeAuthenticator(verifier)  # type: ignore[arg-type]
        token = tokens.token(ttl=-10)  # expired, but inside the verifier's 30 s leeway
        await edge.authenticate(token)
        await edge.authenticate(token)
        assert verifier.calls == 2

    async def test_a_remembered_token_is_refused_once_its_subject_is_revoked(self, tokens: TokenFactory) -> None:
        revocations = RevocationList()
        revocations.mark_synced()
        inner = TokenVerifier(JWKSCache.static(tokens.jwks), issuer=ISSUER, audience=AUDIENCE,
                              revocations=revocations)
        edge = EdgeAuthenticator(inner)
        subject = uuid.uuid4()
        token = tokens.token(sub=subject, sub_ver=3)
        await edge.authenticate(token)
        revocations.apply({"cursor": 1, "entries": [{"subject": f"user:{subject}", "min_version": 4,
                                                     "expires_at": time.time() + 600}]})
        with pytest.raises(Unauthorized, match="revoked"):
            await edge.authenticate(token)
        fresh = tokens.token(sub=subject, sub_ver=4)
        assert (await edge.authenticate(fresh)).actor == f"user:{subject}"

    async def test_invalid_token_is_never_remembered(self, tokens: TokenFactory) -> None:
        edge = EdgeAuthenticator(tokens.verifier())
        for _ in range(2):
            with pytest.raises(Unauthorized):
                await edge.authenticate(TokenFactory.generate().token())
