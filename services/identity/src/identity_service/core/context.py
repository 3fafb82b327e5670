"""The context every service function of identity receives first: the session, the caller, and the
encryption of private signing keys (which only the keys repository uses)."""

from __future__ import annotations

from dataclasses import dataclass

from sqlalchemy.ext.asyncio import AsyncSession

from himaya.auth import Principal
from identity_service.core.crypto import KeyEncryption


@dataclass(frozen=True)
class Context:
    """One request's (or one command's) session, caller and key encryption.

    `principal` is None for the service's own commands (the seed, the emergency key revocation), which act
    as `system:*` and are audited so."""

    session: AsyncSession
    principal: Principal | None
    encryption: KeyEncryption

    @property
    def caller(self) -> Principal:
        """The caller of an operation that only a caller (never a command) performs."""
        if self.principal is None:
            raise RuntimeError("this operation needs a caller")
        return self.principal
