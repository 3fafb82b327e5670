"""Organisations: created and changed by administrators, read by anyone with directory:read."""

from __future__ import annotations

import uuid
from typing import Any

from sqlalchemy.exc import IntegrityError

from himaya.errors import Conflict, InvalidInput, NotFound, PreconditionFailed
from himaya.pagination import build_page
from identity_service.core import access
from identity_service.core.audit import audit
from identity_service.core.context import Context
from identity_service.core.enums import OrganizationType
from identity_service.core.pages import after_id
from identity_service.organizations import repository as repo
from identity_service.organizations.records import Organization
from identity_service.territories import service as reference


async def create_organization(ctx: Context, *, name: str, type_: str, territory_code: str,
                              court_code: str | None) -> Organization:
    """Create an organisation (admin; no caller: the seed command); a prosecution office names its court."""
    if ctx.principal is not None:
        access.require_admin(ctx.principal)
    await _validate(ctx, type_=type_, territory_code=territory_code, court_code=court_code)
    if await repo.find_organization(ctx.session, name=name, territory_code=territory_code) is not None:
        raise Conflict("An organisation with this name already exists in this territory.")
    org = await repo.insert_organization(ctx.session, {
        "id": uuid.uuid4(), "name": name, "type": type_, "territory_code": territory_code, "court_code": court_code})
    await audit(ctx, "organization.create", "organization", org.id, ("name", "type", "territory_code", "court_code"))
    return org


async def _validate(ctx: Context, *, type_: str, territory_code: str, court_code: str | None) -> None:
    await reference.check_territories(ctx, [territory_code])
    if court_code is not None and not await reference.court_exists(ctx, court_code):
        raise InvalidInput(f"Unknown court code {court_code!r}.")
    if type_ == OrganizationType.PROSECUTION_OFFICE and court_code is None:
        raise InvalidInput("A prosecution office must name its court (court_code).")


async def get_organization(ctx: Context, *, organization_id: uuid.UUID) -> Organization:
    """An organisation (directory data, readable by any caller with directory:read)."""
    org = await repo.get_organization(ctx.session, organization_id)
    if org is None:
        raise NotFound("No such organisation.")
    return org


async def find_organization(ctx: Context, *, organization_id: uuid.UUID | None = None, name: str | None = None,
                            territory_code: str | None = None) -> Organization | None:
    """An organisation by id, or by its natural key (name within a territory); None when there is none."""
    if organization_id is not None:
        return await repo.get_organization(ctx.session, organization_id)
    assert name is not None and territory_code is not None
    return await repo.find_organization(ctx.session, name=name, territory_code=territory_code)


async def list_organizations(ctx: Context, *, type_: str | None, territory_code: str | None,
                             cursor: str | None, limit: int) -> tuple[list[Organization], str | None]:
    """A page of organisations."""
    rows = await repo.list_organizations(ctx.session, type_=type_, territory_code=territory_code,
                                         after=after_id(cursor), limit=limit + 1)
    return build_page(rows, limit, lambda r: [str(r.id)])


async def update_organization(ctx: Context, *, organization_id: uuid.UUID, expected_version: int,
                              changes: dict[str, Any]) -> Organization:
    """Change an organisation's name, type, territory or court (admin; If-Match)."""
    access.require_admin(ctx.caller)
    current = await get_organization(ctx, organization_id=organization_id)
    await _validate(ctx, type_=changes.get("type", current.type),
                    territory_code=changes.get("territory_code", current.territory_code),
                    court_code=changes.get("court_code", current.court_code))
    try:
        async with ctx.session.begin_nested():
            org = await repo.update_organization(ctx.session, organization_id, expected_version=expected_version,
                                                 values=changes)
    except IntegrityError as exc:
        raise Conflict("The organisation conflicts with an existing one.") from exc
    if org is None:
        raise PreconditionFailed("The organisation changed since you read it; read it again.")
    await audit(ctx, "organization.update", "organization", organization_id, tuple(changes))
    return org
