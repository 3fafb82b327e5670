"""Queries for organisations, users, API clients, field teams and reference data."""

from __future__ import annotations

import uuid
from collections.abc import Iterable, Sequence
from datetime import datetime
from typing import Any

import sqlalchemy as sa
from sqlalchemy.dialects.postgresql import insert
from sqlalchemy.ext.asyncio import AsyncSession

from himaya.auth import NATIONAL
from identity_service.db.tables import (
    api_clients,
    client_secrets,
    courts,
    field_team_members,
    field_teams,
    organizations,
    territories,
    users,
)

Row = sa.RowMapping

# ---- reference data -------------------------------------------------------------------------------------


async def upsert_territories(session: AsyncSession, rows: Sequence[dict[str, Any]]) -> None:
    """Insert or update territory rows (parents must come before children)."""
    stmt = insert(territories).values(list(rows))
    await session.execute(stmt.on_conflict_do_update(
        index_elements=[territories.c.code],
        set_={c: stmt.excluded[c] for c in ("level", "name_fr", "name_ar", "parent_code", "phase", "case_prefix")}))


async def upsert_courts(session: AsyncSession, rows: Sequence[dict[str, Any]]) -> None:
    """Insert or update court rows (appeal courts before first-instance courts)."""
    stmt = insert(courts).values(list(rows))
    await session.execute(stmt.on_conflict_do_update(
        index_elements=[courts.c.code],
        set_={c: stmt.excluded[c] for c in ("name_fr", "name_ar", "kind", "appeal_court_code", "territory_code")}))


async def list_territories(session: AsyncSession, *, level: str | None, parent_code: str | None,
                           after: str | None, limit: int) -> Sequence[Row]:
    """Territories ordered by code, filtered by level and parent, after a cursor code."""
    q = sa.select(territories).order_by(territories.c.code).limit(limit)
    if level is not None:
        q = q.where(territories.c.level == level)
    if parent_code is not None:
        q = q.where(territories.c.parent_code == parent_code)
    if after is not None:
        q = q.where(territories.c.code > after)
    return (await session.execute(q)).mappings().all()


async def existing_territory_codes(session: AsyncSession, codes: Iterable[str]) -> set[str]:
    """Which of `codes` exist in the territories table."""
    wanted = list(set(codes))
    if not wanted:
        return set()
    rows = await session.execute(sa.select(territories.c.code).where(territories.c.code.in_(wanted)))
    return set(rows.scalars().all())


async def get_court(session: AsyncSession, code: str) -> Row | None:
    """A court by code."""
    return (await session.execute(sa.select(courts).where(courts.c.code == code))).mappings().one_or_none()


# ---- organisations --------------------------------------------------------------------------------------


async def insert_organization(session: AsyncSession, values: dict[str, Any]) -> Row:
    """Insert an organisation and return it."""
    return (await session.execute(insert(organizations).values(**values).returning(organizations))).mappings().one()


async def get_organization(session: AsyncSession, organization_id: uuid.UUID) -> Row | None:
    """An organisation by id."""
    q = sa.select(organizations).where(organizations.c.id == organization_id)
    return (await session.execute(q)).mappings().one_or_none()


async def find_organization(session: AsyncSession, *, name: str, territory_code: str) -> Row | None:
    """An organisation by its natural key (name within a territory)."""
    q = sa.select(organizations).where(organizations.c.name == name,
                                       organizations.c.territory_code == territory_code)
    return (await session.execute(q)).mappings().one_or_none()


async def list_organizations(session: AsyncSession, *, type_: str | None, territory_code: str | None,
                             after: uuid.UUID | None, limit: int) -> Sequence[Row]:
    """Organisations ordered by id, filtered by type and territory (the territory and those below it)."""
    q = sa.select(organizations).order_by(organizations.c.id).limit(limit)
    if type_ is not None:
        q = q.where(organizations.c.type == type_)
    if territory_code is not None:
        q = q.where(_within(organizations.c.territory_code, [territory_code]))
    if after is not None:
        q = q.where(organizations.c.id > after)
    return (await session.execute(q)).mappings().all()


async def update_organization(session: AsyncSession, organization_id: uuid.UUID, *, expected_version: int,
                              values: dict[str, Any]) -> Row | None:
    """Apply `values` if the organisation is still at `expected_version`; None when it is not."""
    q = (sa.update(organizations)
         .where(organizations.c.id == organization_id, organizations.c.version == expected_version)
         .values(**values, version=organizations.c.version + 1, updated_at=sa.func.now())
         .returning(organizations))
    return (await session.execute(q)).mappings().one_or_none()


# ---- users ----------------------------------------------------------------------------------------------

_USER_COLUMNS = [c for c in users.c if c.name != "password_hash"]
_USER_VIEW = (sa.select(*_USER_COLUMNS, organizations.c.type.label("organization_type"))
              .join(organizations, organizations.c.id == users.c.organization_id))


