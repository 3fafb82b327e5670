"""Routes of /v1/organizations."""

from __future__ import annotations

import dataclasses
import uuid
from typing import Annotated, Any

from fastapi import APIRouter, Query, Request, Response

from himaya.errors import problem_responses
from himaya.etag import required_version
from himaya.pagination import Page, PageDep
from identity_service.core.deps import ActiveContext, DirectoryReader
from identity_service.core.enums import OrganizationType
from identity_service.core.responses import IdempotencyDep, create_once, set_etag
from identity_service.core.schemas import TerritoryCode
from identity_service.organizations import service
from identity_service.organizations.records import Organization
from identity_service.organizations.schemas import OrganizationCreate, OrganizationRead, OrganizationUpdate

router = APIRouter(tags=["organizations"])
READ_ERRORS = problem_responses(401, 403, 404, 422)
WRITE_ERRORS = problem_responses(401, 403, 404, 409, 412, 422, 428)


def _read(org: Organization) -> OrganizationRead:
    return OrganizationRead.model_validate(dataclasses.asdict(org))


@router.post("/v1/organizations", status_code=201, response_model=OrganizationRead,
             responses=problem_responses(401, 403, 409, 422))
async def create_organization(body: OrganizationCreate, ctx: ActiveContext, idem: IdempotencyDep) -> Any:
    """Create an organisation (admin)."""
    return await create_once(idem, ctx, body, lambda: service.create_organization(
        ctx, name=body.name, type_=body.type, territory_code=body.territory_code, court_code=body.court_code),
        _read)


@router.get("/v1/organizations", response_model=Page[OrganizationRead], responses=READ_ERRORS)
async def list_organizations(
    ctx: DirectoryReader, page: PageDep,
    type: Annotated[OrganizationType | None, Query(description="Only this type.")] = None,
    territory_code: Annotated[TerritoryCode | None, Query(description="In this territory or below.")] = None,
) -> Page[OrganizationRead]:
    """List organisations (any caller with directory:read)."""
    rows, cursor = await service.list_organizations(ctx, type_=type, territory_code=territory_code,
                                                    cursor=page.cursor, limit=page.limit)
    return Page(items=[_read(r) for r in rows], next_cursor=cursor)


@router.get("/v1/organizations/{organization_id}", response_model=OrganizationRead, responses=READ_ERRORS)
async def get_organization(organization_id: uuid.UUID, ctx: DirectoryReader, response: Response) -> OrganizationRead:
    """One organisation."""
    org = await service.get_organization(ctx, organization_id=organization_id)
    set_etag(response, org)
    return _read(org)


@router.patch("/v1/organizations/{organization_id}", response_model=OrganizationRead, responses=WRITE_ERRORS)
async def update_organization(organization_id: uuid.UUID, body: OrganizationUpdate, request: Request,
                              ctx: ActiveContext, response: Response) -> OrganizationRead:
    """Change an organisation (admin; If-Match)."""
    org = await service.update_organization(ctx, organization_id=organization_id,
                                            expected_version=required_version(request),
                                            changes=body.model_dump(exclude_unset=True))
    set_etag(response, org)
    return _read(org)
