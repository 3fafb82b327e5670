"""Statements on field teams and their members."""

from __future__ import annotations

import dataclasses
import uuid
from collections.abc import Sequence
from typing import Any

import sqlalchemy as sa
from sqlalchemy.dialects.postgresql import insert
from sqlalchemy.ext.asyncio import AsyncSession

from himaya.records import from_row
from identity_service.core.sql import within
from identity_service.core.tables import field_team_members, field_teams, organizations, users
from identity_service.field_teams.records import FieldTeam, FieldTeamMember


async def insert_field_team(session: AsyncSession, values: dict[str, Any]) -> None:
    """Insert a field team."""
    await session.execute(insert(field_teams).values(**values))


async def get_field_team(session: AsyncSession, team_id: uuid.UUID) -> FieldTeam | None:
    """A field team by id, with its members."""
    row = (await session.execute(sa.select(field_teams).where(field_teams.c.id == team_id))).mappings().one_or_none()
    if row is None:
        return None
    return (await with_members(session, [from_row(FieldTeam, row)]))[0]


async def list_field_teams(session: AsyncSession, *, territory_code: str | None,
                           visible_territories: Sequence[str] | None, member_id: uuid.UUID | None,
                           after: uuid.UUID | None, limit: int) -> list[FieldTeam]:
    """Field teams ordered by id (without their members), filtered by territory (and below); when
    `visible_territories` is given, only teams inside those territories or having `member_id` as a member."""
    q = sa.select(field_teams).order_by(field_teams.c.id).limit(limit)
    if territory_code is not None:
        q = q.where(within(field_teams.c.territory_code, [territory_code]))
    if visible_territories is not None:
        q = q.where(sa.or_(within(field_teams.c.territory_code, visible_territories),
                           field_teams.c.id.in_(sa.select(field_team_members.c.field_team_id)
                                                .where(field_team_members.c.user_id == member_id))))
    if after is not None:
        q = q.where(field_teams.c.id > after)
    return [from_row(FieldTeam, r) for r in (await session.execute(q)).mappings().all()]


async def with_members(session: AsyncSession, teams: Sequence[FieldTeam]) -> list[FieldTeam]:
    """The teams with their members, with their organisation and role (one query for all teams)."""
    if not teams:
        return []
    q = (sa.select(field_team_members.c.field_team_id, users.c.id.label("user_id"), users.c.full_name,
                   users.c.role, users.c.organization_id, organizations.c.type.label("organization_type"))
         .join(users, users.c.id == field_team_members.c.user_id)
         .join(organizations, organizations.c.id == users.c.organization_id)
         .where(field_team_members.c.field_team_id.in_([t.id for t in teams]))
         .order_by(field_team_members.c.field_team_id, users.c.full_name, users.c.id))
    members: dict[uuid.UUID, list[FieldTeamMember]] = {t.id: [] for t in teams}
    for row in (await session.execute(q)).mappings().all():
        members[row["field_team_id"]].append(from_row(FieldTeamMember, row))
    return [dataclasses.replace(t, members=tuple(members[t.id])) for t in teams]


async def replace_members(session: AsyncSession, team_id: uuid.UUID, user_ids: Sequence[uuid.UUID]) -> None:
    """Set a team's members to exactly `user_ids`."""
    await session.execute(sa.delete(field_team_members).where(field_team_members.c.field_team_id == team_id))
    if user_ids:
        await session.execute(insert(field_team_members).values(
            [{"field_team_id": team_id, "user_id": u} for u in dict.fromkeys(user_ids)]))


async def update_field_team(session: AsyncSession, team_id: uuid.UUID, *, expected_version: int,
                            values: dict[str, Any]) -> bool:
    """Apply `values` if the team is still at `expected_version`."""
    result = await session.execute(
        sa.update(field_teams).where(field_teams.c.id == team_id, field_teams.c.version == expected_version)
        .values(**values, version=field_teams.c.version + 1, updated_at=sa.func.now()))
    return bool(getattr(result, "rowcount", 0))