async def insert_user(session: AsyncSession, values: dict[str, Any]) -> None:
    """Insert a user."""
    await session.execute(insert(users).values(**values))


async def get_user(session: AsyncSession, user_id: uuid.UUID) -> Row | None:
    """A user by id, with the organisation's type (never the password hash)."""
    return (await session.execute(_USER_VIEW.where(users.c.id == user_id))).mappings().one_or_none()


async def get_user_credentials(session: AsyncSession, username: str) -> Row | None:
    """A user by username (case-insensitive) with the password hash and the organisation's type."""
    q = (sa.select(users, organizations.c.type.label("organization_type"))
         .join(organizations, organizations.c.id == users.c.organization_id)
         .where(sa.func.lower(users.c.username) == username.lower()))
    return (await session.execute(q)).mappings().one_or_none()


async def username_taken(session: AsyncSession, username: str) -> bool:
    """Whether a user already has this username (case-insensitive)."""
    q = sa.select(sa.exists().where(sa.func.lower(users.c.username) == username.lower()))
    return bool((await session.execute(q)).scalar())


async def list_users(session: AsyncSession, *, organization_id: uuid.UUID | None, role: str | None,
                     active: bool | None, after: uuid.UUID | None, limit: int) -> Sequence[Row]:
    """Users ordered by id, optionally of one organisation, role or activity."""
    q = _USER_VIEW.order_by(users.c.id).limit(limit)
    if organization_id is not None:
        q = q.where(users.c.organization_id == organization_id)
    if role is not None:
        q = q.where(users.c.role == role)
    if active is not None:
        q = q.where(users.c.active == active)
    if after is not None:
        q = q.where(users.c.id > after)
    return (await session.execute(q)).mappings().all()


async def update_user(session: AsyncSession, user_id: uuid.UUID, *, expected_version: int | None,
                      values: dict[str, Any]) -> bool:
    """Apply `values` if the user is still at `expected_version` (any version when None)."""
    q = sa.update(users).where(users.c.id == user_id)
    if expected_version is not None:
        q = q.where(users.c.version == expected_version)
    result = await session.execute(q.values(**values, version=users.c.version + 1, updated_at=sa.func.now()))
    return bool(getattr(result, "rowcount", 0))


async def record_login(session: AsyncSession, user_id: uuid.UUID, *, at: datetime,
                       new_hash: str | None) -> None:
    """Note a successful login, upgrading the password hash when its parameters were outdated."""
    values: dict[str, Any] = {"last_login_at": at}
    if new_hash is not None:
        values["password_hash"] = new_hash
    await session.execute(sa.update(users).where(users.c.id == user_id).values(**values))


async def subject_active(session: AsyncSession, *, subject_type: str, subject_id: uuid.UUID) -> bool:
    """Whether the user or client named by a token still exists and is active."""
    table = users if subject_type == "user" else api_clients
    q = sa.select(table.c.active).where(table.c.id == subject_id)
    return bool((await session.execute(q)).scalar_one_or_none())


async def existing_active_user_ids(session: AsyncSession, user_ids: Iterable[uuid.UUID]) -> set[uuid.UUID]:
    """Which of `user_ids` are active users."""
    wanted = list(set(user_ids))
    if not wanted:
        return set()
    q = sa.select(users.c.id).where(users.c.id.in_(wanted), users.c.active.is_(True))
    return set((await session.execute(q)).scalars().all())


# ---- API clients ----------------------------------------------------------------------------------------

_CLIENT_VIEW = (sa.select(api_clients, organizations.c.type.label("organization_type"))
                .join(organizations, organizations.c.id == api_clients.c.organization_id))


async def insert_client(session: AsyncSession, values: dict[str, Any]) -> None:
    """Insert an API client."""
    await session.execute(insert(api_clients).values(**values))


async def get_client(session: AsyncSession, client_id: uuid.UUID) -> Row | None:
    """An API client by id, with its organisation's type."""
    return (await session.execute(_CLIENT_VIEW.where(api_clients.c.id == client_id))).mappings().one_or_none()


async def find_client(session: AsyncSession, *, organization_id: uuid.UUID, name: str) -> Row | None:
    """An API client by its natural key (name within an organisation)."""
    q = _CLIENT_VIEW.where(api_clients.c.organization_id == organization_id, api_clients.c.name == name)
    return (await session.execute(q)).mappings().one_or_none()


async def list_clients(session: AsyncSession, *, organization_id: uuid.UUID | None, after: uuid.UUID | None,
                       limit: int) -> Sequence[Row]:
    """API clients ordered by id, optionally of one organisation."""
    q = _CLIENT_VIEW.order_by(api_clients.c.id).limit(limit)
    if organization_id is not None:
        q = q.where(api_clients.c.organization_id == organization_id)
    if after is not None:
        q = q.where(api_clients.c.id > after)
    return (await session.execute(q)).mappings().all()


