"""What every domain function of this service works with: the transaction, the caller and the keys."""

from __future__ import annotations

import uuid
from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import UTC, date, datetime

from sqlalchemy.ext.asyncio import AsyncSession

from cases_service.core.access import Visibility, visibility
from cases_service.core.directory import Directory
from cases_service.core.protection import Protector
from cases_service.core.reference import ReferenceData
from cases_service.db import repository as repo
from cases_service.domain.grants import GrantLifetimes
from himaya.audit import AuditEntry
from himaya.auth import Principal

DAYS_PER_YEAR = 365.25


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
        await repo.write_audit(self.session, entries, principal=self.principal, source_ip=self.source_ip)


def now() -> datetime:
    """The current time (UTC)."""
    return datetime.now(UTC)


def age_years(reference_birth_date: date | None, at: date) -> float | None:
    """Age in years, one decimal, at a date (computed at query time from the stored raw value)."""
    if reference_birth_date is None:
        return None
    return round(max(0.0, (at - reference_birth_date).days / DAYS_PER_YEAR), 1)


def new_id() -> uuid.UUID:
    """A new row id."""
    return uuid.uuid4()
