"""The answer to a service's event."""

from __future__ import annotations

from pydantic import BaseModel


class EventReceipt(BaseModel):
    """What the receiver did with an event."""

    id: str
    status: str  # processed | duplicate
