"""Models of the JWKS document and of the signing keys' lifecycle."""

from __future__ import annotations

from datetime import datetime
from typing import Any, Literal

from pydantic import BaseModel, Field


class JWKS(BaseModel):
    """A JSON Web Key Set (RFC 7517) of Ed25519 public keys."""

    keys: list[dict[str, Any]] = Field(default_factory=list)


class SigningKeyRead(BaseModel):
    """A published signing key's lifecycle (the private key never leaves identity)."""

    kid: str
    algorithm: str
    state: Literal["pending", "signing", "retired"]
    created_at: datetime
    activates_at: datetime
    retires_at: datetime | None
    expires_at: datetime | None
