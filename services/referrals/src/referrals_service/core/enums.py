"""The fixed vocabularies of referrals; those the events to cases carry are himaya.events' (one definition)."""

from __future__ import annotations

from enum import StrEnum

from himaya.events import Concerns, DecisionType, EventType, ReferralKind, ReferralStatus

OPEN_STATUSES = frozenset({ReferralStatus.SENT, ReferralStatus.ACKNOWLEDGED, ReferralStatus.ACCEPTED,
                           ReferralStatus.DECIDED})


class Urgency(StrEnum):
    """How fast the receiver should act."""

    ROUTINE = "routine"
    URGENT = "urgent"
    IMMEDIATE = "immediate"


class ServiceType(StrEnum):
    """Services a referral to a provider asks for (the `service_type` of a service referral)."""

    MEDICAL = "medical"
    PSYCHOLOGICAL = "psychological"
    SCHOOL_ENROLMENT = "school_enrolment"
    CIVIL_STATUS_REGISTRATION = "civil_status_registration"
    FAMILY_MEDIATION = "family_mediation"
    SOCIAL_PROGRAMME = "social_programme"
    VOCATIONAL_TRAINING = "vocational_training"
    EMPLOYMENT_SUPPORT = "employment_support"
    INCOME_GENERATING_ACTIVITY = "income_generating_activity"
    LEGAL_AID = "legal_aid"
    EMERGENCY_SHELTER = "emergency_shelter"


# Measures for the child cannot concern an adult, and measures against an adult cannot concern the child;
# the others (DNA order, investigation, trafficking mechanism) may concern either.
CHILD_ONLY_DECISIONS = frozenset({
    DecisionType.RETURN_TO_FAMILY, DecisionType.EMERGENCY_PLACEMENT, DecisionType.PLACEMENT_TRUSTED_PERSON,
    DecisionType.REFER_JUVENILE_JUDGE, DecisionType.MEDICAL_CARE_ORDER,
    DecisionType.CIVIL_STATUS_REGULARISATION,
})
ADULT_ONLY_DECISIONS = frozenset({DecisionType.PROSECUTE_ADULT, DecisionType.NO_FURTHER_ACTION_ADULT})


PROSECUTION_TARGET_TYPES = frozenset({"prosecution_office"})
SERVICE_TARGET_TYPES = frozenset({"health", "education", "eps", "ngo", "local_authority",
                                  "entraide_nationale", "cape"})

__all__ = ["ADULT_ONLY_DECISIONS", "CHILD_ONLY_DECISIONS", "OPEN_STATUSES", "PROSECUTION_TARGET_TYPES",
           "SERVICE_TARGET_TYPES", "Concerns", "DecisionType", "EventType", "ReferralKind", "ReferralStatus",
           "ServiceType", "Urgency"]
