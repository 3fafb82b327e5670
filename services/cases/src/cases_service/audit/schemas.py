"""Response models of the audit log (auditors only): events, and the hash chains' verification."""

from __future__ import annotations

import uuid
from datetime import datetime

from cases_service.core.schemas import ResponseModel


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


class AuditChainHead(ResponseModel):
    """A chain's newest row when a checkpoint was signed."""

    chain: int
    id: int
    hash: str


class AuditCheckpointRead(ResponseModel):
    """A signed checkpoint of every chain's head. `signature` (Ed25519, base64url) is over the sorted-key JSON of
    `service`, `number`, `created_at` (UTC, microseconds), `heads` and `prev_hash`; `hash` is that JSON's SHA-256,
    `prev_hash` the previous checkpoint's; `public_key` is the service's raw key (base64url). Keep it outside
    the system and compare it with later answers."""

    number: int
    created_at: str
    heads: list[AuditChainHead]
    prev_hash: str
    hash: str
    key_id: str
    signature: str
    public_key: str


class AuditCheckpointsRead(ResponseModel):
    """The checkpoints' verification: numbered without gaps, chained, signed, and the latest one's heads still
    in the log; `number` is the checkpoint where a problem was found."""

    valid: bool
    checked: int
    reason: str | None
    number: int | None


class AuditVerifyRead(ResponseModel):
    """The whole log: valid only if every chain and the checkpoints are; `first_broken_id` is the lowest broken
    row of any chain; `latest_checkpoint` is the one signed by this verification when the log is intact."""

    service: str
    valid: bool
    checked: int
    first_broken_id: int | None
    chains: list[AuditChainRead]
    checkpoints: AuditCheckpointsRead
    latest_checkpoint: AuditCheckpointRead | None
    verified_at: datetime
