"""Organisations, users, machine clients and field teams."""

from __future__ import annotations

import uuid
from collections.abc import Awaitable, Callable
from datetime import timedelta
from typing import Annotated, Any

from fastapi import APIRouter, Depends, Query, Request, Response
from pydantic import BaseModel

from himaya.auth import Principal
from himaya.db import SessionDep
from himaya.errors import Forbidden, problem_responses
from himaya.etag import make_etag, required_version
from himaya.idempotency import Idempotency, idempotency_dependency
from himaya.pagination import Page, PageDep
from himaya.scopes import Scope
from identity_service.api.deps import ActivePrincipal, SettingsDep, utc_now
from identity_service.db.tables import idempotency_keys
from identity_service.domain import directory
from identity_service.domain.policy import OrganizationType
from identity_service.schemas.directory import (
    ClientCreate,
    ClientRead,
    ClientUpdate,
    ClientWithSecret,
    FieldTeamCreate,
    FieldTeamRead,
    FieldTeamUpdate,
    OrganizationCreate,
    OrganizationRead,
    OrganizationUpdate,
    SecretRotation,
    TerritoryCode,
    UserCreate,
    UserDirectoryEntry,
    UserRead,
    UserRole,
    UserUpdate,
)

router = APIRouter()
IdempotencyDep = Annotated[Idempotency, idempotency_dependency(idempotency_keys)]
READ_ERRORS = problem_responses(401, 403, 404, 422)
WRITE_ERRORS = problem_responses(401, 403, 404, 409, 412, 422, 428)


async def require_directory_read(principal: ActivePrincipal) -> Principal:
    """The caller, if their token carries directory:read."""
    if not principal.has_scope(Scope.DIRECTORY_READ):
        raise Forbidden("This operation needs the directory:read scope.")
    return principal


DirectoryReader = Annotated[Principal, Depends(require_directory_read)]


def _etag(response: Response, row: Any) -> None:
    response.headers["ETag"] = make_etag(row["version"])


async def _create(idem: Idempotency, session: SessionDep, principal: Principal, body: Any,
                  create: Callable[[], Awaitable[Any]], read: Callable[[Any], BaseModel]) -> Response:
    """Create once per Idempotency-Key: `create` returns the new row, `read` its response model. First answers
    and replays are the same bytes and carry the row's ETag."""
    etag: dict[str, str] = {}

    async def produce() -> BaseModel:
        row = await create()
        etag["ETag"] = make_etag(row["version"])
        return read(row)

    return await idem.run(session, caller=principal.actor, request_body=body, produce=produce,
                          headers=lambda _: etag)


# ---- organisations --------------------------------------------------------------------------------------

@router.post("/v1/organizations", status_code=201, response_model=OrganizationRead, tags=["organizations"],
             responses=problem_responses(401, 403, 409, 422))
async def create_organization(body: OrganizationCreate, session: SessionDep, principal: ActivePrincipal,
                              idem: IdempotencyDep) -> Any:
    """Create an organisation (admin)."""
    return await _create(idem, session, principal, body, lambda: directory.create_organization(
        session, principal=principal, name=body.name, type_=body.type, territory_code=body.territory_code,
        court_code=body.court_code), lambda row: OrganizationRead.model_validate(dict(row)))


@router.get("/v1/organizations", response_model=Page[OrganizationRead], tags=["organizations"],
            responses=READ_ERRORS)
async def list_organizations(
    session: SessionDep, principal: DirectoryReader, page: PageDep,
    type: Annotated[OrganizationType | None, Query(description="Only this type.")] = None,
    territory_code: Annotated[TerritoryCode | None, Query(description="In this territory or below.")] = None,
) -> Page[OrganizationRead]:
    """List organisations (any caller with directory:read)."""
    rows, cursor = await directory.list_organizations(session, type_=type, territory_code=territory_code,
                                                      cursor=page.cursor, limit=page.limit)
    return Page(items=[OrganizationRead.model_validate(dict(r)) for r in rows], next_cursor=cursor)


@router.get("/v1/organizations/{organization_id}", response_model=OrganizationRead, tags=["organizations"],
            responses=READ_ERRORS)
async def get_organization(organization_id: uuid.UUID, session: SessionDep, principal: DirectoryReader,
                           response: Response) -> OrganizationRead:
    """One organisation."""
    row = await directory.get_organization(session, organization_id=organization_id)
    _etag(response, row)
    return OrganizationRead.model_validate(dict(row))


@router.patch("/v1/organizations/{organization_id}", response_model=OrganizationRead, tags=["organizations"],
              responses=WRITE_ERRORS)
async def update_organization(organization_id: uuid.UUID, body: OrganizationUpdate, request: Request,
                              session: SessionDep, principal: ActivePrincipal, response: Response) -> OrganizationRead:
    """Change an organisation (admin; If-Match)."""
    row = await directory.update_organization(session, principal=principal, organization_id=organization_id,
                                              expected_version=required_version(request),
                                              changes=body.model_dump(exclude_unset=True))
    _etag(response, row)
    return OrganizationRead.model_validate(dict(row))


