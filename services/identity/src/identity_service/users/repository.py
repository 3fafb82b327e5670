"""Statements on users (never reading the password hash: only the token endpoint's repository does)."""

from __future__ import annotations

import uuid
from collections.abc import Iterable
from typing import Any

import sqlalchemy as sa
from sqlalchemy.dialects.postgresql import insert
from sqlalchemy.ext.asyncio import AsyncSession

from himaya.records import from_row
from identity_service.core.tables import organizations, users
from identity_service.users.records import User

_USER_COLUMNS = [c for c in users.c if c.name != "password_hash"]
_USER_VIEW = (sa.select(*_USER_COLUMNS, organizations.c.type.label("organization_type"))
              .join(organizations, organizations.c.id == users.c.organization_id))


async def insert_user(session: AsyncSession, values: dict[str, Any]) -> None:
    """Insert a user (`values` carries the password hash, never the password)."""
    await session.execute(insert(users).values(**values))


async def get_user(session: AsyncSession, user_id: uuid.UUID) -> User | None:
    """A user by id, with the organisation's type."""
    row = (await session.execute(_USER_VIEW.where(users.c.id == user_id))).mappings().one_or_none()
    return None if row is None else from_row(User, row)


async def username_taken(session: AsyncSession, username: str) -> bool:
    """Whether a user already has this username (case-insensitive)."""
    q = sa.select(sa.exists().where(sa.func.lower(users.c.username) == username.lower()))
    return bool((await session.execute(q)).scalar())


async def list_users(session: AsyncSession, *, organization_id: uuid.UUID | None, role: str | None,
                     active: bool | None, after: uuid.UUID | None, limit: int) -> list[User]:
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
    return [from_row(User, r) for r in (await session.execute(q)).mappings().all()]


async def update_user(session: AsyncSession, user_id: uuid.UUID, *, expected_version: int | None,
                      values: dict[str, Any]) -> bool:
    """Apply `values` if the user is still at `expected_version` (any version when None)."""
    q = sa.update(users).where(users.c.id == user_id)
    if expected_version is not None:
        q = q.where(users.c.version == expected_version)
    result = await session.execute(q.values(**values, version=users.c.version + 1, updated_at=sa.func.now()))
    return bool(getattr(result, "rowcount", 0))


async def existing_active_user_ids(session: AsyncSession, user_ids: Iterable[uuid.UUID]) -> set[uuid.UUID]:
    """Which of `user_ids` are active users."""
    wanted = list(set(user_ids))
    if not wanted:
        return set()
    q = sa.select(users.c.id).where(users.c.id.in_(wanted), users.c.active.is_(True))
    return set((await session.execute(q)).scalars().all())
