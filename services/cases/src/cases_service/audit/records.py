"""Typed records of the audit log as the auditors' routes read it."""

from __future__ import annotations

import uuid
from dataclasses import dataclass
from datetime import datetime

from himaya.audit import ChainState, Checkpoint, CheckpointReport


@dataclass(frozen=True)
class AuditEvent:
    """Who did or read what, when and from where (field names only, never their values)."""

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


@dataclass(frozen=True)
class Verification:
    """The hash chains and signed checkpoints as verified now, and the checkpoint signed when all was intact."""

    valid: bool
    chains: list[ChainState]
    checkpoints: CheckpointReport
    latest_checkpoint: Checkpoint | None
    verified_at: datetime
