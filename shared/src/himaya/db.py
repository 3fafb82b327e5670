"""Database engine and the one-transaction-per-request session dependency."""

from __future__ import annotations

from collections.abc import AsyncIterator
from dataclasses import dataclass
from typing import Annotated

import sqlalchemy as sa
from fastapi import Depends, Request
from sqlalchemy.ext.asyncio import AsyncEngine, AsyncSession, async_sessionmaker, create_async_engine

from himaya.settings import ServiceSettings


@dataclass
class Database:
    """The engine and session factory of one service, owned by the app's lifespan."""

    engine: AsyncEngine
    sessionmaker: async_sessionmaker[AsyncSession]

    async def dispose(self) -> None:
        """Close every pooled connection."""
        await self.engine.dispose()


def create_database(settings: ServiceSettings, *, application_name: str) -> Database:
    """Create the engine for a service's own role (created by the lifespan, never at import)."""
    engine = create_async_engine(
        settings.dsn,
        pool_size=settings.db_pool_size,
        max_overflow=settings.db_max_overflow,
        pool_pre_ping=True,
        pool_recycle=1800,
        connect_args={"server_settings": {"application_name": application_name},
                      "command_timeout": 30},
    )
    return Database(engine=engine, sessionmaker=async_sessionmaker(engine, expire_on_commit=False))


async def get_session(request: Request) -> AsyncIterator[AsyncSession]:
    """One session and one transaction per request: committed on success, rolled back on any error."""
    db: Database = request.app.state.db
    async with db.sessionmaker() as session, session.begin():
        yield session


# scope="function" closes the dependency (and commits) before the response is sent, so a client never
# sees a success for a write that was not committed.
SessionDep = Annotated[AsyncSession, Depends(get_session, scope="function")]


async def database_ready(db: Database, *, schema: str, expected_head: str | None) -> tuple[bool, str]:
    """Is the database reachable and the service's schema migrated to the code's head revision?"""
    try:
        async with db.engine.connect() as conn:
            version = (await conn.execute(
                sa.text(f'SELECT version_num FROM "{schema}".alembic_version')  # noqa: S608 (schema is a code constant)
            )).scalar_one_or_none()
    except Exception as exc:  # any failure to reach or read means not ready
        return False, f"database unreachable: {type(exc).__name__}"
    if expected_head is not None and version != expected_head:
        return False, f"migrations not at head (database {version}, code {expected_head})"
    return True, "ok"
