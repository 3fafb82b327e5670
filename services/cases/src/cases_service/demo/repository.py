"""SQL of the demo loader: the lock and the marker that make loading idempotent, and the story clock."""

from __future__ import annotations

import zlib
from datetime import datetime

import sqlalchemy as sa
from sqlalchemy.ext.asyncio import AsyncSession

from cases_service.core.tables import intakes

LOCK_KEY = zlib.crc32(b"cases.demo") & 0x7FFFFFFF


async def lock(session: AsyncSession) -> None:
    """Serialise concurrent loaders (until the end of the transaction)."""
    await session.execute(sa.select(sa.func.pg_advisory_xact_lock(LOCK_KEY)))


async def intakes_recorded_by(session: AsyncSession, actor: str) -> int:
    """How many intakes `actor` recorded (the demo loader's marker)."""
    return int((await session.execute(
        sa.select(sa.func.count()).select_from(intakes).where(intakes.c.created_by == actor))).scalar_one())


async def set_story_clock(session: AsyncSession, at: datetime | None) -> None:
    """Stamp the timeline events written next in this transaction with `at` (the story's time), or with the
    transaction's time again when None (migration 20261129123000: the default of `case_events.occurred_at`)."""
    await session.execute(sa.select(sa.func.set_config("cases.story_clock", at.isoformat() if at else "", True)))
