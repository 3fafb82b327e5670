"""The bases of request and response models and the constrained strings they share (the vocabulary is in
core/enums.py)."""

from __future__ import annotations

from typing import Annotated

from pydantic import BaseModel, ConfigDict, Field, StringConstraints

from himaya.text import NO_NUL

Nationality = Annotated[str, StringConstraints(pattern=r"^[A-Z]{2}$")]
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
