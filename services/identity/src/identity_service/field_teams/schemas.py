"""Request and response models of field teams."""

from __future__ import annotations

import uuid
from datetime import datetime
from typing import Annotated

from pydantic import BaseModel, Field

from identity_service.core.schemas import Name, Request, TerritoryCode


class FieldTeamCreate(Request):
    """A prefecture's multidisciplinary field team and its focal points."""

    territory_code: TerritoryCode
    name: Name
    members: Annotated[list[uuid.UUID], Field(max_length=100)] = []  # noqa: RUF012 (pydantic copies it)


class FieldTeamUpdate(Request):
    """A new name or the complete new member list."""

    name: Name | None = None
    members: Annotated[list[uuid.UUID], Field(max_length=100)] | None = None


class FieldTeamMember(BaseModel):
    """A focal point of their organisation in a field team."""

    user_id: uuid.UUID
    full_name: str
    role: str
    organization_id: uuid.UUID
    organization_type: str


class FieldTeamRead(BaseModel):
    """A field team with its members."""

    id: uuid.UUID
    territory_code: str
    name: str
    members: list[FieldTeamMember]
    created_at: datetime
    updated_at: datetime
