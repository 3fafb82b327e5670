"""Access-token verification against identity's cached JWKS, the caller's principal, and scope checks."""

from __future__ import annotations

import asyncio
import time
import uuid
from collections.abc import Callable, Coroutine, Iterable
from dataclasses import dataclass, field
from typing import Annotated, Any

import httpx
import jwt
from fastapi import Depends, Request
from fastapi.security import OAuth2PasswordBearer

from himaya.errors import Forbidden, Unauthorized
from himaya.revocation import RevocationList

NATIONAL = "MA"
"""The territory code of the whole country: a national scope is explicit, never implied."""

REQUIRED_CLAIMS = ("iss", "aud", "sub", "exp", "iat", "jti", "scope", "role", "territories")


def territory_covers(scope_code: str, code: str) -> bool:
    """A territory scope covers itself and every territory below it (codes are dotted paths)."""
    return scope_code == NATIONAL or code == scope_code or code.startswith(scope_code + ".")


@dataclass(frozen=True, slots=True)
class Principal:
    """The verified caller of a request: a user or a machine client of an organisation."""

    subject_id: uuid.UUID
    subject_type: str  # "user" or "client"
    role: str
    scopes: frozenset[str]
    territories: tuple[str, ...]
    organization_id: uuid.UUID | None
    organization_type: str | None
    token_id: str = ""
    username: str | None = None
    claims: dict[str, Any] = field(default_factory=dict, compare=False, repr=False)

    @property
    def is_national(self) -> bool:
        """Whether the caller acts over the whole country."""
        return NATIONAL in self.territories

    def covers(self, territory_code: str | None) -> bool:
        """Whether `territory_code` lies inside one of the caller's territories."""
        if territory_code is None:
            return False
        return any(territory_covers(t, territory_code) for t in self.territories)

    def has_scope(self, scope: str) -> bool:
        """Whether the token carries `scope`."""
        return scope in self.scopes

    @property
    def actor(self) -> str:
        """How audit records name this caller."""
        return f"{self.subject_type}:{self.subject_id}"


def principal_from_claims(claims: dict[str, Any]) -> Principal:
    """Build a principal from verified claims; malformed claims are an invalid token."""
    try:
        sub_type, _, sub_id = str(claims["sub"]).partition(":")
        territories = claims["territories"]
        if not isinstance(territories, list) or not all(isinstance(t, str) for t in territories):
            raise ValueError("territories")
        org = claims.get("org")
        return Principal(
            subject_id=uuid.UUID(sub_id),
            subject_type=sub_type,
            role=str(claims["role"]),
            scopes=frozenset(str(claims["scope"]).split()),
            territories=tuple(territories),
            organization_id=uuid.UUID(org) if org else None,
            organization_type=claims.get("org_type"),
            token_id=str(claims["jti"]),
            username=claims.get("preferred_username"),
            claims=claims,
        )
    except (KeyError, ValueError, TypeError) as exc:
        raise Unauthorized("The token's claims are malformed.") from exc


JWKSFetcher = Callable[[], Coroutine[Any, Any, dict[str, Any]]]


class JWKSCache:
    """Public keys by key id, fetched from identity and refetched (at most once per cooldown) on an unknown kid."""

    def __init__(self, fetch: JWKSFetcher, *, cooldown_seconds: float = 30.0, max_age_seconds: float = 3600.0):
        self._fetch = fetch
        self._keys: dict[str, jwt.PyJWK] = {}
        self._fetched_at = 0.0
        self._cooldown = cooldown_seconds
        self._max_age = max_age_seconds
        self._lock = asyncio.Lock()

    @classmethod
    def from_url(cls, url: str, client: httpx.AsyncClient, **kwargs: Any) -> JWKSCache:
        """A cache that fetches the JWKS document at `url` with `client`."""

        async def fetch() -> dict[str, Any]:
            response = await client.get(url, timeout=5.0)
            response.raise_for_status()
            data: dict[str, Any] = response.json()
            return data

        return cls(fetch, **kwargs)

    @classmethod
    def static(cls, jwks: dict[str, Any]) -> JWKSCache:
        """A cache over a fixed key set (tests and identity itself)."""

        async def fetch() -> dict[str, Any]:
            return jwks

        return cls(fetch, cooldown_seconds=0.0)

    def load(self, jwks: dict[str, Any]) -> None:
        """Replace the cached keys with those of a JWKS document."""
        keys: dict[str, jwt.PyJWK] = {}
        for entry in jwks.get("keys", []):
            kid = entry.get("kid")
            if kid:
                try:
                    keys[kid] = jwt.PyJWK(entry)
                except jwt.PyJWKError:
                    continue
        self._keys = keys
        self._fetched_at = time.monotonic()

    async def _refresh(self, *, force: bool) -> None:
        async with self._lock:
            age = time.monotonic() - self._fetched_at
            if self._keys and not force and age < self._max_age:
                return
            if force and self._fetched_at and age < self._cooldown:
                return
            try:
                self.load(await self._fetch())
            except Exception:  # identity unreachable: keep the keys we have
                if not self._keys:
                    raise

    def forget(self, kid: str) -> None:
        """Drop a withdrawn key at once, and let the next unknown kid be fetched without waiting for the
        cooldown (its replacement is signing already)."""
        self._keys.pop(kid, None)
        self._fetched_at = 0.0 if not self._keys else self._fetched_at - self._cooldown

    def knows(self, kid: str) -> bool:
        """Whether `kid` is among the keys held now (no fetch)."""
        return kid in self._keys

    async def get(self, kid: str) -> jwt.PyJWK | None:
        """The key for `kid`, refetching once (subject to the cooldown) when it is unknown."""
        key = self._keys.get(kid)
        if key is not None and time.monotonic() - self._fetched_at < self._max_age:
            return key
        try:
            await self._refresh(force=key is None)
        except Exception:
            return key
        return self._keys.get(kid)


