"""Typed clients for the cases and identity services, called with the caller's own Authorization header."""

from __future__ import annotations

import uuid
from typing import Any

import httpx

from himaya.errors import NotFound, ServiceUnavailable, Unauthorized
from himaya.http import ServiceClient


async def _get_json(client: ServiceClient, path: str, *, authorization: str, what: str) -> dict[str, Any]:
    try:
        response = await client.request("GET", path, authorization=authorization)
    except httpx.HTTPError as exc:
        raise ServiceUnavailable(f"The {what} could not be checked; try again.",
                                 headers={"Retry-After": "5"}) from exc
    if response.status_code == 200:
        body: dict[str, Any] = response.json()
        return body
    if response.status_code in (403, 404):
        # The caller may not see it: to them it does not exist.
        raise NotFound(f"No such {what}.")
    if response.status_code == 401:
        raise Unauthorized("The token was refused while checking the " + what + ".")
    raise ServiceUnavailable(f"The {what} could not be checked; try again.", headers={"Retry-After": "5"})


class CasesClient(ServiceClient):
    """The cases service, as seen by the caller of a referral request."""

    async def get_case(self, case_id: uuid.UUID, *, authorization: str) -> dict[str, Any]:
        """The case the caller may see; NotFound when they may not (or it does not exist)."""
        return await _get_json(self, f"/v1/cases/{case_id}", authorization=authorization, what="case")


class IdentityClient(ServiceClient):
    """The identity service's directory of organisations."""

    async def get_organization(self, organization_id: uuid.UUID, *, authorization: str) -> dict[str, Any]:
        """An organisation by id; NotFound when there is none."""
        return await _get_json(self, f"/v1/organizations/{organization_id}", authorization=authorization,
                               what="organisation")
