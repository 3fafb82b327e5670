"""The audit entries identity's services write, so that no service function touches the audit table itself."""

from __future__ import annotations

import uuid
from collections.abc import Sequence

from himaya.audit import AuditEntry, record
from himaya.auth import Principal
from identity_service.core.context import Context
from identity_service.core.tables import audit_events


async def audit(ctx: Context, action: str, object_type: str, object_id: uuid.UUID | str | None,
                fields: Sequence[str] = (), *, system: str = "system:seed", outcome: str = "success") -> None:
    """Record `action` on an object by the caller (or, for a command, by the `system` actor)."""
    await record(ctx.session, audit_events, AuditEntry(action, object_type, str(object_id) if object_id else None,
                                                       fields=tuple(fields), outcome=outcome),
                 principal=ctx.principal, actor=None if ctx.principal else system)


async def record_event(ctx: Context, entry: AuditEntry, *, principal: Principal | None = None, actor: str | None = None,
                       source_ip: str | None = None, organization_id: uuid.UUID | None = None) -> None:
    """Record `entry` as told: the token endpoint names its actor (a username tried, a client id) itself."""
    await record(ctx.session, audit_events, entry, principal=principal, actor=actor, source_ip=source_ip,
                 organization_id=organization_id)