# ---- users ----------------------------------------------------------------------------------------------

@router.post("/v1/users", status_code=201, response_model=UserRead, tags=["users"],
             responses=problem_responses(401, 403, 409, 422))
async def create_user(body: UserCreate, session: SessionDep, principal: ActivePrincipal, idem: IdempotencyDep) -> Any:
    """Create a user (admin, or an organisation administrator within their organisation and territories)."""
    # The fingerprint leaves the password out: a fast hash of it must never be stored.
    return await _create(idem, session, principal, body.model_dump(mode="json", exclude={"password"}),
                         lambda: directory.create_user(
                             session, principal=principal, username=body.username, full_name=body.full_name,
                             email=body.email, organization_id=body.organization_id, role=body.role,
                             territories=body.territories, password=body.password),
                         lambda row: UserRead.model_validate(dict(row)))


@router.get("/v1/users", response_model=Page[UserRead], tags=["users"], responses=READ_ERRORS)
async def list_users(
    session: SessionDep, principal: ActivePrincipal, page: PageDep,
    organization_id: uuid.UUID | None = None, role: UserRole | None = None, active: bool | None = None,
) -> Page[UserRead]:
    """List users (admin: all; organisation administrator: their organisation's)."""
    rows, cursor = await directory.list_users(session, principal=principal, organization_id=organization_id,
                                              role=role, active=active, cursor=page.cursor, limit=page.limit)
    return Page(items=[UserRead.model_validate(dict(r)) for r in rows], next_cursor=cursor)


@router.get("/v1/users/{user_id}", response_model=UserRead, tags=["users"], responses=READ_ERRORS)
async def get_user(user_id: uuid.UUID, session: SessionDep, principal: ActivePrincipal,
                   response: Response) -> UserRead:
    """One user the caller administers."""
    row = await directory.get_user(session, principal=principal, user_id=user_id)
    _etag(response, row)
    return UserRead.model_validate(dict(row))


@router.get("/v1/users/{user_id}/directory-entry", response_model=UserDirectoryEntry, tags=["users"],
            responses=READ_ERRORS)
async def get_user_directory_entry(user_id: uuid.UUID, session: SessionDep,
                                   principal: DirectoryReader) -> UserDirectoryEntry:
    """A user's organisation, role, territories and status (no name or contact), for assignment checks."""
    row = await directory.get_user_entry(session, user_id=user_id)
    return UserDirectoryEntry.model_validate(dict(row))


@router.patch("/v1/users/{user_id}", response_model=UserRead, tags=["users"], responses=WRITE_ERRORS)
async def update_user(user_id: uuid.UUID, body: UserUpdate, request: Request, session: SessionDep,
                      principal: ActivePrincipal, response: Response) -> UserRead:
    """Change a user (If-Match); deactivating, a new password or new grants revoke their refresh tokens."""
    row = await directory.update_user(session, principal=principal, user_id=user_id,
                                      expected_version=required_version(request),
                                      changes=body.model_dump(exclude_unset=True), now=utc_now())
    _etag(response, row)
    return UserRead.model_validate(dict(row))


@router.post("/v1/users/{user_id}/unlock", status_code=204, tags=["users"],
             responses=problem_responses(401, 403, 404))
async def unlock_user(user_id: uuid.UUID, session: SessionDep, principal: ActivePrincipal) -> Response:
    """Lift a login lockout on a user."""
    await directory.unlock_user(session, principal=principal, user_id=user_id)
    return Response(status_code=204)


# ---- machine clients ------------------------------------------------------------------------------------

@router.post("/v1/clients", status_code=201, response_model=ClientWithSecret, tags=["clients"],
             responses=problem_responses(401, 403, 409, 422))
async def create_client(body: ClientCreate, session: SessionDep, principal: ActivePrincipal,
                        response: Response) -> ClientWithSecret:
    """Create a machine client (admin). The secret is in this response only; store it now.

    No Idempotency-Key here: replaying would mean storing the secret. A retry answers 409 (the name is
    taken); rotate the secret if the first answer was lost."""
    row, secret = await directory.create_client(session, principal=principal, name=body.name,
                                                organization_id=body.organization_id, scopes=body.scopes,
                                                territories=body.territories, now=utc_now())
    response.headers["Cache-Control"] = "no-store"
    _etag(response, row)
    return ClientWithSecret.model_validate({**dict(row), "client_id": row["id"], "client_secret": secret})


