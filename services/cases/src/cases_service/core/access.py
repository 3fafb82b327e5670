"""Who may see which case, and which of its fields (three layers: scope, territory, relation).

Every query the repository runs for a caller carries the same `Visibility`: the territory layer (the
case's commune lies inside one of the caller's territories), and a relation layer that depends on the
caller's kind of organisation:

- `territorial`: police, CAPE case managers and team coordinators see every case of their territories;
- `grant`: prosecution offices, NGOs, court social workers, focal points and partner systems see a case
  only while their organisation holds an active access grant (made by a referral, revoked when it ends);
- `placement`: EPS staff see only children currently placed with their organisation.

Callers without `cases:read` (steering committee, auditors, administrators) see no case at all, so no
name ever reaches them from here.
"""

from __future__ import annotations

import uuid
from dataclasses import dataclass

from cases_service.core.enums import NAMELESS_ROLES, TERRITORIAL_ORG_TYPES, TERRITORIAL_ROLES, Relation
from himaya.auth import Principal
from himaya.errors import Forbidden, NotFound
from himaya.scopes import Role, Scope


@dataclass(frozen=True)
class Visibility:
    """The filter every case query applies for one caller."""

    territories: tuple[str, ...]
    relation: Relation
    organization_id: uuid.UUID | None


def visibility(principal: Principal) -> Visibility:
    """The caller's case filter; 403 without cases:read."""
    if not principal.has_scope(Scope.CASES_READ):
        raise Forbidden("The token lacks a scope this operation needs.")
    if principal.role == Role.EPS_STAFF or principal.organization_type == "eps":
        relation = Relation.PLACEMENT
    elif principal.role in TERRITORIAL_ROLES or (principal.role != Role.PARTNER_SYSTEM
                                                 and principal.organization_type in TERRITORIAL_ORG_TYPES):
        relation = Relation.TERRITORIAL
    else:
        relation = Relation.GRANT
    return Visibility(territories=principal.territories, relation=relation,
                      organization_id=principal.organization_id)


def may_see_names(principal: Principal) -> bool:
    """Names of children and adults: everyone who reads cases, never the steering committee or auditors."""
    return principal.has_scope(Scope.CASES_READ) and principal.role not in NAMELESS_ROLES


def may_see_offences(principal: Principal) -> bool:
    """Adults' offence-related data: police and prosecution only."""
    return principal.has_scope(Scope.OFFENCES_READ)


def may_see_adult_identity(principal: Principal) -> bool:
    """Adults' CNIE numbers: those who check filiation or hold offence data; other caseworkers see the adult
    without the ID number (Law 09-08: national ID numbers only where needed)."""
    return any(principal.has_scope(s) for s in (Scope.FILIATION_WRITE, Scope.FILIATION_DETAILS, Scope.OFFENCES_READ))


def may_see_filiation_details(principal: Principal) -> bool:
    """Methods and DNA order references of filiation checks; others see the result only."""
    return principal.has_scope(Scope.FILIATION_DETAILS)


def may_see_health_details(principal: Principal) -> bool:
    """Content of medical and psychological assessments; others see that they exist and their status."""
    return principal.has_scope(Scope.HEALTH_DETAILS)


def require(principal: Principal, scope: Scope) -> None:
    """403 unless the caller holds `scope` (for operations on a case the caller can already see)."""
    if not principal.has_scope(scope):
        raise Forbidden("The token lacks a scope this operation needs.")


def not_found(what: str = "case") -> NotFound:
    """The 404 of an object the caller may not see, or that does not exist (the two are never told apart)."""
    return NotFound(f"No {what} with this id.")
