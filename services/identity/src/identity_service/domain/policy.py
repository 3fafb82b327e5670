"""Who may grant what: roles per organisation type, and the rule that nobody gives what they do not hold.

An administrator (scope `identity:admin`) holds everything. An organisation administrator (scope
`org:admin`) holds, for their own organisation only, the roles that organisation type may have, except
`admin`, and only the territories their own scope covers. See docs/decisions/0010-identity-delegation.md.
"""

from __future__ import annotations

import uuid
from collections.abc import Iterable
from enum import StrEnum

from himaya.auth import NATIONAL, Principal
from himaya.errors import Forbidden, InvalidInput
from himaya.scopes import ROLE_SCOPES, Role, Scope
from identity_service.domain.errors import GrantNotAllowed


class OrganizationType(StrEnum):
    """Organisation types of API.md."""

    PROSECUTION_OFFICE = "prosecution_office"
    POLICE = "police"
    GENDARMERIE = "gendarmerie"
    ENTRAIDE_NATIONALE = "entraide_nationale"
    CAPE = "cape"
    HEALTH = "health"
    EDUCATION = "education"
    LOCAL_AUTHORITY = "local_authority"
    EPS = "eps"
    NGO = "ngo"
    MINISTRY = "ministry"


R = Role
T = OrganizationType
ORG_TYPE_ROLES: dict[OrganizationType, frozenset[Role]] = {
    T.PROSECUTION_OFFICE: frozenset({R.PROSECUTOR, R.COURT_SOCIAL_WORKER, R.STEERING_VIEWER}),
    T.POLICE: frozenset({R.POLICE_OFFICER}),
    T.GENDARMERIE: frozenset({R.POLICE_OFFICER}),
    T.ENTRAIDE_NATIONALE: frozenset({R.CASE_MANAGER, R.TEAM_COORDINATOR, R.STEERING_VIEWER}),
    T.CAPE: frozenset({R.CASE_MANAGER, R.TEAM_COORDINATOR}),
    T.HEALTH: frozenset({R.FOCAL_POINT}),
    T.EDUCATION: frozenset({R.FOCAL_POINT}),
    T.LOCAL_AUTHORITY: frozenset({R.FOCAL_POINT, R.TEAM_COORDINATOR, R.STEERING_VIEWER}),
    T.EPS: frozenset({R.EPS_STAFF}),
    T.NGO: frozenset({R.NGO_WORKER}),
    T.MINISTRY: frozenset({R.ADMIN, R.AUDITOR, R.STEERING_VIEWER, R.TEAM_COORDINATOR}),
}
"""The roles a user of each organisation type may have (every organisation may also have `org_admin`)."""

USER_ROLES = frozenset(Role) - {Role.PARTNER_SYSTEM}
CLIENT_SCOPES = ROLE_SCOPES[Role.PARTNER_SYSTEM]


def roles_for(org_type: str) -> frozenset[Role]:
    """The roles a user of an organisation of `org_type` may have."""
    return ORG_TYPE_ROLES[OrganizationType(org_type)] | {Role.ORG_ADMIN}


def is_admin(principal: Principal) -> bool:
    """Whether the caller administers the whole directory."""
    return principal.has_scope(Scope.IDENTITY_ADMIN)


def require_admin(principal: Principal) -> None:
    """403 unless the caller is an administrator."""
    if not is_admin(principal):
        raise Forbidden("This operation needs the identity:admin scope.")


def require_user_manager(principal: Principal) -> None:
    """403 unless the caller administers users (everywhere or in their organisation)."""
    if not (is_admin(principal) or principal.has_scope(Scope.ORG_ADMIN)):
        raise Forbidden("This operation needs the identity:admin or org:admin scope.")


def may_see_organization_users(principal: Principal, organization_id: uuid.UUID) -> bool:
    """Administrators see every user; organisation administrators those of their own organisation."""
    if is_admin(principal):
        return True
    return principal.has_scope(Scope.ORG_ADMIN) and principal.organization_id == organization_id


def check_territory_codes(codes: Iterable[str], known: set[str]) -> None:
    """422 unless every code is `MA` or a territory of the reference data."""
    unknown = sorted(c for c in codes if c != NATIONAL and c not in known)
    if unknown:
        raise InvalidInput("Unknown territory codes: " + ", ".join(unknown) + ".")


def check_role_grant(principal: Principal, *, role: str, organization_id: uuid.UUID, org_type: str,
                     territories: Iterable[str]) -> None:
    """Refuse a role, organisation or territory the caller does not hold, or a role the organisation
    type cannot have (403 `grant_not_allowed`, 422 for a role that does not fit the organisation)."""
    if role not in {r.value for r in USER_ROLES}:
        raise InvalidInput(f"Unknown role {role!r}.")
    if Role(role) not in roles_for(org_type):
        raise InvalidInput(f"An organisation of type {org_type} cannot have users with role {role}.")
    check_territory_grant(principal, territories)
    if is_admin(principal):
        return
    if not principal.has_scope(Scope.ORG_ADMIN) or principal.organization_id != organization_id:
        raise GrantNotAllowed("You may only manage users of your own organisation.")
    if role == Role.ADMIN or not ROLE_SCOPES[Role(role)].isdisjoint({Scope.IDENTITY_ADMIN}):
        raise GrantNotAllowed("Only an administrator can grant the admin role.")


def check_territory_grant(principal: Principal, territories: Iterable[str]) -> None:
    """403 unless every territory lies inside the caller's own territories."""
    outside = sorted(t for t in territories if not principal.covers(t))
    if outside:
        raise GrantNotAllowed("You cannot grant territories outside your own: " + ", ".join(outside) + ".")


def check_client_scopes(scopes: Iterable[str]) -> None:
    """422 unless every scope is one a partner system may hold."""
    extra = sorted(set(scopes) - {s.value for s in CLIENT_SCOPES})
    if extra:
        raise InvalidInput("A machine client may only hold partner_system scopes; not: " + ", ".join(extra) + ".")
