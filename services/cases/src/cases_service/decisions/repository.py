"""Statements of what referrals' events do: processed event ids, access grants, judicial measures."""

from __future__ import annotations

import uuid
from collections.abc import Mapping, Sequence
from datetime import datetime
from typing import Any

import sqlalchemy as sa
from sqlalchemy.dialects.postgresql import insert as pg_insert
from sqlalchemy.ext.asyncio import AsyncSession

from cases_service.core.enums import Status
from cases_service.core.tables import (
    case_access_grants,
    cases,
    judicial_measures,
    processed_events,
)


async def insert_reporter_grant(session: AsyncSession, *, case_id: uuid.UUID, organization_id: uuid.UUID,
                                intake_id: uuid.UUID, expires_at: datetime) -> None:
    """Grant the organisation that recorded an intake read access to one of its cases."""
    g = case_access_grants
    stmt = pg_insert(g).values(case_id=case_id, organization_id=organization_id, source_id=intake_id,
                               kind="reporter", expires_at=expires_at)
    await session.execute(stmt.on_conflict_do_nothing(index_elements=[g.c.case_id, g.c.organization_id,
                                                                      g.c.source_id]))


async def apply_referral_grant(session: AsyncSession, *, case_id: uuid.UUID, organization_id: uuid.UUID,
                               referral_id: uuid.UUID, kind: str, sequence: int, active: bool,
                               expires_at: datetime) -> bool:
    """Set the referral's grant to active (expiry renewed) or revoked as of `sequence`, in one statement that
    changes nothing when the row already holds a newer or equal sequence; True when it was applied."""
    g = case_access_grants
    insert = pg_insert(g).values(case_id=case_id, organization_id=organization_id, source_id=referral_id,
                                 kind=kind, source_sequence=sequence, expires_at=expires_at,
                                 revoked_at=None if active else sa.func.now())
    x = insert.excluded
    values: dict[str, Any] = {"source_sequence": x.source_sequence}
    if active:
        values.update(revoked_at=None, expires_at=sa.func.greatest(g.c.expires_at, x.expires_at))
    else:
        values["revoked_at"] = sa.func.coalesce(g.c.revoked_at, x.revoked_at)
    stmt = insert.on_conflict_do_update(index_elements=[g.c.case_id, g.c.organization_id, g.c.source_id],
                                        set_=values, where=g.c.source_sequence < x.source_sequence)
    result = await session.execute(stmt.returning(g.c.case_id))
    return result.first() is not None


async def revoke_reporter_grants(session: AsyncSession, *, case_id: uuid.UUID) -> int:
    """Revoke the active reporter grants of a case; returns how many there were."""
    g = case_access_grants
    result = await session.execute(sa.update(g).where(g.c.case_id == case_id, g.c.kind == "reporter",
                                                      g.c.revoked_at.is_(None)).values(revoked_at=sa.func.now()))
    return int(getattr(result, "rowcount", 0) or 0)


async def claim_event(session: AsyncSession, *, event_id: uuid.UUID, event_type: str,
                      case_id: uuid.UUID | None) -> bool:
    """Record an event id; False if it was processed before (waits for a concurrent first delivery)."""
    stmt = (pg_insert(processed_events).values(event_id=event_id, event_type=event_type, case_id=case_id)
            .on_conflict_do_nothing().returning(processed_events.c.event_id))
    return (await session.execute(stmt)).scalar_one_or_none() is not None


async def lock_case_status(session: AsyncSession, case_id: uuid.UUID) -> Status | None:
    """The status of a case, locked for an event's effects (events are not subject to a caller's visibility);
    None when there is no such case."""
    stmt = sa.select(cases.c.status).where(cases.c.id == case_id).with_for_update()
    status = (await session.execute(stmt)).scalar_one_or_none()
    return Status(status) if status is not None else None


async def insert_measure(session: AsyncSession, values: Mapping[str, Any]) -> None:
    """Record a prosecutor decision on a case."""
    await session.execute(sa.insert(judicial_measures).values(**values))


async def lift_measures(session: AsyncSession, *, case_id: uuid.UUID, lifted_by: uuid.UUID,
                        decision_ids: Sequence[uuid.UUID] | None) -> int:
    """Lift active measures concerning the child: those named, or all when `decision_ids` is None."""
    m = judicial_measures
    stmt = sa.update(m).where(m.c.case_id == case_id, m.c.active, m.c.concerns == "child", m.c.id != lifted_by)
    if decision_ids is not None:
        stmt = stmt.where(sa.or_(m.c.decision_id.in_(decision_ids), m.c.id.in_(decision_ids)))
    result = await session.execute(stmt.values(active=False, lifted_at=sa.func.now(), lifted_by_id=lifted_by))
    return int(getattr(result, "rowcount", 0) or 0)
