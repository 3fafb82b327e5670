"""Request and response models of organisations."""

from __future__ import annotations

import uuid
from datetime import datetime

from pydantic import BaseModel

from identity_service.core.enums import OrganizationType
from identity_service.core.schemas import CourtCode, Name, Request, TerritoryCode


class OrganizationCreate(Request):
    """A new organisation; a prosecution office names its court."""

    name: Name
    type: OrganizationType
    territory_code: TerritoryCode
    court_code: CourtCode | None = None


class OrganizationUpdate(Request):
    """Fields of an organisation to change."""

    name: Name | None = None
    type: OrganizationType | None = None
    territory_code: TerritoryCode | None = None
    court_code: CourtCode | None = None


class OrganizationRead(BaseModel):
    """An organisation."""

    id: uuid.UUID
    name: str
    type: OrganizationType
    territory_code: str
    court_code: str | None
    created_at: datetime
    updated_at: datetime
