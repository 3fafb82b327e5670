"""Routes of /v1/users and /v1/me."""

from __future__ import annotations

import dataclasses
import uuid
from typing import Any

from fastapi import APIRouter, Request, Response

from himaya import clock
from himaya.errors import problem_responses
from himaya.etag import required_version
from himaya.pagination import Page, PageDep
from identity_service.core.deps import ActiveContext, DirectoryReader
from identity_service.core.responses import IdempotencyDep, create_once, set_etag
from identity_service.core.schemas import UserRole
from identity_service.users import service
from identity_service.users.records import User
from identity_service.users.schemas import (
    MeOrganization,
    MeRead,
    UserCreate,
    UserDirectoryEntry,
    UserRead,
    UserUpdate,
)

router = APIRouter()
READ_ERRORS = problem_responses(401, 403, 404, 422)
WRITE_ERRORS = problem_responses(401, 403, 404, 409, 412, 422, 428)


def _read(user: User) -> UserRead:
    return UserRead.model_validate(dataclasses.asdict(user))


@router.post("/v1/users", tags=["users"], status_code=201, response_model=UserRead,
             responses=problem_responses(401, 403, 409, 422))
async def create_user(body: UserCreate, ctx: ActiveContext, idem: IdempotencyDep) -> Any:
    """Create a user (admin, or an organisation administrator within their organisation and territories)."""
    # The fingerprint leaves the password out: a fast hash of it must never be stored.
    return await create_once(idem, ctx, body.model_dump(mode="json", exclude={"password"}),
                             lambda: service.create_user(
                                 ctx, username=body.username, full_name=body.full_name, email=body.email,
                                 organization_id=body.organization_id, role=body.role,
                                 territories=body.territories, password=body.password), _read)


@router.get("/v1/users", tags=["users"], response_model=Page[UserRead], responses=READ_ERRORS)
async def list_users(
    ctx: ActiveContext, page: PageDep,
    organization_id: uuid.UUID | None = None, role: UserRole | None = None, active: bool | None = None,
) -> Page[UserRead]:
    """List users (admin: all; organisation administrator: their organisation's)."""
    rows, cursor = await service.list_users(ctx, organization_id=organization_id, role=role, active=active,
                                            cursor=page.cursor, limit=page.limit)
    return Page(items=[_read(r) for r in rows], next_cursor=cursor)


@router.get("/v1/users/{user_id}", tags=["users"], response_model=UserRead, responses=READ_ERRORS)
async def get_user(user_id: uuid.UUID, ctx: ActiveContext, response: Response) -> UserRead:
    """One user the caller administers."""
    user = await service.get_user(ctx, user_id=user_id)
    set_etag(response, user)
    return _read(user)


@router.get("/v1/users/{user_id}/directory-entry", tags=["users"], response_model=UserDirectoryEntry,
            responses=READ_ERRORS)
async def get_user_directory_entry(user_id: uuid.UUID, ctx: DirectoryReader) -> UserDirectoryEntry:
    """A user's organisation, role, territories and status (no name or contact), for assignment checks."""
    user = await service.get_user_entry(ctx, user_id=user_id)
    return UserDirectoryEntry.model_validate(dataclasses.asdict(user))


@router.patch("/v1/users/{user_id}", tags=["users"], response_model=UserRead, responses=WRITE_ERRORS)
async def update_user(user_id: uuid.UUID, body: UserUpdate, request: Request, ctx: ActiveContext,
                      response: Response) -> UserRead:
    """Change a user (If-Match); deactivating, a new password or new grants revoke their refresh tokens."""
    user = await service.update_user(ctx, user_id=user_id, expected_version=required_version(request),
                                     changes=body.model_dump(exclude_unset=True), now=clock.now())
    set_etag(response, user)
    return _read(user)


@router.post("/v1/users/{user_id}/unlock", tags=["users"], status_code=204, responses=problem_responses(401, 403, 404))
async def unlock_user(user_id: uuid.UUID, ctx: ActiveContext) -> Response:
    """Lift a login lockout on a user."""
    await service.unlock_user(ctx, user_id=user_id)
    return Response(status_code=204)


@router.get("/v1/me", response_model=MeRead, summary="The caller", tags=["authentication"],
            responses=problem_responses(401, 404))
async def get_me(ctx: ActiveContext) -> MeRead:
    """The caller: user or client, organisation, role, scopes and territories."""
    me = await service.describe_caller(ctx)
    principal, org = me.principal, me.organization
    return MeRead(
        subject=principal.actor, subject_type="user" if me.user is not None else "client",
        id=principal.subject_id, username=me.user.username if me.user else None,
        full_name=me.user.full_name if me.user else None, name=me.client.name if me.client else None,
        role=principal.role, scopes=sorted(principal.scopes), territories=list(principal.territories),
        organization=MeOrganization(id=org.id, name=org.name, type=org.type, territory_code=org.territory_code,
                                    court_code=org.court_code))
