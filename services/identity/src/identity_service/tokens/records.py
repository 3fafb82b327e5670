"""The typed records of the token endpoint: what a grant reads of a user or client, refresh tokens, and the
tokens it issues."""

from __future__ import annotations

import uuid
from dataclasses import dataclass
from datetime import datetime


@dataclass(frozen=True)
class Credentials:
    """A user as a login reads them: the password hash and what the token carries."""

    id: uuid.UUID
    username: str
    organization_id: uuid.UUID
    organization_type: str
    role: str
    territories: list[str]
    active: bool
    version: int
    password_hash: str | None = None


@dataclass(frozen=True)
class ClientCredentials:
    """A machine client as client authentication reads it."""

    id: uuid.UUID
    organization_id: uuid.UUID
    organization_type: str
    scopes: list[str]
    territories: list[str]
    active: bool
    version: int


@dataclass(frozen=True)
class RefreshToken:
    """A refresh token of a login (its digest only is stored)."""

    id: uuid.UUID
    family_id: uuid.UUID
    user_id: uuid.UUID
    created_at: datetime
    expires_at: datetime
    used_at: datetime | None
    revoked_at: datetime | None


@dataclass(frozen=True)
class IssuedTokens:
    """What the token endpoint answers."""

    access_token: str
    expires_in: int
    scope: str
    refresh_token: str | None = None
