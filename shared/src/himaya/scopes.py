"""Roles and the scopes they carry: the single source of truth every service checks against.

identity issues tokens whose `scope` claim is `ROLE_SCOPES[role]` (machine clients get a subset chosen
at creation); `GET /v1/roles` publishes this table. Scopes say which operations a caller may use;
territory and relation (referral grants, placements) are checked by the service that owns the object.
"""

from __future__ import annotations

from enum import StrEnum


class Scope(StrEnum):
    """Every scope a token can carry."""

    IDENTITY_ADMIN = "identity:admin"          # organisations, users, clients, field teams: everything
    ORG_ADMIN = "org:admin"                    # users of the caller's own organisation
    DIRECTORY_READ = "directory:read"          # organisations, territories, roles, field teams
    CASES_READ = "cases:read"                  # cases, children, adults, timeline (relation-checked)
    CASES_WRITE = "cases:write"                # intakes, outings, case and adult updates
    INTAKES_WRITE = "intakes:write"            # record an intake (also NGO focal points, docs/domain.md)
    CASES_TRANSITION = "cases:transition"      # move a case along its path (role-checked per step)
    CHILDREN_DEDUP = "children:dedup"          # review duplicate candidates, link or separate
    CASEWORK_WRITE = "casework:write"          # assessments, care plans, services, follow-ups
    CARE_PLANS_VALIDATE = "care_plans:validate"
    FILIATION_WRITE = "filiation:write"
    FILIATION_DETAILS = "filiation:details"    # methods, DNA order refs (others see the result only)
    HEALTH_DETAILS = "health:details"          # medical and psychological assessment content
    OFFENCES_READ = "offences:read"            # adults' offence-related data (police, prosecution)
    PLACEMENTS_WRITE = "placements:write"
    REFERRALS_READ = "referrals:read"
    REFERRALS_WRITE = "referrals:write"        # create and cancel referrals
    REFERRALS_RECEIVE = "referrals:receive"    # acknowledge, accept, reject, complete
    DECISIONS_WRITE = "decisions:write"        # prosecutor decisions
    WEBHOOKS_MANAGE = "webhooks:manage"
    STATS_READ = "stats:read"                  # aggregates with small cells suppressed
    STATS_EXACT = "stats:exact"                # aggregates without suppression (never exports)
    AUDIT_READ = "audit:read"


class Role(StrEnum):
    """The roles (docs/domain.md); every user has exactly one."""

    ADMIN = "admin"
    ORG_ADMIN = "org_admin"
    POLICE_OFFICER = "police_officer"
    PROSECUTOR = "prosecutor"
    COURT_SOCIAL_WORKER = "court_social_worker"
    CASE_MANAGER = "case_manager"
    TEAM_COORDINATOR = "team_coordinator"
    FOCAL_POINT = "focal_point"
    EPS_STAFF = "eps_staff"
    NGO_WORKER = "ngo_worker"
    STEERING_VIEWER = "steering_viewer"
    AUDITOR = "auditor"
    PARTNER_SYSTEM = "partner_system"  # machine clients; their scopes are set per client


S = Scope
_CASEWORKER = {S.DIRECTORY_READ, S.CASES_READ, S.CASES_WRITE, S.INTAKES_WRITE, S.CASES_TRANSITION,
               S.CASEWORK_WRITE, S.FILIATION_WRITE, S.PLACEMENTS_WRITE, S.CHILDREN_DEDUP, S.HEALTH_DETAILS,
               S.REFERRALS_READ, S.REFERRALS_WRITE}

ROLE_SCOPES: dict[Role, frozenset[Scope]] = {
    Role.ADMIN: frozenset({S.IDENTITY_ADMIN, S.ORG_ADMIN, S.DIRECTORY_READ, S.WEBHOOKS_MANAGE, S.STATS_READ}),
    Role.ORG_ADMIN: frozenset({S.ORG_ADMIN, S.DIRECTORY_READ, S.WEBHOOKS_MANAGE}),
    Role.POLICE_OFFICER: frozenset({S.DIRECTORY_READ, S.CASES_READ, S.CASES_WRITE, S.INTAKES_WRITE,
                                    S.CASES_TRANSITION, S.FILIATION_WRITE, S.FILIATION_DETAILS,
                                    S.OFFENCES_READ, S.CHILDREN_DEDUP, S.REFERRALS_READ, S.REFERRALS_WRITE}),
    Role.PROSECUTOR: frozenset({S.DIRECTORY_READ, S.CASES_READ, S.FILIATION_DETAILS, S.OFFENCES_READ,
                                S.REFERRALS_READ, S.REFERRALS_RECEIVE, S.DECISIONS_WRITE, S.STATS_READ,
                                S.STATS_EXACT}),
    Role.COURT_SOCIAL_WORKER: frozenset({S.DIRECTORY_READ, S.CASES_READ, S.CASEWORK_WRITE, S.REFERRALS_READ}),
    Role.CASE_MANAGER: frozenset(_CASEWORKER),
    Role.TEAM_COORDINATOR: frozenset(_CASEWORKER | {S.CARE_PLANS_VALIDATE, S.STATS_READ, S.STATS_EXACT}),
    Role.FOCAL_POINT: frozenset({S.DIRECTORY_READ, S.CASES_READ, S.CASEWORK_WRITE, S.REFERRALS_READ,
                                 S.REFERRALS_RECEIVE}),
    Role.EPS_STAFF: frozenset({S.DIRECTORY_READ, S.CASES_READ, S.CASEWORK_WRITE, S.REFERRALS_READ,
                               S.REFERRALS_RECEIVE}),
    Role.NGO_WORKER: frozenset({S.DIRECTORY_READ, S.CASES_READ, S.INTAKES_WRITE, S.CASEWORK_WRITE,
                                S.REFERRALS_READ, S.REFERRALS_RECEIVE}),
    Role.STEERING_VIEWER: frozenset({S.DIRECTORY_READ, S.STATS_READ}),
    Role.AUDITOR: frozenset({S.DIRECTORY_READ, S.AUDIT_READ}),
    # A prosecution office's system may be granted offences:read to read back the decisions it records
    # (legal bases, decisions about adults); other clients are created without it.
    Role.PARTNER_SYSTEM: frozenset({S.DIRECTORY_READ, S.CASES_READ, S.REFERRALS_READ, S.REFERRALS_RECEIVE,
                                    S.DECISIONS_WRITE, S.WEBHOOKS_MANAGE, S.OFFENCES_READ}),
}
"""Scopes per role. A machine client's scopes must be a subset of PARTNER_SYSTEM's."""


def scopes_for(role: Role | str) -> frozenset[Scope]:
    """The scopes a token of `role` carries."""
    return ROLE_SCOPES[Role(role)]
