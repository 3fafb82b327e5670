"""Reference data: territories and roles."""

from __future__ import annotations

import dataclasses
from typing import Annotated, Literal

from fastapi import APIRouter, Query, Request

from himaya.errors import problem_responses
from himaya.i18n import negotiate_language
from himaya.pagination import Page, PageDep
from identity_service.core.deps import DirectoryReader
from identity_service.core.schemas import TerritoryCode
from identity_service.territories import service as reference
from identity_service.territories.schemas import RoleRead, TerritoryRead

router = APIRouter()


@router.get("/v1/territories", response_model=Page[TerritoryRead], tags=["reference data"],
            responses=problem_responses(401, 403, 422))
async def list_territories(
    request: Request, ctx: DirectoryReader, page: PageDep,
    level: Annotated[Literal["region", "prefecture", "commune", "arrondissement"] | None, Query()] = None,
    parent_code: Annotated[TerritoryCode | None, Query(description="Direct children of this territory.")] = None,
) -> Page[TerritoryRead]:
    """Territories (regions, prefectures and provinces, communes, arrondissements); `name` follows
    Accept-Language (ar, or fr by default)."""
    language = negotiate_language(request.headers.get("accept-language"))
    rows, cursor = await reference.list_territories(ctx, level=level, parent_code=parent_code,
                                                    cursor=page.cursor, limit=page.limit)
    items = [TerritoryRead.model_validate({**dataclasses.asdict(r),
                                           "name": r.name_ar if language == "ar" else r.name_fr}) for r in rows]
    return Page(items=items, next_cursor=cursor)


@router.get("/v1/roles", response_model=list[RoleRead], tags=["reference data"],
            responses=problem_responses(401, 403))
async def list_roles(ctx: DirectoryReader) -> list[RoleRead]:
    """Every role with the scopes its tokens carry (himaya.scopes.ROLE_SCOPES, the single source of truth)."""
    return [RoleRead.model_validate(dataclasses.asdict(r)) for r in reference.roles_table()]
