"""The context every service function of referrals receives first: the session, the caller, the cipher of the
free texts, and the clients of cases and identity (behind protocols, so no service function imports httpx)."""

from __future__ import annotations

import uuid
from dataclasses import dataclass
from typing import Any, Protocol

from sqlalchemy.ext.asyncio import AsyncSession

from himaya.auth import Principal
from himaya.crypto import FieldCipher
from referrals_service.core.urlguard import UrlGuard


class CaseDirectory(Protocol):
    """The cases service as the caller sees it."""

    async def get_case(self, case_id: uuid.UUID, *, authorization: str) -> dict[str, Any]:
        """The case the caller may see; NotFound when they may not (or it does not exist)."""
        ...


class OrganizationDirectory(Protocol):
    """Identity's directory of organisations."""

    async def get_organization(self, organization_id: uuid.UUID, *, authorization: str) -> dict[str, Any]:
        """An organisation by id; NotFound when there is none."""
        ...


@dataclass(frozen=True)
class Context:
    """One request's session, caller (and their Authorization header, forwarded to cases and identity),
    the field cipher, the other services' clients and the SSRF guard of webhook URLs."""

    session: AsyncSession
    principal: Principal
    cipher: FieldCipher
    cases: CaseDirectory
    identity: OrganizationDirectory
    guard: UrlGuard
    authorization: str = ""
