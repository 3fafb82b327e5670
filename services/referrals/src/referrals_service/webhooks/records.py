"""The typed records of webhook subscriptions and of outbox rows (deliveries and dead letters)."""

from __future__ import annotations

import uuid
from dataclasses import dataclass
from datetime import datetime
from typing import Any


@dataclass(frozen=True)
class Subscription:
    """A webhook subscription of an organisation (its secret included: never shown after creation)."""

    id: uuid.UUID
    organization_id: uuid.UUID
    url: str
    events: list[str]
    secret: str
    description: str | None
    active: bool
    created_by: str
    created_at: datetime
    owner_scopes: list[str]


@dataclass(frozen=True)
class OutboxRow:
    """One event for one destination in the outbox: a delivery to cases or to a subscription."""

    id: uuid.UUID
    event_type: str
    destination: str
    payload: dict[str, Any]
    aggregate_id: uuid.UUID | None
    status: str
    attempts: int
    last_error: str | None
    next_attempt_at: datetime
    created_at: datetime
    delivered_at: datetime | None
