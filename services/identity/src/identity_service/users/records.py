"""The typed records of users (never with the password hash: the token endpoint reads it on its own)."""

from __future__ import annotations

import uuid
from dataclasses import dataclass
from datetime import datetime

from himaya.auth import Principal
from identity_service.clients.records import Client
from identity_service.organizations.records import Organization


@dataclass(frozen=True)
class User:
    """A person who logs in, with their organisation's type."""

    id: uuid.UUID
    username: str
    full_name: str
    email: str | None
    organization_id: uuid.UUID
    organization_type: str
    role: str
    territories: list[str]
    active: bool
    password_changed_at: datetime
    last_login_at: datetime | None
    created_at: datetime
    updated_at: datetime
    version: int


@dataclass(frozen=True)
class Me:
    """The caller as identity knows them."""

    principal: Principal
    organization: Organization
    user: User | None
    client: Client | None
