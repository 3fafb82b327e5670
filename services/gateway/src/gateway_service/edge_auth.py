"""Edge authentication: which paths are public, the request headers, and bearer tokens verified once per process.

The services verify every token again; the gateway's check only refuses early what would be refused
anyway, so a request with a bad token never costs a service anything.
"""

from __future__ import annotations

import time
from dataclasses import dataclass

from himaya.auth import TokenVerifier
from himaya.errors import DomainError, Unauthorized

# (method or None for any, exact path) pairs that need no token.
PUBLIC_EXACT: frozenset[tuple[str | None, str]] = frozenset({
    ("POST", "/v1/auth/token"),
    ("POST", "/v1/auth/revoke"),
    (None, "/.well-known/jwks.json"),
    (None, "/openapi.json"),
    (None, "/docs"),
    (None, "/docs/oauth2-redirect"),
    (None, "/healthz"),
    (None, "/readyz"),
    (None, "/metrics"),
})
PUBLIC_PREFIXES = ("/docs/assets/",)


def is_public(method: str, path: str) -> bool:
    """Whether `method path` passes the edge without a token."""
    if (None, path) in PUBLIC_EXACT or (method, path) in PUBLIC_EXACT:
        return True
    return path.startswith(PUBLIC_PREFIXES)


# Headers a request may carry only once. Two values are ambiguous: the gateway and a service (or two
# services) could each read a different one, e.g. the gateway check one token and a service act on another.
SINGLE_HEADERS = frozenset({b"authorization", b"host", b"content-length", b"content-type", b"idempotency-key",
                            b"if-match", b"transfer-encoding"})


class RepeatedHeader(DomainError):
    """A header that must appear once appears several times (400)."""

    code = "repeated_header"
    title = "Repeated header"


@dataclass(frozen=True, slots=True)
class EdgeHeaders:
    """What the edge reads of the request headers: the credentials, the announced length, and any repetition."""

    authorization: bytes | None = None
    content_length: bytes | None = None
    repeated: str | None = None


def edge_headers(headers: list[tuple[bytes, bytes]]) -> EdgeHeaders:
    """Read the headers the edge needs in one pass, and name the first single-valued header given twice."""
    authorization = content_length = None
    seen: set[bytes] = set()
    repeated = None
    for name, value in headers:
        if name in SINGLE_HEADERS:
            if name in seen and repeated is None:
                repeated = name.decode("latin-1")
            seen.add(name)
            if name == b"authorization":
                authorization = value
            elif name == b"content-length":
                content_length = value
    return EdgeHeaders(authorization, content_length, repeated)


def bearer_token(authorization: bytes | None) -> str | None:
    """The token of an `Authorization: Bearer …` header, or None."""
    if not authorization or len(authorization) < 8 or authorization[:7].lower() != b"bearer ":
        return None
    token = authorization[7:].strip()
    return token.decode("latin-1") if token else None


@dataclass(frozen=True, slots=True)
class Caller:
    """What the gateway keeps of a verified token: who, and until when the token is valid."""

    actor: str
    expires_at: float


class EdgeAuthenticator:
    """Verifies bearer tokens with the shared verifier and remembers valid ones until they expire."""

    def __init__(self, verifier: TokenVerifier, *, cache_size: int = 10_000) -> None:
        self.verifier = verifier
        self._cache: dict[str, Caller] = {}
        self._cache_size = cache_size

    async def authenticate(self, token: str | None) -> Caller:
        """The caller of a valid token; Unauthorized when it is missing or invalid."""
        if not token:
            raise Unauthorized("A bearer token is required.")
        cached = self._cache.get(token)
        now = time.time()
        if cached is not None:
            if cached.expires_at > now:
                return cached
            del self._cache[token]
        principal = await self.verifier.verify(token)
        # Remember only until the token's own expiry (without the verifier's leeway).
        caller = Caller(actor=principal.actor, expires_at=float(principal.claims["exp"]))
        if caller.expires_at > now and self._cache_size > 0:
            if len(self._cache) >= self._cache_size:
                self._cache = {t: c for t, c in self._cache.items() if c.expires_at > now}
                if len(self._cache) >= self._cache_size:
                    self._cache.clear()
            self._cache[token] = caller
        return caller
