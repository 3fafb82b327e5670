"""The typed records of signing keys: a published key's lifecycle, and a decrypted key ready to sign."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from typing import Any

from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey


@dataclass(frozen=True)
class PublishedKey:
    """A key in the JWKS (pending, signing, or retired while its last token may be valid)."""

    kid: str
    algorithm: str
    public_jwk: dict[str, Any]
    created_at: datetime
    activates_at: datetime
    retires_at: datetime | None
    expires_at: datetime | None


@dataclass(frozen=True)
class KeyState:
    """A published key's lifecycle and its state at the time asked."""

    kid: str
    algorithm: str
    state: str
    created_at: datetime
    activates_at: datetime
    retires_at: datetime | None
    expires_at: datetime | None


@dataclass(frozen=True)
class SigningKey:
    """A decrypted private key and its id, ready to sign."""

    kid: str
    private_key: Ed25519PrivateKey
