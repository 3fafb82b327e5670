"""Typed records several features pass around (each feature's own are in its records.py)."""

from __future__ import annotations

import uuid
from dataclasses import dataclass
from typing import Protocol


class NamesData(Protocol):
    """A person's names in Latin and Arabic script, as a request gives them (read only)."""

    @property
    def first_name(self) -> str | None: ...

    @property
    def last_name(self) -> str | None: ...

    @property
    def first_name_ar(self) -> str | None: ...

    @property
    def last_name_ar(self) -> str | None: ...


class AdultData(NamesData, Protocol):
    """An adult as an intake or a case records it (the request's adult; read only)."""

    @property
    def cnie(self) -> str | None: ...

    @property
    def offence_notes(self) -> str | None: ...

    @property
    def sex(self) -> str | None: ...

    @property
    def age(self) -> int | None: ...

    @property
    def nationality(self) -> str | None: ...

    @property
    def suspected_offender(self) -> bool: ...


@dataclass(frozen=True)
class NewAdult:
    """An adult just recorded: what the search for duplicates needs of it."""

    id: uuid.UUID
    name_tokens: list[str]
    cnie_index: bytes | None


@dataclass(frozen=True)
class VisibleCase:
    """A case the caller may see, as every route under /v1/cases/{case_id}/ loads it: enough to decide what may
    be done to it (its status, place and lead)."""

    id: uuid.UUID
    status: str
    version: int
    child_id: uuid.UUID
    prefecture_code: str
    commune_code: str
    lead_organization_id: uuid.UUID | None
