"""The audit entries identity's services write (one helper, the caller or a `system:*` actor)."""

from __future__ import annotations

import uuid
from collections.abc import Sequence

from himaya.audit import AuditEntry, record
from identity_service.core.context import Context
from identity_service.core.tables import audit_events


async def audit(ctx: Context, action: str, object_type: str, object_id: uuid.UUID | str | None,
                fields: Sequence[str] = (), *, system: str = "system:seed", outcome: str = "success") -> None:
    """Record `action` on an object by the caller (or, for a command, by the `system` actor)."""
    await record(ctx.session, audit_events, AuditEntry(action, object_type, str(object_id) if object_id else None,
                                                       fields=tuple(fields), outcome=outcome),
                 principal=ctx.principal, actor=None if ctx.principal else system)
