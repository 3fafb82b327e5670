"""The identity service's vocabulary (roles and scopes, shared by every service, are himaya.scopes')."""

from __future__ import annotations

from enum import StrEnum


class OrganizationType(StrEnum):
    """Organisation types (docs/domain.md)."""

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


class TerritoryLevel(StrEnum):
    """Levels of the territory tree, from the top."""

    REGION = "region"
    PREFECTURE = "prefecture"
    COMMUNE = "commune"
    ARRONDISSEMENT = "arrondissement"
