"""Types and the request base shared by the schemas of identity's features."""

from __future__ import annotations

from typing import Annotated, Literal

from pydantic import BaseModel, ConfigDict, Field, StringConstraints

Name = Annotated[str, StringConstraints(strip_whitespace=True, min_length=1, max_length=200)]
Username = Annotated[str, StringConstraints(strip_whitespace=True, min_length=3, max_length=64,
                                            pattern=r"^[A-Za-z0-9._@-]+$")]
TerritoryCode = Annotated[str, StringConstraints(min_length=2, max_length=32, pattern=r"^(MA|\d{2}(\.\d{2,3}){0,3})$")]
CourtCode = Annotated[str, StringConstraints(min_length=2, max_length=16, pattern=r"^[A-Z]{2,3}-[A-Z]{3}$")]
Email = Annotated[str, StringConstraints(strip_whitespace=True, max_length=254,
                                          pattern=r"^[^@\s]+@[^@\s]+\.[^@\s]+$")]
Password = Annotated[str, StringConstraints(min_length=1, max_length=256)]
UserRole = Literal["admin", "org_admin", "police_officer", "prosecutor", "court_social_worker", "case_manager",
                   "team_coordinator", "focal_point", "eps_staff", "ngo_worker", "steering_viewer", "auditor"]
ClientScope = Literal["directory:read", "cases:read", "referrals:read", "referrals:receive", "decisions:write",
                      "webhooks:manage", "offences:read"]
Territories = Annotated[list[TerritoryCode], Field(min_length=1, max_length=50)]


class Request(BaseModel):
    """Base of request bodies: unknown fields are refused."""

    model_config = ConfigDict(extra="forbid")
