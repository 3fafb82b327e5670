"""Routes of /v1/field-teams."""

from __future__ import annotations

import dataclasses
import uuid
from typing import Annotated, Any

from fastapi import APIRouter, Query, Request, Response

from himaya.errors import problem_responses
from himaya.etag import required_version
from himaya.pagination import Page, PageDep
from identity_service.core.deps import ActiveContext, DirectoryReader
from identity_service.core.responses import IdempotencyDep, create_once, set_etag
from identity_service.core.schemas import TerritoryCode
from identity_service.field_teams import service
from identity_service.field_teams.records import FieldTeam
from identity_service.field_teams.schemas import FieldTeamCreate, FieldTeamRead, FieldTeamUpdate

router = APIRouter(tags=["field teams"])
READ_ERRORS = problem_responses(401, 403, 404, 422)
WRITE_ERRORS = problem_responses(401, 403, 404, 409, 412, 422, 428)


def _read(team: FieldTeam) -> FieldTeamRead:
    return FieldTeamRead.model_validate(dataclasses.asdict(team))


@router.post("/v1/field-teams", status_code=201, response_model=FieldTeamRead,
             responses=problem_responses(401, 403, 404, 409, 422))
async def create_field_team(body: FieldTeamCreate, ctx: ActiveContext, idem: IdempotencyDep) -> Any:
    """Create a prefecture's field team (admin, or a team coordinator in their territories)."""
    return await create_once(idem, ctx, body, lambda: service.create_field_team(
        ctx, territory_code=body.territory_code, name=body.name, member_ids=body.members), _read)


@router.get("/v1/field-teams", response_model=Page[FieldTeamRead], responses=READ_ERRORS)
async def list_field_teams(
    ctx: DirectoryReader, page: PageDep,
    territory_code: Annotated[TerritoryCode | None, Query(description="In this territory or below.")] = None,
) -> Page[FieldTeamRead]:
    """List the field teams of the caller's territories and those the caller belongs to."""
    teams, cursor = await service.list_field_teams(ctx, territory_code=territory_code, cursor=page.cursor,
                                                   limit=page.limit)
    return Page(items=[_read(t) for t in teams], next_cursor=cursor)


@router.get("/v1/field-teams/{team_id}", response_model=FieldTeamRead, responses=READ_ERRORS)
async def get_field_team(team_id: uuid.UUID, ctx: DirectoryReader, response: Response) -> FieldTeamRead:
    """One field team with its members."""
    team = await service.get_field_team(ctx, team_id=team_id)
    set_etag(response, team)
    return _read(team)


@router.patch("/v1/field-teams/{team_id}", response_model=FieldTeamRead, responses=WRITE_ERRORS)
async def update_field_team(team_id: uuid.UUID, body: FieldTeamUpdate, request: Request, ctx: ActiveContext,
                            response: Response) -> FieldTeamRead:
    """Rename a field team or replace its members (If-Match)."""
    team = await service.update_field_team(ctx, team_id=team_id, expected_version=required_version(request),
                                           name=body.name, member_ids=body.members)
    set_etag(response, team)
    return _read(team)
