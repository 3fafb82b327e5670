"""Request and response models of users and of the caller (/v1/me)."""

from __future__ import annotations

import uuid
from datetime import datetime
from typing import Literal

from pydantic import BaseModel

from identity_service.core.schemas import Email, Name, Password, Request, Territories, Username, UserRole


class UserCreate(Request):
    """A new user; the password is set now and never returned. Created by an organisation administrator with a
    role that reaches case data, the account is inactive until an administrator activates it and sets its
    password (decision 0101)."""

    username: Username
    full_name: Name
    email: Email | None = None
    organization_id: uuid.UUID
    role: UserRole
    territories: Territories
    password: Password


class UserUpdate(Request):
    """Fields of a user to change; `active: false` deactivates and revokes their refresh tokens. The caller must
    manage the account both before and after the change; activating an account that reaches case data, or
    setting its password, is an administrator's (with a new password in the same request)."""

    full_name: Name | None = None
    email: Email | None = None
    role: UserRole | None = None
    territories: Territories | None = None
    active: bool | None = None
    password: Password | None = None


class UserDirectoryEntry(BaseModel):
    """What another service checks before assigning a user to a case: organisation, role, territories and
    whether the account is active (no name, username or contact)."""

    id: uuid.UUID
    organization_id: uuid.UUID
    organization_type: str
    role: str
    territories: list[str]
    active: bool


class UserRead(BaseModel):
    """A user (the password is never returned)."""

    id: uuid.UUID
    username: str
    full_name: str
    email: str | None
    organization_id: uuid.UUID
    organization_type: str
    role: str
    territories: list[str]
    active: bool
    last_login_at: datetime | None
    created_at: datetime
    updated_at: datetime


class MeOrganization(BaseModel):
    """The caller's organisation."""

    id: uuid.UUID
    name: str
    type: str
    territory_code: str
    court_code: str | None


class MeRead(BaseModel):
    """The caller: a user or a machine client, with organisation, role, scopes and territories."""

    subject: str
    subject_type: Literal["user", "client"]
    id: uuid.UUID
    username: str | None = None
    full_name: str | None = None
    name: str | None = None
    role: str
    scopes: list[str]
    territories: list[str]
    organization: MeOrganization
