"""Models of the OAuth2 token and revocation endpoints."""

from __future__ import annotations

from datetime import datetime
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


class RevocationEntry(BaseModel):
    """One revocation: a user's or client's tokens below `min_version`, or a signing key's tokens (issued
    after `issued_after`, or all of them when it is null), refused until `expires_at`."""

    id: int
    subject: str | None = None
    min_version: int | None = None
    kid: str | None = None
    issued_after: datetime | None = None
    expires_at: datetime


class RevocationFeed(BaseModel):
    """The revocations after a cursor; `reset`: replace the list held with these; `more`: ask again now."""

    cursor: int
    reset: bool
    more: bool
    entries: list[RevocationEntry]
