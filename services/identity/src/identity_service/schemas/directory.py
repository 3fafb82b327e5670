"""Request and response models of organisations, users, clients, field teams, reference data and /v1/me."""

from __future__ import annotations

import uuid
from datetime import datetime
from typing import Annotated, Literal

from pydantic import BaseModel, ConfigDict, Field, StringConstraints

from identity_service.domain.policy import OrganizationType

Name = Annotated[str, StringConstraints(strip_whitespace=True, min_length=1, max_length=200)]
Username = Annotated[str, StringConstraints(strip_whitespace=True, min_length=3, max_length=64,
                                            pattern=r"^[A-Za-z0-9._@-]+$")]
TerritoryCode = Annotated[str, StringConstraints(min_length=2, max_length=32, pattern=r"^(MA|\d{2}(\.\d{2,3}){0,3})$")]
CourtCode = Annotated[str, StringConstraints(min_length=2, max_length=16, pattern=r"^[A-Z]{2,3}-[A-Z]{3}$")]
Email = Annotated[str, StringConstraints(strip_whitespace=True, max_length=254,
                                          pattern=r"^[^@\s]+@[^@\s]+\.[^@\s]+$")]
Password = Annotated[str, StringConstraints(min_length=1, max_length=256)]
UserRole = Literal["admin", "org_admin", "police_officer", "prosecutor", "court_social_worker", "case_manager",
                   "team_coordinator", "focal_point", "eps_staff", "ngo_worker", "steering_viewer", "auditor"]
ClientScope = Literal["directory:read", "cases:read", "referrals:read", "referrals:receive", "decisions:write",
                      "webhooks:manage", "offences:read"]
Territories = Annotated[list[TerritoryCode], Field(min_length=1, max_length=50)]


class Request(BaseModel):
    """Base of request bodies: unknown fields are refused."""

    model_config = ConfigDict(extra="forbid")


# ---- organisations --------------------------------------------------------------------------------------

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


# ---- users ----------------------------------------------------------------------------------------------

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


# ---- machine clients ------------------------------------------------------------------------------------

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


# ---- field teams ----------------------------------------------------------------------------------------

class FieldTeamCreate(Request):
    """A prefecture's multidisciplinary field team and its focal points."""

    territory_code: TerritoryCode
    name: Name
    members: Annotated[list[uuid.UUID], Field(max_length=100)] = []


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


# ---- reference data and the caller ----------------------------------------------------------------------

class TerritoryRead(BaseModel):
    """A territory; `name` is in the language asked for with Accept-Language (Arabic or French)."""

    code: str
    level: Literal["region", "prefecture", "commune", "arrondissement"]
    name: str
    name_ar: str
    name_fr: str
    parent_code: str | None
    phase: str | None
    case_prefix: str | None


class RoleRead(BaseModel):
    """A role and the scopes its tokens carry."""

    role: str
    scopes: list[str]


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


class SigningKeyRead(BaseModel):
    """A published signing key's lifecycle (the private key never leaves identity)."""

    kid: str
    algorithm: str
    state: Literal["pending", "signing", "retired"]
    created_at: datetime
    activates_at: datetime
    retires_at: datetime | None
    expires_at: datetime | None
