"""Who may grant what: roles per organisation type, and the rule that nobody gives what they do not hold.

An administrator (scope `identity:admin`) holds everything their territories cover. An organisation
administrator (scope `org:admin`) holds, for their own organisation only, the roles that organisation type may
have except the administrators' roles, and only the territories their own scope covers. One rule
(`check_user_change`) is applied to a user's state before and after every change. An organisation
administrator never holds a working credential of an account that reaches case data: such an account is
activated, and its password set, by an administrator. See docs/decisions/0010-identity-delegation-and-secrets.md
and docs/decisions/0101-administrators-manage-within-both-states.md.
"""

from __future__ import annotations

import uuid
from collections.abc import Iterable
from dataclasses import dataclass

from himaya.auth import NATIONAL, Principal
from himaya.errors import Forbidden, InvalidInput
from himaya.scopes import ROLE_SCOPES, Role, Scope
from identity_service.core.enums import OrganizationType
from identity_service.core.errors import GrantNotAllowed

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


ADMIN_ROLES = frozenset({Role.ADMIN, Role.ORG_ADMIN})
"""Accounts that manage other accounts: only an administrator (identity:admin) creates or changes them."""

NO_CASE_DATA_SCOPES = frozenset({Scope.ORG_ADMIN, Scope.DIRECTORY_READ, Scope.WEBHOOKS_MANAGE, Scope.STATS_READ})
"""Scopes that open no child's record, case, adult, referral or audit event (suppressed statistics only)."""


def reaches_case_data(role: str) -> bool:
    """Whether a token of `role` opens case data (any scope beyond the directory, org administration,
    webhooks and suppressed statistics)."""
    return not ROLE_SCOPES[Role(role)] <= NO_CASE_DATA_SCOPES


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


@dataclass(frozen=True)
class UserState:
    """What a user account grants: its organisation, role, territories, and whether it can log in."""

    organization_id: uuid.UUID
    role: str
    territories: tuple[str, ...]
    active: bool


def check_user_state(principal: Principal, state: UserState) -> None:
    """403 `grant_not_allowed` unless the caller manages an account in `state`: an administrator whose
    territories cover the account's; an organisation administrator for a non-administrator account of their
    own organisation whose territories they cover."""
    check_territory_grant(principal, state.territories)
    if is_admin(principal):
        return
    if not principal.has_scope(Scope.ORG_ADMIN) or principal.organization_id != state.organization_id:
        raise GrantNotAllowed("You may only manage users of your own organisation.")
    if state.role in ADMIN_ROLES or not ROLE_SCOPES[Role(state.role)].isdisjoint({Scope.IDENTITY_ADMIN,
                                                                                   Scope.ORG_ADMIN}):
        raise GrantNotAllowed("Only an administrator manages administrators' accounts.")


def check_user_change(principal: Principal, *, before: UserState | None, after: UserState, org_type: str,
                      password_set: bool) -> None:
    """The one rule of every change to a user (creation: `before` None): the caller must manage the account
    both as it is and as it will be, the role must fit the organisation type, and a password an organisation
    administrator knows never opens case data (403 `grant_not_allowed`; 422 for a misfit role)."""
    if before is None or before.role != after.role:
        # A role given now must fit (an account kept in its role stays manageable, e.g. to deactivate it, even
        # if its organisation's type changed since).
        if after.role not in {r.value for r in USER_ROLES}:
            raise InvalidInput(f"Unknown role {after.role!r}.")
        if Role(after.role) not in roles_for(org_type):
            raise InvalidInput(f"An organisation of type {org_type} cannot have users with role {after.role}.")
    if before is not None:
        check_user_state(principal, before)
    check_user_state(principal, after)
    if not reaches_case_data(after.role):
        return
    if not is_admin(principal) and password_set and before is not None:
        raise GrantNotAllowed("Only an administrator sets the password of an account that reaches case data.")
    if not after.active:
        return
    was_open = before is not None and before.active and reaches_case_data(before.role)
    if is_admin(principal):
        # Opening case data to an account (activating it, or giving a role that reaches it) also sets a password
        # nobody else set: one an organisation administrator chose earlier stops working.
        if before is not None and not was_open and not password_set:
            raise InvalidInput("Opening case data to an account (activating it or giving it such a role) sets "
                               "its password in the same request.")
        return
    if not was_open:
        raise GrantNotAllowed("An account that reaches case data is activated by an administrator.")


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
