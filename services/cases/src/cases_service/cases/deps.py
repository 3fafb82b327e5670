"""The case a route under /v1/cases/{case_id}/ works on, loaded once: visible to the caller, or 404.

The routes declare `case_id` themselves too, so the API's description keeps it as the first parameter of every
route (generated clients take path parameters in that order); the dependency's own is left out of it.
"""

from __future__ import annotations

import uuid
from collections.abc import Callable
from typing import Annotated, Any

from fastapi import Depends, Path

from cases_service.cases import service
from cases_service.core.access import require
from cases_service.core.context import Context
from cases_service.core.deps import ContextDep
from cases_service.core.records import VisibleCase
from himaya.scopes import Scope

CaseIdPath = Annotated[uuid.UUID, Path(include_in_schema=False)]


async def current_case(case_id: CaseIdPath, ctx: ContextDep) -> VisibleCase:
    """The case named by the path if the caller may see it (404 otherwise: never told apart from a missing case)."""
    return await service.visible_case(ctx, case_id=case_id)


async def case_for_update(case_id: CaseIdPath, ctx: ContextDep) -> VisibleCase:
    """The same case, locked until the request's transaction ends (writes that check its state first)."""
    return await service.visible_case(ctx, case_id=case_id, lock=True)


def case_for(scope: Scope | None = None, *, check: Callable[[Context], None] | None = None,
             lock: bool = False) -> Any:
    """The visible case, for a route that needs `scope` (and passes `check`) first: a caller without them gets
    403 before the case is looked up, as the service would answer it."""

    async def dependency(case_id: CaseIdPath, ctx: ContextDep) -> VisibleCase:
        if scope is not None:
            require(ctx.principal, scope)
        if check is not None:
            check(ctx)
        return await service.visible_case(ctx, case_id=case_id, lock=lock)

    return Depends(dependency)


CurrentCase = Annotated[VisibleCase, Depends(current_case)]
CaseForUpdate = Annotated[VisibleCase, Depends(case_for_update)]