class TokenVerifier:
    """Verifies access tokens with a pinned algorithm list, issuer and audience.

    A verified token is remembered (up to `cache_size` tokens) until its `exp`, while its key is still in
    the JWKS: a client sends the same token for many requests, and parsing and checking the signature is
    most of the CPU of a small read. An expired, tampered or differently spelt token never hits the cache.
    With `revocations`, every token (cached or not) is also checked against identity's deny-list.
    """

    def __init__(self, jwks: JWKSCache, *, issuer: str, audience: str, algorithms: Iterable[str] = ("EdDSA",),
                 leeway_seconds: int = 30, cache_size: int = 4096,
                 revocations: RevocationList | None = None) -> None:
        self.jwks = jwks
        self.issuer = issuer
        self.audience = audience
        self.algorithms = list(algorithms)
        self.leeway = leeway_seconds
        self.cache_size = cache_size
        self._verified: dict[str, tuple[float, str, Principal]] = {}
        self.revocations = revocations
        if revocations is not None:
            revocations.on_key_revoked(jwks.forget)

    @property
    def revocation_generation(self) -> int:
        """Changes whenever the deny-list gains entries: caches of verified tokens outside this verifier
        forget what they hold then."""
        return self.revocations.generation if self.revocations is not None else 0

    async def verify(self, token: str) -> Principal:
        """Return the principal of a valid, unrevoked token or raise Unauthorized."""
        cached = self._verified.get(token)
        if cached is not None:
            expires, kid, principal = cached
            if time.time() < expires and self.jwks.knows(kid):
                if self.revocations is not None:
                    self.revocations.check(principal.claims, kid)
                return principal
            self._verified.pop(token, None)
        principal, kid, expires = await self._verify(token)
        if self.revocations is not None:
            self.revocations.check(principal.claims, kid)
        if self.cache_size > 0:
            if len(self._verified) >= self.cache_size:
                now = time.time()
                for stale in [t for t, (exp, _, _) in self._verified.items() if exp <= now]:
                    del self._verified[stale]
                while len(self._verified) >= self.cache_size:  # still full: forget the oldest entries
                    del self._verified[next(iter(self._verified))]
            self._verified[token] = (expires, kid, principal)
        return principal

    async def _verify(self, token: str) -> tuple[Principal, str, float]:
        try:
            header = jwt.get_unverified_header(token)
        except jwt.PyJWTError as exc:
            raise Unauthorized("The token is malformed.") from exc
        alg, kid = header.get("alg"), header.get("kid")
        if alg not in self.algorithms or not isinstance(kid, str):
            raise Unauthorized("The token's algorithm or key id is not accepted.")
        if self.revocations is not None and self.revocations.withdrawn(kid):
            raise Unauthorized("The token's signing key has been revoked.")
        key = await self.jwks.get(kid)
        if key is None:
            raise Unauthorized("The token was signed by an unknown key.")
        try:
            claims = jwt.decode(
                token, key=key, algorithms=self.algorithms, audience=self.audience, issuer=self.issuer,
                leeway=self.leeway, options={"require": list(REQUIRED_CLAIMS)},
            )
        except jwt.ExpiredSignatureError as exc:
            raise Unauthorized("The token has expired.") from exc
        except jwt.PyJWTError as exc:
            raise Unauthorized("The token is not valid.") from exc
        if claims.get("typ", "access") != "access":
            raise Unauthorized("This is not an access token.")
        return principal_from_claims(claims), kid, float(claims["exp"])


oauth2_scheme = OAuth2PasswordBearer(tokenUrl="/v1/auth/token", auto_error=False)


async def get_principal(request: Request, token: Annotated[str | None, Depends(oauth2_scheme)]) -> Principal:
    """The verified caller; 401 problem when the bearer token is missing or invalid."""
    if not token:
        raise Unauthorized("A bearer token is required.")
    verifier: TokenVerifier = request.app.state.token_verifier
    principal = await verifier.verify(token)
    request.scope.setdefault("state", {})["caller_id"] = principal.actor
    return principal


CurrentPrincipal = Annotated[Principal, Depends(get_principal)]


def require_scopes(*scopes: str) -> Callable[..., Coroutine[Any, Any, Principal]]:
    """A dependency that returns the caller if the token carries every scope in `scopes`, else 403."""
    needed = frozenset(scopes)

    async def dependency(principal: CurrentPrincipal) -> Principal:
        if not needed <= principal.scopes:
            raise Forbidden("The token lacks a scope this operation needs.")
        return principal

    dependency.__name__ = "require_" + "_".join(s.replace(":", "_") for s in scopes)
    return dependency
