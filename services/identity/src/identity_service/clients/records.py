"""The typed record of a machine client (its secrets are stored as digests only, never read back)."""

from __future__ import annotations

import uuid
from dataclasses import dataclass
from datetime import datetime


@dataclass(frozen=True)
class Client:
    """A partner system's machine client, with its organisation's type."""

    id: uuid.UUID
    name: str
    organization_id: uuid.UUID
    organization_type: str
    scopes: list[str]
    territories: list[str]
    active: bool
    created_at: datetime
    updated_at: datetime
    version: int
