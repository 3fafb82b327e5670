"""Statements on the reference data: territories and courts."""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from typing import Any

import sqlalchemy as sa
from sqlalchemy.dialects.postgresql import insert
from sqlalchemy.ext.asyncio import AsyncSession

from himaya.records import from_row
from identity_service.core.tables import courts, territories
from identity_service.territories.records import Territory


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
                           after: str | None, limit: int) -> list[Territory]:
    """Territories ordered by code, filtered by level and parent, after a cursor code."""
    q = sa.select(territories).order_by(territories.c.code).limit(limit)
    if level is not None:
        q = q.where(territories.c.level == level)
    if parent_code is not None:
        q = q.where(territories.c.parent_code == parent_code)
    if after is not None:
        q = q.where(territories.c.code > after)
    return [from_row(Territory, r) for r in (await session.execute(q)).mappings().all()]


async def existing_territory_codes(session: AsyncSession, codes: Iterable[str]) -> set[str]:
    """Which of `codes` exist in the territories table."""
    wanted = list(set(codes))
    if not wanted:
        return set()
    rows = await session.execute(sa.select(territories.c.code).where(territories.c.code.in_(wanted)))
    return set(rows.scalars().all())


async def court_exists(session: AsyncSession, code: str) -> bool:
    """Whether a court has this code."""
    return bool((await session.execute(sa.select(sa.exists().where(courts.c.code == code)))).scalar())
