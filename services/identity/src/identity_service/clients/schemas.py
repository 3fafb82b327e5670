"""Request and response models of machine clients."""

from __future__ import annotations

import uuid
from datetime import datetime
from typing import Annotated

from pydantic import BaseModel, Field

from identity_service.core.schemas import ClientScope, Name, Request, Territories


class ClientCreate(Request):
    """A new machine client of a partner system."""

    name: Name
    organization_id: uuid.UUID
    scopes: Annotated[list[ClientScope], Field(min_length=1)]
    territories: Territories


class ClientUpdate(Request):
    """Fields of a client to change; `active: false` stops it obtaining tokens."""

    name: Name | None = None
    scopes: Annotated[list[ClientScope], Field(min_length=1)] | None = None
    territories: Territories | None = None
    active: bool | None = None


class ClientRead(BaseModel):
    """A machine client (its secret is never shown again after creation or rotation)."""

    id: uuid.UUID
    name: str
    organization_id: uuid.UUID
    organization_type: str
    scopes: list[str]
    territories: list[str]
    active: bool
    created_at: datetime
    updated_at: datetime


class ClientWithSecret(ClientRead):
    """A client with its new secret: store it now, it is shown only this once."""

    client_id: uuid.UUID
    client_secret: str
    previous_secrets_expire_at: datetime | None = None


class SecretRotation(Request):
    """How long the client's current secrets keep working after the new one is issued."""

    overlap_seconds: Annotated[int, Field(ge=0, le=7 * 24 * 3600)] | None = None
