"""Models of the OAuth2 token and revocation endpoints."""

from __future__ import annotations

from typing import Any, Literal

from pydantic import BaseModel, Field


class TokenResponse(BaseModel):
    """RFC 6749 §5.1 access token response."""

    access_token: str
    token_type: Literal["Bearer"] = "Bearer"
    expires_in: int
    scope: str
    refresh_token: str | None = None


class JWKS(BaseModel):
    """A JSON Web Key Set (RFC 7517) of Ed25519 public keys."""

    keys: list[dict[str, Any]] = Field(default_factory=list)
