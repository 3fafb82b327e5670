"""The audit entries referrals' services write, so that no service function touches the audit table itself."""

from __future__ import annotations

from himaya.audit import AuditEntry, record
from referrals_service.core.context import Context
from referrals_service.core.tables import audit_events


async def audit(ctx: Context, entry: AuditEntry) -> None:
    """Record `entry` as done by the caller, in the request's transaction."""
    await record(ctx.session, audit_events, entry, principal=ctx.principal)
