"""The cases service's vocabulary, defined once: the values of the API's fields, the case's states, and the
groups of them the rules use (terminal statuses, lasting decisions, the roles that decide).

Schemas, repositories and rules import from here; an API field's `Literal` and the `StrEnum` the rules use for
the same values are checked against each other by services/cases/tests/test_states.py.
"""

from __future__ import annotations

from enum import StrEnum
from typing import Literal

from himaya.scopes import Role

Sex = Literal["female", "male"]
Schooling = Literal["never_enrolled", "dropped_out", "preschool", "primary", "secondary", "vocational", "unknown"]
Relationship = Literal["mother", "father", "grandparent", "other_relative", "unrelated", "unknown"]
Source = Literal["field_patrol", "judicial_police", "citizen", "hotline_2511", "school", "health", "ngo", "other"]
PlaceType = Literal["traffic_light", "mosque", "market", "shop", "cafe_restaurant", "tourist_site",
                    "transport_hub", "residential", "other"]
ExploitationPattern = Literal["with_adult", "alone", "selling_as_cover", "network_suspected"]
CaseStatus = Literal["reported", "screened", "referred_to_prosecution", "interim_measure", "under_assessment",
                     "in_care", "follow_up", "closed", "suspended", "transferred_out", "closed_not_in_scope"]
RiskLevel = Literal["low", "medium", "high", "immediate"]
AssessmentType = Literal["rapid_intake", "social_enquiry", "medical", "psychological", "best_interest"]
FiliationMethod = Literal["documents", "civil_status_check", "testimony", "dna_expertise"]
FiliationResult = Literal["pending", "confirmed", "excluded", "inconclusive"]
ServiceType = Literal["medical", "psychological", "school_enrolment", "civil_status_registration",
                      "family_mediation", "social_programme", "vocational_training", "employment_support",
                      "income_generating_activity", "legal_aid", "emergency_shelter"]
ServiceStatus = Literal["proposed", "accepted", "in_progress", "completed", "refused", "failed"]
Beneficiary = Literal["child", "mother"]
DecisionType = Literal["return_to_family", "emergency_placement", "placement_trusted_person",
                       "refer_juvenile_judge", "medical_care_order", "civil_status_regularisation",
                       "dna_expertise_order", "open_investigation", "prosecute_adult", "no_further_action_adult",
                       "refer_trafficking_mechanism"]
MergeRequestStatus = Literal["pending", "accepted", "refused"]
ReviewDecision = Literal["same", "not_same"]
ReviewOutcome = Literal["recorded", "merged", "merge_requested"]
MergeRequestAnswer = Literal["accept", "refuse"]


class Status(StrEnum):
    """Case states (the values of `CaseStatus`)."""

    REPORTED = "reported"
    SCREENED = "screened"
    REFERRED_TO_PROSECUTION = "referred_to_prosecution"
    INTERIM_MEASURE = "interim_measure"
    UNDER_ASSESSMENT = "under_assessment"
    IN_CARE = "in_care"
    FOLLOW_UP = "follow_up"
    CLOSED = "closed"
    SUSPENDED = "suspended"
    TRANSFERRED_OUT = "transferred_out"
    CLOSED_NOT_IN_SCOPE = "closed_not_in_scope"


# A case in one of these states is over: it cannot change, and a new encounter opens a new linked case.
TERMINAL = frozenset({Status.CLOSED, Status.CLOSED_NOT_IN_SCOPE, Status.TRANSFERRED_OUT})
TERMINAL_STATUSES = tuple(sorted(s.value for s in TERMINAL))
ACTIVE = frozenset({Status.REPORTED, Status.SCREENED, Status.REFERRED_TO_PROSECUTION, Status.INTERIM_MEASURE,
                    Status.UNDER_ASSESSMENT, Status.IN_CARE, Status.FOLLOW_UP})
# The path a case follows when nothing goes wrong, in order (statistics time its steps, the scale loader walks it).
PATH: tuple[str, ...] = tuple(s.value for s in (
    Status.REPORTED, Status.SCREENED, Status.REFERRED_TO_PROSECUTION, Status.INTERIM_MEASURE, Status.UNDER_ASSESSMENT,
    Status.IN_CARE, Status.FOLLOW_UP, Status.CLOSED))
# Cases in care or followed: the ones whose follow-up visits are counted.
IN_CARE_OR_FOLLOW_UP: tuple[str, ...] = (Status.IN_CARE.value, Status.FOLLOW_UP.value)


class Relation(StrEnum):
    """How a caller relates to the cases it may see."""

    TERRITORIAL = "territorial"
    GRANT = "grant"
    PLACEMENT = "placement"


# Roles and organisation types that see every case of their territories.
TERRITORIAL_ROLES = frozenset({Role.POLICE_OFFICER, Role.CASE_MANAGER, Role.TEAM_COORDINATOR})
TERRITORIAL_ORG_TYPES = frozenset({"police", "gendarmerie", "cape", "entraide_nationale"})
# Roles that read no name (they see counts, or the audit log).
NAMELESS_ROLES = frozenset({Role.STEERING_VIEWER, Role.AUDITOR})
# Organisations that lead cases and employ case managers; the roles that manage a case (and decide merges).
LEAD_ORGANIZATION_TYPES = frozenset({"cape", "entraide_nationale"})
CASE_MANAGER_ROLES = frozenset({Role.CASE_MANAGER, Role.TEAM_COORDINATOR})
INSTITUTION_ORGANIZATION_TYPE = "eps"

# Prosecutor's decisions, by what they do to the child's path.
LASTING_DECISIONS = frozenset({"emergency_placement", "placement_trusted_person", "refer_juvenile_judge",
                               "medical_care_order"})  # in force until another decision lifts them
FAMILY_DECISIONS = ("return_to_family",)
PLACEMENT_ORDERS = ("emergency_placement", "placement_trusted_person")
DNA_ORDERS = ("dna_expertise_order",)

# Assessments whose content is health data (health:details).
HEALTH_ASSESSMENTS = frozenset({"medical", "psychological"})

# Referral events that end the referral, and with it the receiving organisation's access.
ENDING_REFERRAL_EVENTS = frozenset({"referral.rejected", "referral.completed", "referral.cancelled",
                                    "referral.closed"})
