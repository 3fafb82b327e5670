"""The audit log for data-protection auditors (audit:read): "who saw this child", and the chains' integrity.

An auditor with the national territory (`MA`) sees every event; one scoped to territories sees the events
of cases in them (events tied to no case, such as a search that found nothing, stay national). Reading the
log is itself audited.
"""

from __future__ import annotations

import dataclasses
import uuid
from datetime import datetime

from cases_service.audit import repository as repo
from cases_service.audit.records import AuditEvent, Verification
from cases_service.core.access import require
from cases_service.core.context import Context
from cases_service.duplicates import service as duplicates
from himaya import clock
from himaya.audit import AuditEntry, AuditLogTampered, AuditSigner, log_checkpoint
from himaya.auth import NATIONAL
from himaya.errors import InvalidInput
from himaya.pagination import build_page, decode_cursor
from himaya.scopes import Scope


async def list_audit_events(ctx: Context, *, case_id: uuid.UUID | None, child_id: uuid.UUID | None,
                            actor: str | None, organization_id: uuid.UUID | None, occurred_from: datetime | None,
                            occurred_to: datetime | None, limit: int, cursor: str | None
                            ) -> tuple[list[AuditEvent], str | None]:
    """Events newest first, filtered by case, child (with the records merged into it), actor, organisation
    and period."""
    require(ctx.principal, Scope.AUDIT_READ)
    if occurred_from and occurred_to and occurred_to <= occurred_from:
        raise InvalidInput("`to` must be after `from`.")
    child_ids = None
    if child_id is not None:
        child_ids = await duplicates.records_of_child(ctx, child_id=child_id)
    before = None
    if cursor:
        (last,) = decode_cursor(cursor, 1)
        if not isinstance(last, int):
            raise InvalidInput("The cursor is not valid.")
        before = last
    territories = None if NATIONAL in ctx.principal.territories else ctx.principal.territories
    rows = await repo.list_events(ctx.session, case_id=case_id, child_ids=child_ids, actor=actor,
                                  organization_id=organization_id, occurred_from=occurred_from,
                                  occurred_to=occurred_to, territories=territories, before_id=before, limit=limit)
    items, next_cursor = build_page(rows, limit, lambda r: [r.id])
    filters = [name for name, value in (("case_id", case_id), ("child_id", child_id), ("actor", actor),
                                        ("organization_id", organization_id), ("from", occurred_from),
                                        ("to", occurred_to)) if value is not None]
    await ctx.audit([AuditEntry(action="audit.read", object_type="audit_log",
                                object_id=str(child_id or case_id) if (child_id or case_id) else None,
                                case_id=case_id, fields=[f"filter.{f}" for f in filters])])
    return items, next_cursor


async def verify_audit_log(ctx: Context, *, signer: AuditSigner) -> Verification:
    """Recompute every hash chain of this service's log (each reports its first broken row and its head) and
    check the signed checkpoints; when all is intact, sign a new checkpoint of the heads (verification included)."""
    require(ctx.principal, Scope.AUDIT_READ)
    states, checkpoints = await repo.verify(ctx.session, signer)
    broken = [s.first_broken_id for s in states if s.first_broken_id is not None]
    valid = not broken and checkpoints.valid
    await ctx.audit([AuditEntry(action="audit.verify", object_type="audit_log", fields=["audit_log.hashes"],
                                outcome="success" if valid else "broken")])
    latest = checkpoints.latest
    if valid:
        try:
            latest = await repo.write_checkpoint(ctx.session, signer)
            log_checkpoint(latest, signer)
        except AuditLogTampered as exc:  # rows removed between the check and the signature
            valid, checkpoints = False, dataclasses.replace(checkpoints, valid=False, reason=str(exc))
    return Verification(valid=valid, chains=states, checkpoints=checkpoints, latest_checkpoint=latest,
                        verified_at=clock.now())
