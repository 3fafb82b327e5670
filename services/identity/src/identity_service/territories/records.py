"""The typed records of the reference data."""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True)
class Territory:
    """A region, prefecture or province, commune or arrondissement."""

    code: str
    level: str
    name_fr: str
    name_ar: str
    parent_code: str | None
    phase: str | None
    case_prefix: str | None


@dataclass(frozen=True)
class RoleScopes:
    """A role and the scopes its tokens carry."""

    role: str
    scopes: list[str]
