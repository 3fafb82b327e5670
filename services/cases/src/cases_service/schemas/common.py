"""Enumerations of the API (docs/api-contract.md) and the bases of request and response models."""

from __future__ import annotations

from typing import Annotated, Literal

from pydantic import BaseModel, ConfigDict, Field, StringConstraints

from himaya.text import NO_NUL

Sex = Literal["female", "male"]
Nationality = Annotated[str, StringConstraints(pattern=r"^[A-Z]{2}$")]
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
TerritoryCode = Annotated[str, StringConstraints(pattern=r"^(MA|\d{2}(\.\d{3}(\.\d{2}(\.\d{2})?)?)?)$")]
Name = Annotated[str, StringConstraints(strip_whitespace=True, min_length=1, max_length=100, pattern=NO_NUL)]
Text = Annotated[str, StringConstraints(strip_whitespace=True, min_length=1, max_length=5000, pattern=NO_NUL)]
ShortText = Annotated[str, StringConstraints(strip_whitespace=True, min_length=1, max_length=200, pattern=NO_NUL)]


class RequestModel(BaseModel):
    """Base of request bodies: unknown fields are rejected (no mass assignment)."""

    model_config = ConfigDict(extra="forbid")


class ResponseModel(BaseModel):
    """Base of response bodies."""

    model_config = ConfigDict(from_attributes=True)


class PersonNames(ResponseModel):
    """Names in Latin and Arabic script (any may be absent)."""

    first_name: str | None = None
    last_name: str | None = None
    first_name_ar: str | None = None
    last_name_ar: str | None = None


class PersonNamesIn(RequestModel):
    """Names in Latin and Arabic script, as sent by a client."""

    first_name: Name | None = None
    last_name: Name | None = None
    first_name_ar: Name | None = None
    last_name_ar: Name | None = None


AgeYears = Annotated[float, Field(ge=0, le=25)]
