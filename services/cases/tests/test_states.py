"""The state machine's rules without the database: every guard refuses with its reason."""

from datetime import date

import pytest

from cases_service.core.enums import Status
from cases_service.core.states import CaseFacts, check_transition
from himaya.errors import TransitionNotAllowed

TODAY = date(2026, 6, 1)
ALL = frozenset({"cases:transition"})


def facts(status, **kw):
    base = dict(status=Status(status), suspended_from=None, child_identified=True, duplicate_checked=True,
                prosecution_referral=True, child_decision=True, case_manager_assigned=True,
                social_enquiry_completed=True, care_plan_validated=True, next_visit_due=date(2026, 6, 8),
                active_child_measures=0)
    base.update(kw)
    return CaseFacts(**base)


@pytest.mark.parametrize(("status", "target", "role", "missing", "words"), [
    ("reported", "screened", "police_officer", {"duplicate_checked": False}, "duplicate"),
    ("reported", "screened", "case_manager", {"child_identified": False}, "identified"),
    ("screened", "referred_to_prosecution", "police_officer", {"prosecution_referral": False}, "referral"),
    ("interim_measure", "under_assessment", "case_manager", {"case_manager_assigned": False}, "case manager"),
    ("under_assessment", "in_care", "case_manager", {"social_enquiry_completed": False}, "social-enquiry"),
    ("under_assessment", "in_care", "case_manager", {"care_plan_validated": False}, "care plan"),
    ("in_care", "follow_up", "case_manager", {"next_visit_due": None}, "follow-up"),
    ("in_care", "follow_up", "case_manager", {"next_visit_due": date(2026, 5, 1)}, "follow-up"),
    ("follow_up", "closed", "team_coordinator", {"active_child_measures": 1}, "judicial measure"),
])
def test_each_guard_refuses_with_its_reason(status, target, role, missing, words):
    with pytest.raises(TransitionNotAllowed) as refused:
        check_transition(facts=facts(status, **missing), target=Status(target), role=role, scopes=ALL,
                         reason="r", today=TODAY)
    assert words in refused.value.detail
    assert check_transition(facts=facts(status), target=Status(target), role=role, scopes=ALL, reason="r",
                            today=TODAY) == Status(target)


def test_prosecutor_moves_to_interim_measure_with_a_decision():
    scopes = frozenset({"decisions:write"})
    assert check_transition(facts=facts("referred_to_prosecution"), target=Status.INTERIM_MEASURE,
                            role="prosecutor", scopes=scopes, reason=None, today=TODAY) == Status.INTERIM_MEASURE
    with pytest.raises(TransitionNotAllowed):
        check_transition(facts=facts("referred_to_prosecution", child_decision=False),
                         target=Status.INTERIM_MEASURE, role="prosecutor", scopes=scopes, reason=None, today=TODAY)


def test_back_to_care_from_follow_up_needs_a_reason():
    with pytest.raises(TransitionNotAllowed):
        check_transition(facts=facts("follow_up"), target=Status.IN_CARE, role="case_manager", scopes=ALL,
                         reason=" ", today=TODAY)
    assert check_transition(facts=facts("follow_up"), target=Status.IN_CARE, role="case_manager", scopes=ALL,
                            reason="Seen begging again", today=TODAY) == Status.IN_CARE


def test_role_without_a_transition_scope_is_refused():
    with pytest.raises(TransitionNotAllowed):
        check_transition(facts=facts("reported"), target=Status.SCREENED, role="case_manager",
                         scopes=frozenset({"cases:read"}), reason=None, today=TODAY)


def test_the_api_and_the_rules_name_the_same_states_and_decisions():
    """Each enumeration is defined once: the API's Literal and the rules' enum and groups agree."""
    from typing import get_args

    from cases_service.core.enums import (
        DNA_ORDERS,
        FAMILY_DECISIONS,
        LASTING_DECISIONS,
        PATH,
        PLACEMENT_ORDERS,
        TERMINAL_STATUSES,
        CaseStatus,
        DecisionType,
    )
    from himaya import events

    assert set(get_args(CaseStatus)) == {s.value for s in Status}
    assert set(TERMINAL_STATUSES) <= set(get_args(CaseStatus)) and set(PATH) <= set(get_args(CaseStatus))
    assert {*LASTING_DECISIONS, *FAMILY_DECISIONS, *PLACEMENT_ORDERS, *DNA_ORDERS} <= set(get_args(DecisionType))
    # The decisions are those of the event documents referrals send (defined once in himaya.events).
    assert set(get_args(DecisionType)) == {d.value for d in events.DecisionType}
