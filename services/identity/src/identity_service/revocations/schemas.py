"""Models of the revocation feed every verifier polls."""

from __future__ import annotations

from datetime import datetime

from pydantic import BaseModel


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
