"""Response models of the reference data: territories and roles."""

from __future__ import annotations

from typing import Literal

from pydantic import BaseModel


class TerritoryRead(BaseModel):
    """A territory; `name` is in the language asked for with Accept-Language (Arabic or French)."""

    code: str
    level: Literal["region", "prefecture", "commune", "arrondissement"]
    name: str
    name_ar: str
    name_fr: str
    parent_code: str | None
    phase: str | None
    case_prefix: str | None


class RoleRead(BaseModel):
    """A role and the scopes its tokens carry."""

    role: str
    scopes: list[str]
