"""Access grants (decision 0107): an organisation that is not territorial sees a case only while a grant made
by a referral it received, or by the intake it recorded, is active and unexpired.

- A referral's grant follows the referral: every event of the referral carries its `data.sequence` (the
  referral's version); the grant row keeps the newest sequence applied, and an event with an older or equal
  sequence changes nothing, so a replayed `referral.sent` (captured, redelivered after its id was purged from
  the processed events, or arriving out of order) cannot revive a grant its referral's end revoked. An open
  referral's events renew the expiry; an ending event (rejected, completed, cancelled, closed) revokes it, and
  arriving first it leaves a revoked row that older events cannot reopen.
- A reporter's grant (an NGO or other non-territorial organisation that recorded the intake) ends when the
  case closes (closed, closed not in scope, transferred out) or at its expiry.
"""

from __future__ import annotations

import uuid
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

from sqlalchemy.ext.asyncio import AsyncSession

from cases_service.core.enums import ENDING_REFERRAL_EVENTS
from cases_service.db import repository as repo
from himaya.errors import InvalidInput


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


def referral_sequence(data: dict[str, Any]) -> int:
    """The referral's version carried by one of its events; 422 when missing (it orders the grant's changes)."""
    sequence = data.get("sequence")
    if isinstance(sequence, bool) or not isinstance(sequence, int) or sequence < 1:
        raise InvalidInput("A referral event carries data.sequence, the referral's version (an integer >= 1).")
    return sequence


async def apply_referral_event(session: AsyncSession, *, event_type: str, case_id: uuid.UUID,
                               organization_id: uuid.UUID, referral_id: uuid.UUID, kind: str, sequence: int,
                               at: datetime, lifetimes: GrantLifetimes) -> bool:
    """Bring the referral's grant to the referral's state at `sequence`; False when a newer event was applied."""
    grant_kind = "prosecution" if kind == "prosecution" else "service"
    return await repo.apply_referral_grant(
        session, case_id=case_id, organization_id=organization_id, referral_id=referral_id, kind=grant_kind,
        sequence=sequence, active=event_type not in ENDING_REFERRAL_EVENTS, expires_at=at + lifetimes.of(grant_kind))


async def grant_reporter(session: AsyncSession, *, case_ids: list[uuid.UUID], organization_id: uuid.UUID,
                         intake_id: uuid.UUID, at: datetime, lifetimes: GrantLifetimes) -> None:
    """The organisation that recorded the intake keeps seeing its cases until they close or the grant expires."""
    for case_id in case_ids:
        await repo.insert_reporter_grant(session, case_id=case_id, organization_id=organization_id,
                                         intake_id=intake_id, expires_at=at + lifetimes.reporter)


async def end_reporter_grants(session: AsyncSession, *, case_id: uuid.UUID) -> int:
    """A closed case's reporters lose access (the referrals' grants end with their referrals)."""
    return await repo.revoke_reporter_grants(session, case_id=case_id)
