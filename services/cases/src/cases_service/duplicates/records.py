"""Typed records of the search for duplicates that other features pass on."""

from __future__ import annotations

import uuid
from dataclasses import dataclass


@dataclass(frozen=True)
class Candidate:
    """A child already known that may be the same as a child just recorded: its score and the cases of it the
    caller may see."""

    child_id: uuid.UUID
    score: float
    case_ids: list[uuid.UUID]
