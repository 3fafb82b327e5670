"""Who may lead a case, manage it, or take a child in (decision 0107).

Cases does not hold identity's organisations or users; it asks identity's directory, with the caller's own
token, at the moment a case is assigned or an institution or placement is recorded:

- a lead organisation is a CAPE or Entraide Nationale organisation (the organisations that employ case
  managers) whose territory covers the case's commune; it cannot be removed;
- a case manager is an active user with the role case manager or team coordinator, whose territories cover
  the case's commune, and who belongs to the lead organisation (or, while the lead is still the reporting
  police or NGO organisation of the intake, to a CAPE or Entraide Nationale organisation);
- an institution belongs to an EPS organisation whose territory and the institution's prefecture overlap;
  a placement goes to an institution of an EPS organisation, in the caller's territories.

Each refusal is a 422 problem with the code `assignment_not_allowed` and a detail naming the field.
"""

from __future__ import annotations

import uuid
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any, Protocol

from cases_service.core.enums import CASE_MANAGER_ROLES, INSTITUTION_ORGANIZATION_TYPE, LEAD_ORGANIZATION_TYPES
from cases_service.core.records import VisibleCase
from himaya.auth import territory_covers
from himaya.errors import InvalidInput, ServiceUnavailable


class AssignmentRefused(InvalidInput):
    """A case, institution or placement names an organisation or user outside the rules."""

    code = "assignment_not_allowed"
    title = "Assignment not allowed"


@dataclass(frozen=True)
class OrganizationEntry:
    """What the directory says of an organisation."""

    id: uuid.UUID
    type: str
    territory_code: str


@dataclass(frozen=True)
class UserEntry:
    """What the directory says of a user (no name or contact)."""

    id: uuid.UUID
    organization_id: uuid.UUID
    organization_type: str
    role: str
    territories: tuple[str, ...]
    active: bool


class DirectorySource(Protocol):
    """Identity's directory as a client reaches it (IdentityDirectory, or a stand-in)."""

    async def organization(self, organization_id: uuid.UUID, *, authorization: str | None
                           ) -> OrganizationEntry | None: ...

    async def user(self, user_id: uuid.UUID, *, authorization: str | None) -> UserEntry | None: ...


@dataclass(frozen=True)
class Directory:
    """The directory as seen by one caller (their token goes with every question)."""

    source: DirectorySource | None
    authorization: str | None

    async def organization(self, organization_id: uuid.UUID) -> OrganizationEntry | None:
        """The organisation, or None."""
        return await self._source().organization(organization_id, authorization=self.authorization)

    async def user(self, user_id: uuid.UUID) -> UserEntry | None:
        """The user's directory entry, or None."""
        return await self._source().user(user_id, authorization=self.authorization)

    def _source(self) -> DirectorySource:
        if self.source is None:
            raise ServiceUnavailable("The directory is not configured; assignments cannot be checked.")
        return self.source


async def check_case_assignment(directory: Directory, case: VisibleCase, values: Mapping[str, Any]) -> None:
    """Refuse a case update whose lead organisation or case manager breaks the rules of this module."""
    commune = case.commune_code
    lead_id = values.get("lead_organization_id", case.lead_organization_id)
    lead: OrganizationEntry | None = None
    if "lead_organization_id" in values:
        if lead_id is None:
            raise AssignmentRefused("lead_organization_id cannot be removed; name the organisation leading the case.")
        lead = await directory.organization(lead_id)
        if lead is None:
            raise AssignmentRefused("lead_organization_id does not name an organisation.")
        if lead.type not in LEAD_ORGANIZATION_TYPES:
            raise AssignmentRefused("lead_organization_id must name a CAPE or Entraide Nationale organisation.")
        if not territory_covers(lead.territory_code, commune):
            raise AssignmentRefused("lead_organization_id names an organisation whose territory does not cover "
                                    "the case's commune.")
    manager_id = values.get("case_manager_id")
    if manager_id is None:
        return
    manager = await directory.user(manager_id)
    if manager is None or not manager.active:
        raise AssignmentRefused("case_manager_id does not name an active user.")
    if manager.role not in CASE_MANAGER_ROLES or manager.organization_type not in LEAD_ORGANIZATION_TYPES:
        raise AssignmentRefused("case_manager_id must name a case manager or team coordinator of a CAPE or "
                                "Entraide Nationale organisation.")
    if not any(territory_covers(t, commune) for t in manager.territories):
        raise AssignmentRefused("case_manager_id names a user whose territories do not cover the case's commune.")
    if lead is None and lead_id is not None:
        lead = await directory.organization(lead_id)
    if lead is not None and lead.type in LEAD_ORGANIZATION_TYPES and manager.organization_id != lead.id:
        raise AssignmentRefused("case_manager_id names a user outside the case's lead organisation.")


async def check_institution_organization(directory: Directory, organization_id: uuid.UUID,
                                         prefecture_code: str) -> None:
    """An institution belongs to an EPS organisation of its prefecture."""
    org = await directory.organization(organization_id)
    if org is None or org.type != INSTITUTION_ORGANIZATION_TYPE:
        raise AssignmentRefused("organization_id must name an EPS organisation.")
    if not (territory_covers(org.territory_code, prefecture_code)
            or territory_covers(prefecture_code, org.territory_code)):
        raise AssignmentRefused("organization_id names an EPS organisation outside the institution's prefecture.")