@router.get("/v1/clients", response_model=Page[ClientRead], tags=["clients"], responses=READ_ERRORS)
async def list_clients(session: SessionDep, principal: ActivePrincipal, page: PageDep,
                       organization_id: uuid.UUID | None = None) -> Page[ClientRead]:
    """List machine clients (admin)."""
    rows, cursor = await directory.list_clients(session, principal=principal, organization_id=organization_id,
                                                cursor=page.cursor, limit=page.limit)
    return Page(items=[ClientRead.model_validate(dict(r)) for r in rows], next_cursor=cursor)


@router.get("/v1/clients/{client_id}", response_model=ClientRead, tags=["clients"], responses=READ_ERRORS)
async def get_client(client_id: uuid.UUID, session: SessionDep, principal: ActivePrincipal,
                     response: Response) -> ClientRead:
    """One machine client (admin)."""
    row = await directory.get_client(session, principal=principal, client_id=client_id)
    _etag(response, row)
    return ClientRead.model_validate(dict(row))


@router.patch("/v1/clients/{client_id}", response_model=ClientRead, tags=["clients"], responses=WRITE_ERRORS)
async def update_client(client_id: uuid.UUID, body: ClientUpdate, request: Request, session: SessionDep,
                        principal: ActivePrincipal, response: Response) -> ClientRead:
    """Change a machine client (admin; If-Match); `active: false` stops it obtaining tokens."""
    row = await directory.update_client(session, principal=principal, client_id=client_id,
                                        expected_version=required_version(request),
                                        changes=body.model_dump(exclude_unset=True), now=utc_now())
    _etag(response, row)
    return ClientRead.model_validate(dict(row))


@router.post("/v1/clients/{client_id}/rotate-secret", response_model=ClientWithSecret, tags=["clients"],
             responses=problem_responses(401, 403, 404, 422))
async def rotate_client_secret(client_id: uuid.UUID, session: SessionDep, principal: ActivePrincipal,
                               settings: SettingsDep, response: Response,
                               body: SecretRotation | None = None) -> ClientWithSecret:
    """Issue a new secret (shown once); the previous ones keep working for the overlap window."""
    overlap = body.overlap_seconds if body and body.overlap_seconds is not None \
        else settings.client_secret_overlap_seconds
    row, secret, old_until = await directory.rotate_client_secret(
        session, principal=principal, client_id=client_id, overlap=timedelta(seconds=overlap), now=utc_now())
    response.headers["Cache-Control"] = "no-store"
    return ClientWithSecret.model_validate({**dict(row), "client_id": row["id"], "client_secret": secret,
                                           "previous_secrets_expire_at": old_until})


# ---- field teams ----------------------------------------------------------------------------------------

@router.post("/v1/field-teams", status_code=201, response_model=FieldTeamRead, tags=["field teams"],
             responses=problem_responses(401, 403, 404, 409, 422))
async def create_field_team(body: FieldTeamCreate, session: SessionDep, principal: ActivePrincipal,
                            idem: IdempotencyDep) -> Any:
    """Create a prefecture's field team (admin, or a team coordinator in their territories)."""
    return await _create(idem, session, principal, body, lambda: directory.create_field_team(
        session, principal=principal, territory_code=body.territory_code, name=body.name,
        member_ids=body.members), FieldTeamRead.model_validate)


@router.get("/v1/field-teams", response_model=Page[FieldTeamRead], tags=["field teams"], responses=READ_ERRORS)
async def list_field_teams(
    session: SessionDep, principal: DirectoryReader, page: PageDep,
    territory_code: Annotated[TerritoryCode | None, Query(description="In this territory or below.")] = None,
) -> Page[FieldTeamRead]:
    """List the field teams of the caller's territories and those the caller belongs to."""
    teams, cursor = await directory.list_field_teams(session, principal=principal, territory_code=territory_code,
                                                     cursor=page.cursor, limit=page.limit)
    return Page(items=[FieldTeamRead.model_validate(t) for t in teams], next_cursor=cursor)


@router.get("/v1/field-teams/{team_id}", response_model=FieldTeamRead, tags=["field teams"],
            responses=READ_ERRORS)
async def get_field_team(team_id: uuid.UUID, session: SessionDep, principal: DirectoryReader,
                         response: Response) -> FieldTeamRead:
    """One field team with its members."""
    team = await directory.get_field_team(session, principal=principal, team_id=team_id)
    _etag(response, team)
    return FieldTeamRead.model_validate(team)


@router.patch("/v1/field-teams/{team_id}", response_model=FieldTeamRead, tags=["field teams"],
              responses=WRITE_ERRORS)
async def update_field_team(team_id: uuid.UUID, body: FieldTeamUpdate, request: Request, session: SessionDep,
                            principal: ActivePrincipal, response: Response) -> FieldTeamRead:
    """Rename a field team or replace its members (If-Match)."""
    team = await directory.update_field_team(session, principal=principal, team_id=team_id,
                                             expected_version=required_version(request), name=body.name,
                                             member_ids=body.members)
    _etag(response, team)
    return FieldTeamRead.model_validate(team)
