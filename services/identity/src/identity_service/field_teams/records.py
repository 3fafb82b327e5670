"""The typed records of field teams and their members."""

from __future__ import annotations

import uuid
from dataclasses import dataclass
from datetime import datetime


@dataclass(frozen=True)
class FieldTeamMember:
    """A focal point of their organisation in a field team."""

    user_id: uuid.UUID
    full_name: str
    role: str
    organization_id: uuid.UUID
    organization_type: str


@dataclass(frozen=True)
class FieldTeam:
    """A prefecture's multidisciplinary field team."""

    id: uuid.UUID
    territory_code: str
    name: str
    created_at: datetime
    updated_at: datetime
    version: int
    members: tuple[FieldTeamMember, ...] = ()
