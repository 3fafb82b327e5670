"""Routes of the audit log: events for auditors, and verification of the hash chains."""

from __future__ import annotations

import uuid
from datetime import datetime
from typing import Annotated

from fastapi import APIRouter, Query, Request

from cases_service.audit import service
from cases_service.audit.schemas import (
    AuditChainRead,
    AuditCheckpointRead,
    AuditCheckpointsRead,
    AuditEventRead,
    AuditVerifyRead,
)
from cases_service.core.deps import ContextDep
from himaya.errors import problem_responses
from himaya.pagination import Page, PageDep

router = APIRouter(tags=["audit"])


@router.get("/v1/audit", response_model=Page[AuditEventRead], responses=problem_responses(401, 403, 422))
async def list_audit_events(
    ctx: ContextDep, page: PageDep,
    case_id: Annotated[uuid.UUID | None, Query(description="Events of one case.")] = None,
    child_id: Annotated[uuid.UUID | None, Query(description="Events of every case of one child, and reads of "
                                                             "the child itself (who saw this child).")] = None,
    actor: Annotated[str | None, Query(max_length=200, pattern=r"^(user|client):[0-9a-fA-F-]{36}$",
                                       description="`user:<uuid>` or `client:<uuid>`.")] = None,
    organization_id: Annotated[uuid.UUID | None, Query(description="The actor's organisation.")] = None,
    occurred_from: Annotated[datetime | None, Query(alias="from")] = None,
    occurred_to: Annotated[datetime | None, Query(alias="to")] = None,
) -> Page[AuditEventRead]:
    """Audit events newest first, by case, child, actor, organisation and period (audit:read)."""
    events, next_cursor = await service.list_audit_events(
        ctx, case_id=case_id, child_id=child_id, actor=actor, organization_id=organization_id,
        occurred_from=occurred_from, occurred_to=occurred_to, limit=page.limit, cursor=page.cursor)
    return Page[AuditEventRead](items=[AuditEventRead.model_validate(e) for e in events], next_cursor=next_cursor)


@router.get("/v1/audit/verify", response_model=AuditVerifyRead, responses=problem_responses(401, 403))
async def verify_audit_log(ctx: ContextDep, request: Request) -> AuditVerifyRead:
    """Verify the log's hash chains and signed checkpoints; sign the heads when intact (audit:read)."""
    signer = request.app.state.audit_signer
    checked = await service.verify_audit_log(ctx, signer=signer)
    broken = [s.first_broken_id for s in checked.chains if s.first_broken_id is not None]
    report, latest = checked.checkpoints, checked.latest_checkpoint
    return AuditVerifyRead(service="cases", valid=checked.valid, checked=sum(s.checked for s in checked.chains),
                           first_broken_id=min(broken) if broken else None,
                           chains=[AuditChainRead.model_validate(s, from_attributes=True) for s in checked.chains],
                           checkpoints=AuditCheckpointsRead(valid=report.valid, checked=report.checked,
                                                            reason=report.reason, number=report.number),
                           latest_checkpoint=AuditCheckpointRead.model_validate(latest.published(signer))
                           if latest else None,
                           verified_at=checked.verified_at)
