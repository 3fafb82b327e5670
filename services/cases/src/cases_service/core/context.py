"""What every domain function of this service works with: the transaction, the caller and the keys."""

from __future__ import annotations

import uuid
from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import date, datetime, timedelta
from typing import Any

from sqlalchemy.ext.asyncio import AsyncSession

from cases_service.core import repository as core_repo
from cases_service.core.access import Visibility, visibility
from cases_service.core.directory import Directory
from cases_service.core.protection import Protector
from cases_service.core.reference import ReferenceData
from himaya.audit import AuditEntry
from himaya.auth import Principal
from himaya.errors import InvalidInput
from himaya.pagination import decode_cursor

DAYS_PER_YEAR = 365.25


@dataclass(frozen=True)
class GrantLifetimes:
    """How long a grant lasts without news of its reason (settings `CASES_GRANT_DAYS_*`)."""

    reporter: timedelta = timedelta(days=180)
    service: timedelta = timedelta(days=365)
    prosecution: timedelta = timedelta(days=730)

    @classmethod
    def from_settings(cls, settings: Any) -> GrantLifetimes:
        """The lifetimes configured for the service."""
        return cls(reporter=timedelta(days=settings.grant_days_reporter),
                   service=timedelta(days=settings.grant_days_service),
                   prosecution=timedelta(days=settings.grant_days_prosecution))

    def of(self, kind: str) -> timedelta:
        """The lifetime of a grant of `kind` (reporter | service | prosecution)."""
        return {"reporter": self.reporter, "service": self.service}.get(kind, self.prosecution)


@dataclass
class Context:
    """One request's transaction, caller, cipher and reference data."""

    session: AsyncSession
    principal: Principal
    protector: Protector
    reference: ReferenceData
    source_ip: str | None = None
    lifetimes: GrantLifetimes = field(default_factory=GrantLifetimes)
    # Identity's directory with the caller's token: organisations and users named by an assignment.
    directory: Directory = field(default_factory=lambda: Directory(source=None, authorization=None))

    @property
    def visibility(self) -> Visibility:
        """The caller's case filter (403 without cases:read)."""
        return visibility(self.principal)

    async def audit(self, entries: Sequence[AuditEntry]) -> None:
        """Record what the caller read or changed, in this transaction."""
        await core_repo.write_audit(self.session, entries, principal=self.principal, source_ip=self.source_ip)


@dataclass
class EventContext:
    """What a function applying another service's event works with: the transaction and the grants' lifetimes
    (an event has no caller: it is signed by the service that sent it, and audited under its actor)."""

    session: AsyncSession
    lifetimes: GrantLifetimes = field(default_factory=GrantLifetimes)


def age_years(reference_birth_date: date | None, at: date) -> float | None:
    """Age in years, one decimal, at a date (computed at query time from the stored raw value)."""
    if reference_birth_date is None:
        return None
    return round(max(0.0, (at - reference_birth_date).days / DAYS_PER_YEAR), 1)


def new_id() -> uuid.UUID:
    """A new row id."""
    return uuid.uuid4()


def time_cursor(cursor: str | None) -> tuple[datetime, uuid.UUID] | None:
    """The (time, id) a page of a list ordered newest first continues after; 422 for a cursor not ours."""
    if not cursor:
        return None
    moment, row_id = decode_cursor(cursor, 2)
    try:
        return datetime.fromisoformat(str(moment)), uuid.UUID(str(row_id))
    except ValueError as exc:
        raise InvalidInput("The cursor is not valid.") from exc
