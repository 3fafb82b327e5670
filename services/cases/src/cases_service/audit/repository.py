"""SQL of the audit log's reading side: events filtered by case, child, actor, organisation and period."""

from __future__ import annotations

import uuid
from collections.abc import Sequence
from datetime import datetime

import sqlalchemy as sa
from sqlalchemy.ext.asyncio import AsyncSession

from cases_service.audit.records import AuditEvent
from cases_service.core.repository import territory_clause
from cases_service.core.tables import audit_checkpoints, audit_events, cases
from himaya.audit import AuditSigner, ChainState, Checkpoint, CheckpointReport, verify_chains, verify_checkpoints
from himaya.audit import write_checkpoint as write_signed_checkpoint
from himaya.records import from_row

EVENT_COLUMNS = [c for c in audit_events.c if c.name not in ("prev_hash", "hash")]


async def list_events(session: AsyncSession, *, case_id: uuid.UUID | None, child_ids: Sequence[uuid.UUID] | None,
                      actor: str | None, organization_id: uuid.UUID | None, occurred_from: datetime | None,
                      occurred_to: datetime | None, territories: tuple[str, ...] | None, before_id: int | None,
                      limit: int) -> list[AuditEvent]:
    """A page of events, newest first (keyset on id); `territories` None means the whole country."""
    a = audit_events
    stmt = sa.select(*EVENT_COLUMNS)
    if case_id is not None:
        stmt = stmt.where(a.c.case_id == case_id)
    if child_ids is not None:
        of_child = sa.select(cases.c.id).where(cases.c.child_id.in_(list(child_ids)))
        stmt = stmt.where(sa.or_(a.c.case_id.in_(of_child),
                                 sa.and_(a.c.object_type == "child", a.c.object_id.in_([str(c) for c in child_ids]))))
    if actor is not None:
        stmt = stmt.where(a.c.actor == actor)
    if organization_id is not None:
        stmt = stmt.where(a.c.actor_organization_id == organization_id)
    if occurred_from is not None:
        stmt = stmt.where(a.c.occurred_at >= occurred_from)
    if occurred_to is not None:
        stmt = stmt.where(a.c.occurred_at < occurred_to)
    if territories is not None:
        stmt = stmt.where(a.c.case_id.in_(sa.select(cases.c.id).where(territory_clause(territories))))
    if before_id is not None:
        stmt = stmt.where(a.c.id < before_id)
    rows = (await session.execute(stmt.order_by(a.c.id.desc()).limit(limit + 1))).mappings().all()
    return [from_row(AuditEvent, row) for row in rows]


async def verify(session: AsyncSession, signer: AuditSigner) -> tuple[list[ChainState], CheckpointReport]:
    """Recompute every chain of this service's audit log, and check its signed checkpoints."""
    return (await verify_chains(session, audit_events),
            await verify_checkpoints(session, audit_events, audit_checkpoints, signer))


async def write_checkpoint(session: AsyncSession, signer: AuditSigner) -> Checkpoint:
    """Sign the chains' current heads (in this transaction)."""
    return await write_signed_checkpoint(session, audit_events, audit_checkpoints, signer)
