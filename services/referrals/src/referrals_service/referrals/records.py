"""The typed records of referrals and their history (free texts in plaintext: the repository seals them)."""

from __future__ import annotations

import uuid
from dataclasses import dataclass
from datetime import datetime
from typing import Any


@dataclass(frozen=True)
class Referral:
    """A referral of a case to a prosecution office or a service provider."""

    id: uuid.UUID
    case_id: uuid.UUID
    kind: str
    status: str
    sender_organization_id: uuid.UUID
    target_organization_id: uuid.UUID
    target_organization_type: str
    reason: str
    urgency: str
    service_type: str | None
    snapshot: dict[str, Any]
    external_reference: str | None
    outcome: str | None
    rejection_reason: str | None
    cancellation_reason: str | None
    created_by: str
    created_at: datetime
    updated_at: datetime
    closed_at: datetime | None
    version: int
    change_seq: int


@dataclass(frozen=True)
class HistoryEntry:
    """One step of a referral's history."""

    id: int
    referral_id: uuid.UUID
    event_type: str
    from_status: str | None
    to_status: str
    actor: str
    actor_organization_id: uuid.UUID | None
    note: str | None
    occurred_at: datetime


@dataclass(frozen=True)
class Decision:
    """A prosecutor decision recorded on a prosecution referral."""

    id: uuid.UUID
    referral_id: uuid.UUID
    case_id: uuid.UUID
    type: str
    concerns: str
    adult_id: uuid.UUID | None
    legal_basis: str | None
    decided_at: datetime
    notes: str | None
    recorded_by: str
    organization_id: uuid.UUID
    created_at: datetime
