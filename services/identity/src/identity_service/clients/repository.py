"""Statements on machine clients and the digests of their secrets."""

from __future__ import annotations

import uuid
from datetime import datetime
from typing import Any

import sqlalchemy as sa
from sqlalchemy.dialects.postgresql import insert
from sqlalchemy.ext.asyncio import AsyncSession

from himaya.records import from_row
from identity_service.clients.records import Client
from identity_service.core.tables import api_clients, client_secrets, organizations

_CLIENT_VIEW = (sa.select(api_clients, organizations.c.type.label("organization_type"))
                .join(organizations, organizations.c.id == api_clients.c.organization_id))


def _one(row: Any) -> Client | None:
    return None if row is None else from_row(Client, row)


async def insert_client(session: AsyncSession, values: dict[str, Any]) -> None:
    """Insert a machine client."""
    await session.execute(insert(api_clients).values(**values))


async def get_client(session: AsyncSession, client_id: uuid.UUID) -> Client | None:
    """A machine client by id, with its organisation's type."""
    return _one((await session.execute(_CLIENT_VIEW.where(api_clients.c.id == client_id))).mappings().one_or_none())


async def find_client(session: AsyncSession, *, organization_id: uuid.UUID, name: str) -> Client | None:
    """A machine client by its natural key (name within an organisation)."""
    q = _CLIENT_VIEW.where(api_clients.c.organization_id == organization_id, api_clients.c.name == name)
    return _one((await session.execute(q)).mappings().one_or_none())


async def list_clients(session: AsyncSession, *, organization_id: uuid.UUID | None, after: uuid.UUID | None,
                       limit: int) -> list[Client]:
    """Machine clients ordered by id, optionally of one organisation."""
    q = _CLIENT_VIEW.order_by(api_clients.c.id).limit(limit)
    if organization_id is not None:
        q = q.where(api_clients.c.organization_id == organization_id)
    if after is not None:
        q = q.where(api_clients.c.id > after)
    return [from_row(Client, r) for r in (await session.execute(q)).mappings().all()]


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
