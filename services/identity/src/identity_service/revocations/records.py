"""The typed records of the revocation feed."""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime


@dataclass(frozen=True)
class RevocationEntry:
    """A user's or client's tokens below `min_version`, or a key's tokens (issued after `issued_after`, or all
    of them), refused until `expires_at`."""

    id: int
    subject: str | None
    min_version: int | None
    kid: str | None
    issued_after: datetime | None
    expires_at: datetime


@dataclass(frozen=True)
class RevocationPage:
    """The entries after a cursor, the cursor to ask from next, and whether to replace the list (`reset`) or
    ask again at once (`more`)."""

    cursor: int
    reset: bool
    more: bool
    entries: list[RevocationEntry] = field(default_factory=list)
