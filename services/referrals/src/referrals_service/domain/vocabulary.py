"""The fixed vocabularies of referrals (docs/domain.md): kinds, states, decision types, events."""

from __future__ import annotations

from enum import StrEnum


class ReferralKind(StrEnum):
    """To a prosecution office, or to a service provider."""

    PROSECUTION = "prosecution"
    SERVICE = "service"


class ReferralStatus(StrEnum):
    """States of a referral (docs/partner-guide/referrals.md)."""

    SENT = "sent"
    ACKNOWLEDGED = "acknowledged"
    ACCEPTED = "accepted"
    COMPLETED = "completed"
    REJECTED = "rejected"
    CANCELLED = "cancelled"
    DECIDED = "decided"
    CLOSED = "closed"


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


class DecisionType(StrEnum):
    """Prosecutor decisions (docs/domain.md)."""

    RETURN_TO_FAMILY = "return_to_family"
    EMERGENCY_PLACEMENT = "emergency_placement"
    PLACEMENT_TRUSTED_PERSON = "placement_trusted_person"
    REFER_JUVENILE_JUDGE = "refer_juvenile_judge"
    MEDICAL_CARE_ORDER = "medical_care_order"
    CIVIL_STATUS_REGULARISATION = "civil_status_regularisation"
    DNA_EXPERTISE_ORDER = "dna_expertise_order"
    OPEN_INVESTIGATION = "open_investigation"
    PROSECUTE_ADULT = "prosecute_adult"
    NO_FURTHER_ACTION_ADULT = "no_further_action_adult"
    REFER_TRAFFICKING_MECHANISM = "refer_trafficking_mechanism"


class Concerns(StrEnum):
    """Whom a decision concerns."""

    CHILD = "child"
    ADULT = "adult"


# Measures for the child cannot concern an adult, and measures against an adult cannot concern the child;
# the others (DNA order, investigation, trafficking mechanism) may concern either.
CHILD_ONLY_DECISIONS = frozenset({
    DecisionType.RETURN_TO_FAMILY, DecisionType.EMERGENCY_PLACEMENT, DecisionType.PLACEMENT_TRUSTED_PERSON,
    DecisionType.REFER_JUVENILE_JUDGE, DecisionType.MEDICAL_CARE_ORDER,
    DecisionType.CIVIL_STATUS_REGULARISATION,
})
ADULT_ONLY_DECISIONS = frozenset({DecisionType.PROSECUTE_ADULT, DecisionType.NO_FURTHER_ACTION_ADULT})


class EventType(StrEnum):
    """Events a referral emits (to cases and to webhook subscribers)."""

    SENT = "referral.sent"
    ACKNOWLEDGED = "referral.acknowledged"
    DECISION_RECORDED = "referral.decision_recorded"
    ACCEPTED = "referral.accepted"
    REJECTED = "referral.rejected"
    COMPLETED = "referral.completed"
    CANCELLED = "referral.cancelled"
    CLOSED = "referral.closed"


PROSECUTION_TARGET_TYPES = frozenset({"prosecution_office"})
SERVICE_TARGET_TYPES = frozenset({"health", "education", "eps", "ngo", "local_authority",
                                  "entraide_nationale", "cape"})
