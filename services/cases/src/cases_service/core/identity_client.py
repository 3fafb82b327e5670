"""The identity service's directory, called with the caller's own Authorization header (decision 0107)."""

from __future__ import annotations

import uuid
from typing import Any

import httpx

from cases_service.core.directory import OrganizationEntry, UserEntry
from himaya.errors import ServiceUnavailable, Unauthorized
from himaya.http import ServiceClient


class IdentityDirectory(ServiceClient):
    """Organisations and users' directory entries: what an assignment of a case is checked against."""

    async def _get(self, path: str, *, authorization: str | None) -> dict[str, Any] | None:
        try:
            response = await self.request("GET", path, authorization=authorization)
        except httpx.HTTPError as exc:
            raise ServiceUnavailable("The directory could not be checked; try again.",
                                     headers={"Retry-After": "5"}) from exc
        if response.status_code == 200:
            body: dict[str, Any] = response.json()
            return body
        if response.status_code in (404, 422):
            return None
        if response.status_code == 401:
            raise Unauthorized("The token was refused while checking the directory.")
        raise ServiceUnavailable("The directory could not be checked; try again.", headers={"Retry-After": "5"})

    async def organization(self, organization_id: uuid.UUID, *, authorization: str | None) -> OrganizationEntry | None:
        """An organisation's type and territory; None when there is none."""
        body = await self._get(f"/v1/organizations/{organization_id}", authorization=authorization)
        if body is None:
            return None
        return OrganizationEntry(id=uuid.UUID(body["id"]), type=body["type"], territory_code=body["territory_code"])

    async def user(self, user_id: uuid.UUID, *, authorization: str | None) -> UserEntry | None:
        """A user's organisation, role, territories and status; None when there is no such user."""
        body = await self._get(f"/v1/users/{user_id}/directory-entry", authorization=authorization)
        if body is None:
            return None
        return UserEntry(id=uuid.UUID(body["id"]), organization_id=uuid.UUID(body["organization_id"]),
                         organization_type=body["organization_type"], role=body["role"],
                         territories=tuple(body["territories"]), active=bool(body["active"]))
