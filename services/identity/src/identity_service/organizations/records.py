"""The typed record of an organisation."""

from __future__ import annotations

import uuid
from dataclasses import dataclass
from datetime import datetime


@dataclass(frozen=True)
class Organization:
    """An organisation of the programme; a prosecution office names its court."""

    id: uuid.UUID
    name: str
    type: str
    territory_code: str
    court_code: str | None
    created_at: datetime
    updated_at: datetime
    version: int
