"""Statements on organisations."""

from __future__ import annotations

import uuid
from typing import Any

import sqlalchemy as sa
from sqlalchemy.dialects.postgresql import insert
from sqlalchemy.ext.asyncio import AsyncSession

from himaya.records import from_row
from identity_service.core.sql import within
from identity_service.core.tables import organizations
from identity_service.organizations.records import Organization


def _one(row: Any) -> Organization | None:
    return None if row is None else from_row(Organization, row)


async def insert_organization(session: AsyncSession, values: dict[str, Any]) -> Organization:
    """Insert an organisation and return it."""
    row = (await session.execute(insert(organizations).values(**values).returning(organizations))).mappings().one()
    return from_row(Organization, row)


async def get_organization(session: AsyncSession, organization_id: uuid.UUID) -> Organization | None:
    """An organisation by id."""
    q = sa.select(organizations).where(organizations.c.id == organization_id)
    return _one((await session.execute(q)).mappings().one_or_none())


async def find_organization(session: AsyncSession, *, name: str, territory_code: str) -> Organization | None:
    """An organisation by its natural key (name within a territory)."""
    q = sa.select(organizations).where(organizations.c.name == name,
                                       organizations.c.territory_code == territory_code)
    return _one((await session.execute(q)).mappings().one_or_none())


async def list_organizations(session: AsyncSession, *, type_: str | None, territory_code: str | None,
                             after: uuid.UUID | None, limit: int) -> list[Organization]:
    """Organisations ordered by id, filtered by type and territory (the territory and those below it)."""
    q = sa.select(organizations).order_by(organizations.c.id).limit(limit)
    if type_ is not None:
        q = q.where(organizations.c.type == type_)
    if territory_code is not None:
        q = q.where(within(organizations.c.territory_code, [territory_code]))
    if after is not None:
        q = q.where(organizations.c.id > after)
    return [from_row(Organization, r) for r in (await session.execute(q)).mappings().all()]


async def update_organization(session: AsyncSession, organization_id: uuid.UUID, *, expected_version: int,
                              values: dict[str, Any]) -> Organization | None:
    """Apply `values` if the organisation is still at `expected_version`; None when it is not."""
    q = (sa.update(organizations)
         .where(organizations.c.id == organization_id, organizations.c.version == expected_version)
         .values(**values, version=organizations.c.version + 1, updated_at=sa.func.now())
         .returning(organizations))
    return _one((await session.execute(q)).mappings().one_or_none())
