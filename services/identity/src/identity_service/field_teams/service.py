"""Field teams: each prefecture's multidisciplinary team, managed by administrators and team coordinators."""

from __future__ import annotations

import uuid
from collections.abc import Sequence

from sqlalchemy.exc import IntegrityError

from himaya.auth import Principal
from himaya.errors import Conflict, Forbidden, InvalidInput, NotFound, PreconditionFailed
from himaya.pagination import build_page
from himaya.scopes import Role
from identity_service.core import access
from identity_service.core.audit import audit
from identity_service.core.context import Context
from identity_service.core.pages import after_id
from identity_service.field_teams import repository as repo
from identity_service.field_teams.records import FieldTeam
from identity_service.territories import service as reference
from identity_service.users import service as users


async def _check_team(ctx: Context, principal: Principal, *, territory_code: str,
                      member_ids: Sequence[uuid.UUID]) -> None:
    await reference.check_territories(ctx, [territory_code])
    if not access.is_admin(principal) and not principal.covers(territory_code):
        raise NotFound("No such field team.")
    missing = set(member_ids) - await users.active_user_ids(ctx, member_ids)
    if missing:
        raise InvalidInput("Members must be active users: " + ", ".join(sorted(map(str, missing))) + ".")


def _require_team_manager(principal: Principal) -> None:
    if not (access.is_admin(principal) or principal.role == Role.TEAM_COORDINATOR):
        raise Forbidden("Field teams are managed by administrators and team coordinators.")


async def create_field_team(ctx: Context, *, territory_code: str, name: str,
                            member_ids: Sequence[uuid.UUID]) -> FieldTeam:
    """Create a prefecture's field team (admin, or a team coordinator within their territories)."""
    principal = ctx.caller
    _require_team_manager(principal)
    await _check_team(ctx, principal, territory_code=territory_code, member_ids=member_ids)
    team_id = uuid.uuid4()
    try:
        async with ctx.session.begin_nested():
            await repo.insert_field_team(ctx.session, {"id": team_id, "territory_code": territory_code, "name": name})
    except IntegrityError as exc:
        raise Conflict("A field team with this name already exists in this territory.") from exc
    await repo.replace_members(ctx.session, team_id, member_ids)
    await audit(ctx, "field_team.create", "field_team", team_id, ("territory_code", "name", "members"))
    return await get_field_team(ctx, team_id=team_id)


async def get_field_team(ctx: Context, *, team_id: uuid.UUID) -> FieldTeam:
    """A field team with its members (admin, anyone in its territory, or one of its members)."""
    principal = ctx.caller
    team = await repo.get_field_team(ctx.session, team_id)
    if team is None:
        raise NotFound("No such field team.")
    is_member = any(m.user_id == principal.subject_id for m in team.members)
    if not (access.is_admin(principal) or principal.covers(team.territory_code) or is_member):
        raise NotFound("No such field team.")
    return team


async def list_field_teams(ctx: Context, *, territory_code: str | None, cursor: str | None,
                           limit: int) -> tuple[list[FieldTeam], str | None]:
    """A page of field teams: every one for national callers, else those in the caller's territories or
    of which the caller is a member."""
    principal = ctx.caller
    national = access.is_admin(principal) or principal.is_national
    rows = await repo.list_field_teams(
        ctx.session, territory_code=territory_code, visible_territories=None if national else principal.territories,
        member_id=principal.subject_id, after=after_id(cursor), limit=limit + 1)
    page, next_cursor = build_page(rows, limit, lambda r: [str(r.id)])
    return await repo.with_members(ctx.session, page), next_cursor


async def update_field_team(ctx: Context, *, team_id: uuid.UUID, expected_version: int, name: str | None,
                            member_ids: Sequence[uuid.UUID] | None) -> FieldTeam:
    """Rename a team or set its members (If-Match)."""
    principal = ctx.caller
    _require_team_manager(principal)
    team = await repo.get_field_team(ctx.session, team_id)
    if team is None:
        raise NotFound("No such field team.")
    await _check_team(ctx, principal, territory_code=team.territory_code, member_ids=member_ids or [])
    values = {"name": name} if name is not None else {}
    try:
        async with ctx.session.begin_nested():
            ok = await repo.update_field_team(ctx.session, team_id, expected_version=expected_version, values=values)
    except IntegrityError as exc:
        raise Conflict("A field team with this name already exists in this territory.") from exc
    if not ok:
        raise PreconditionFailed("The field team changed since you read it; read it again.")
    if member_ids is not None:
        await repo.replace_members(ctx.session, team_id, member_ids)
    fields = [f for f, v in (("name", name), ("members", member_ids)) if v is not None]
    await audit(ctx, "field_team.update", "field_team", team_id, fields)
    return await get_field_team(ctx, team_id=team_id)
