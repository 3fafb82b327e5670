"""The case state machine: allowed steps, who may take each, and its guard.

Pure rules, no I/O: `check_transition` gets the facts a guard needs (`CaseFacts`) and either returns the
step or raises `TransitionNotAllowed` with the reason. docs/state-machine.md is the readable form.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date

from cases_service.core.enums import ACTIVE, TERMINAL, Status
from himaya.errors import Conflict, TransitionNotAllowed
from himaya.scopes import Role, Scope


@dataclass(frozen=True)
class CaseFacts:
    """What the guards look at, gathered by the repository in one round trip."""

    status: Status
    suspended_from: Status | None
    child_identified: bool
    duplicate_checked: bool
    prosecution_referral: bool
    child_decision: bool
    case_manager_assigned: bool
    social_enquiry_completed: bool
    care_plan_validated: bool
    next_visit_due: date | None
    active_child_measures: int


@dataclass(frozen=True)
class Step:
    """One allowed transition: from where, to where, by which roles, whether a reason is required."""

    source: frozenset[Status]
    target: Status
    roles: frozenset[Role]
    reason_required: bool = False


S, R = Status, Role
POLICE_OR_CAPE = frozenset({R.POLICE_OFFICER, R.CASE_MANAGER})
CAPE = frozenset({R.CASE_MANAGER})
CAPE_OR_COORDINATOR = frozenset({R.CASE_MANAGER, R.TEAM_COORDINATOR})

STEPS: tuple[Step, ...] = (
    Step(frozenset({S.REPORTED}), S.SCREENED, POLICE_OR_CAPE),
    Step(frozenset({S.SCREENED}), S.REFERRED_TO_PROSECUTION, POLICE_OR_CAPE),
    Step(frozenset({S.REFERRED_TO_PROSECUTION}), S.INTERIM_MEASURE, frozenset({R.PROSECUTOR})),
    Step(frozenset({S.INTERIM_MEASURE}), S.UNDER_ASSESSMENT, CAPE),
    Step(frozenset({S.UNDER_ASSESSMENT}), S.IN_CARE, CAPE),
    # Back to care when a new need appears or the child is seen begging again: say which.
    Step(frozenset({S.FOLLOW_UP}), S.IN_CARE, CAPE, reason_required=True),
    Step(frozenset({S.IN_CARE}), S.FOLLOW_UP, CAPE),
    Step(frozenset({S.FOLLOW_UP}), S.CLOSED, frozenset({R.TEAM_COORDINATOR}), reason_required=True),
    Step(frozenset({S.SCREENED}), S.CLOSED_NOT_IN_SCOPE, POLICE_OR_CAPE | {R.TEAM_COORDINATOR},
         reason_required=True),
    Step(ACTIVE, S.SUSPENDED, CAPE_OR_COORDINATOR, reason_required=True),
    Step(ACTIVE, S.TRANSFERRED_OUT, CAPE_OR_COORDINATOR, reason_required=True),
)
# Leaving `suspended` goes back to the state it left; the same roles as suspending.
RESUME_ROLES = CAPE_OR_COORDINATOR
# Which scope lets a role take steps (the prosecutor moves a case through its decisions).
TRANSITION_SCOPES = frozenset({Scope.CASES_TRANSITION, Scope.DECISIONS_WRITE})


def allowed_targets(status: Status, suspended_from: Status | None) -> list[Status]:
    """Every state the machine allows from `status` (whatever the role or guards)."""
    if status == S.SUSPENDED:
        return [suspended_from] if suspended_from else []
    return [step.target for step in STEPS if status in step.source]


def _refuse(reason: str) -> TransitionNotAllowed:
    return TransitionNotAllowed(reason, extra={"reason": reason})


def check_transition(*, facts: CaseFacts, target: Status, role: str, scopes: frozenset[str],
                     reason: str | None, today: date) -> Status:
    """Return the state the case moves to, or raise 409 transition_not_allowed saying why."""
    current = facts.status
    if current in TERMINAL:
        raise _refuse(f"A {current.value} case is never reopened; a new encounter opens a new linked case.")
    if not TRANSITION_SCOPES & scopes:
        raise _refuse(f"The role {role} may not move cases.")
    if current == S.SUSPENDED:
        if target != facts.suspended_from:
            back = facts.suspended_from.value if facts.suspended_from else "unknown"
            raise _refuse(f"A suspended case can only return to the state it left ({back}).")
        if role not in RESUME_ROLES:
            raise _refuse(f"The role {role} may not resume a suspended case.")
        return target
    step = next((s for s in STEPS if current in s.source and s.target == target), None)
    if step is None:
        allowed = ", ".join(t.value for t in allowed_targets(current, None)) or "none"
        raise _refuse(f"{current.value} → {target.value} is not a step of the case path (allowed: {allowed}).")
    if role not in step.roles:
        raise _refuse(f"The role {role} may not move a case to {target.value}.")
    if step.reason_required and not (reason and reason.strip()):
        raise _refuse(f"Moving a case to {target.value} needs a reason.")
    _check_guard(facts, target, today)
    return target


def _check_guard(facts: CaseFacts, target: Status, today: date) -> None:
    if target == S.SCREENED:
        if not facts.child_identified:
            raise _refuse("The child must be identified by a name or described before screening.")
        if not facts.duplicate_checked:
            raise _refuse("Run the duplicate search for this child before screening.")
    elif target == S.REFERRED_TO_PROSECUTION:
        if not facts.prosecution_referral:
            raise _refuse("The case needs a referral to a prosecution office (sent through referrals).")
    elif target == S.INTERIM_MEASURE:
        if not facts.child_decision:
            raise _refuse("The case needs at least one prosecutor decision concerning the child.")
    elif target == S.UNDER_ASSESSMENT:
        if not facts.case_manager_assigned:
            raise _refuse("Assign a case manager before the assessment.")
    elif target == S.IN_CARE and facts.status == S.UNDER_ASSESSMENT:
        if not facts.social_enquiry_completed:
            raise _refuse("A completed social-enquiry assessment is needed before care.")
        if not facts.care_plan_validated:
            raise _refuse("A care plan validated by the team coordinator is needed before care.")
    elif target == S.FOLLOW_UP:
        if facts.next_visit_due is None or facts.next_visit_due < today:
            raise _refuse("Schedule the next follow-up visit (a follow-up with next_visit_due) first.")
    elif target == S.CLOSED:
        if facts.active_child_measures:
            raise _refuse("An active judicial measure concerns the child; a decision must lift it first.")


def ensure_open(status: str) -> None:
    """409 for work added to a closed case."""
    if status in TERMINAL:
        raise Conflict("The case is closed; a new encounter opens a new linked case.")
