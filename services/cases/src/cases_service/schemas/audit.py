"""Response models of the audit log (auditors only): events, and the hash chains' verification."""

from __future__ import annotations

import uuid
from datetime import datetime

from cases_service.schemas.common import ResponseModel


class AuditEventRead(ResponseModel):
    """Who did or read what, when and from where; field names only, never their values."""

    id: int
    occurred_at: datetime
    actor: str
    actor_organization_id: uuid.UUID | None
    action: str
    object_type: str
    object_id: str | None
    case_id: uuid.UUID | None
    fields: list[str]
    outcome: str
    request_id: str | None
    source_ip: str | None
    chain: int


class AuditChainRead(ResponseModel):
    """One hash chain: rows checked, its first broken row (edited, or its predecessor deleted), and its head."""

    chain: int
    checked: int
    valid: bool
    first_broken_id: int | None
    reason: str | None
    head_id: int | None
    head_hash: str | None


class AuditVerifyRead(ResponseModel):
    """The whole log: valid only if every chain is; `first_broken_id` is the lowest broken row of any chain."""

    service: str
    valid: bool
    checked: int
    first_broken_id: int | None
    chains: list[AuditChainRead]
    verified_at: datetime