async def update_client(session: AsyncSession, client_id: uuid.UUID, *, expected_version: int | None,
                        values: dict[str, Any]) -> bool:
    """Apply `values` if the client is still at `expected_version` (any version when None)."""
    q = sa.update(api_clients).where(api_clients.c.id == client_id)
    if expected_version is not None:
        q = q.where(api_clients.c.version == expected_version)
    result = await session.execute(q.values(**values, version=api_clients.c.version + 1,
                                            updated_at=sa.func.now()))
    return bool(getattr(result, "rowcount", 0))


async def insert_client_secret(session: AsyncSession, *, client_id: uuid.UUID, secret_hash: bytes,
                               created_at: datetime) -> None:
    """Store the digest of a new client secret."""
    await session.execute(insert(client_secrets).values(id=uuid.uuid4(), client_id=client_id,
                                                        secret_hash=secret_hash, created_at=created_at))


async def expire_client_secrets(session: AsyncSession, *, client_id: uuid.UUID, at: datetime) -> None:
    """Make every current secret of a client stop working at `at` (never later than already set)."""
    await session.execute(
        sa.update(client_secrets)
        .where(client_secrets.c.client_id == client_id,
               sa.or_(client_secrets.c.expires_at.is_(None), client_secrets.c.expires_at > at))
        .values(expires_at=at))


async def client_by_secret(session: AsyncSession, *, client_id: uuid.UUID, secret_hash: bytes,
                           now: datetime) -> Row | None:
    """The client whose unexpired secret has this digest, with its organisation's type."""
    q = (_CLIENT_VIEW.join(client_secrets, client_secrets.c.client_id == api_clients.c.id)
         .where(api_clients.c.id == client_id, client_secrets.c.secret_hash == secret_hash,
                sa.or_(client_secrets.c.expires_at.is_(None), client_secrets.c.expires_at > now)))
    return (await session.execute(q)).mappings().one_or_none()


# ---- field teams ----------------------------------------------------------------------------------------


async def insert_field_team(session: AsyncSession, values: dict[str, Any]) -> None:
    """Insert a field team."""
    await session.execute(insert(field_teams).values(**values))


async def get_field_team(session: AsyncSession, team_id: uuid.UUID) -> Row | None:
    """A field team by id."""
    return (await session.execute(sa.select(field_teams).where(field_teams.c.id == team_id))).mappings().one_or_none()


async def list_field_teams(session: AsyncSession, *, territory_code: str | None,
                           visible_territories: Sequence[str] | None, member_id: uuid.UUID | None,
                           after: uuid.UUID | None, limit: int) -> Sequence[Row]:
    """Field teams ordered by id, filtered by territory (and below); when `visible_territories` is given,
    only teams inside those territories or having `member_id` as a member."""
    q = sa.select(field_teams).order_by(field_teams.c.id).limit(limit)
    if territory_code is not None:
        q = q.where(_within(field_teams.c.territory_code, [territory_code]))
    if visible_territories is not None:
        q = q.where(sa.or_(_within(field_teams.c.territory_code, visible_territories),
                           field_teams.c.id.in_(sa.select(field_team_members.c.field_team_id)
                                                .where(field_team_members.c.user_id == member_id))))
    if after is not None:
        q = q.where(field_teams.c.id > after)
    return (await session.execute(q)).mappings().all()


def _within(column: sa.ColumnElement[str], codes: Sequence[str]) -> sa.ColumnElement[bool]:
    """`column` is one of `codes` or below one of them (codes are dotted paths)."""
    if not codes:
        return sa.false()
    if NATIONAL in codes:
        return sa.true()
    return sa.or_(*[sa.or_(column == c, column.startswith(c + ".", autoescape=True)) for c in codes])


async def members_of(session: AsyncSession, team_ids: Sequence[uuid.UUID]) -> dict[uuid.UUID, list[Row]]:
    """The members of each team (one query for all teams), with their organisation and role."""
    if not team_ids:
        return {}
    q = (sa.select(field_team_members.c.field_team_id, users.c.id.label("user_id"), users.c.full_name,
                   users.c.role, users.c.organization_id, organizations.c.type.label("organization_type"))
         .join(users, users.c.id == field_team_members.c.user_id)
         .join(organizations, organizations.c.id == users.c.organization_id)
         .where(field_team_members.c.field_team_id.in_(list(team_ids)))
         .order_by(field_team_members.c.field_team_id, users.c.full_name, users.c.id))
    out: dict[uuid.UUID, list[Row]] = {t: [] for t in team_ids}
    for row in (await session.execute(q)).mappings().all():
        out[row["field_team_id"]].append(row)
    return out


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
