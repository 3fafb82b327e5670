"""API models of webhook subscriptions, their deliveries and dead letters."""

from __future__ import annotations

import uuid
from datetime import datetime
from typing import Annotated

from pydantic import AnyUrl, BaseModel, ConfigDict, Field, StringConstraints

from referrals_service.core.enums import EventType


class WebhookSubscriptionCreate(BaseModel):
    """Where to deliver which events of the caller's organisation."""

    model_config = ConfigDict(extra="forbid")

    url: Annotated[AnyUrl, Field(description="https URL on a public address.")]
    events: Annotated[list[EventType], Field(min_length=1, max_length=20)]
    description: Annotated[str, StringConstraints(strip_whitespace=True, max_length=200)] | None = None


class WebhookSubscriptionRead(BaseModel):
    """A webhook subscription (the secret is never shown again after creation)."""

    id: uuid.UUID
    organization_id: uuid.UUID
    url: str
    events: list[EventType]
    description: str | None
    active: bool
    created_by: str
    created_at: datetime


class WebhookSubscriptionCreated(WebhookSubscriptionRead):
    """The new subscription with its signing secret, shown this once."""

    secret: str = Field(description="HMAC-SHA256 key for Himaya-Signature; store it now, it is not shown again.")


class WebhookSubscriptionPage(BaseModel):
    """A page of subscriptions."""

    items: list[WebhookSubscriptionRead]
    next_cursor: str | None


class DeliveryRead(BaseModel):
    """One delivery of one event to one subscription, with its attempts so far."""

    id: uuid.UUID
    subscription_id: uuid.UUID
    event_id: uuid.UUID
    event_type: EventType
    referral_id: uuid.UUID | None
    status: str = Field(description="`pending` (being retried), `delivered` or `dead`.")
    attempts: int
    last_error: str | None
    next_attempt_at: datetime | None
    created_at: datetime
    delivered_at: datetime | None


class DeliveryPage(BaseModel):
    """A page of deliveries, newest first."""

    items: list[DeliveryRead]
    next_cursor: str | None


class DeadLetterRead(BaseModel):
    """An event the outbox gave up on: to cases or to a webhook subscription."""

    id: uuid.UUID
    destination: str
    event_id: uuid.UUID
    event_type: str
    referral_id: uuid.UUID | None
    attempts: int
    last_error: str | None
    created_at: datetime


class DeadLetterPage(BaseModel):
    """A page of dead letters, newest first."""

    items: list[DeadLetterRead]
    next_cursor: str | None
