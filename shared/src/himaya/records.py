"""Typed records from rows: the repositories of every service return dataclasses, never row mappings."""

from __future__ import annotations

import dataclasses
from collections.abc import Mapping
from typing import Any, TypeVar

T = TypeVar("T")


def from_row(cls: type[T], row: Mapping[Any, Any]) -> T:
    """A record of dataclass `cls` from a row (or an opened row) holding its fields (those with a default may be
    missing); other columns of the row are left out."""
    assert dataclasses.is_dataclass(cls)
    keys = row.keys()
    return cls(**{f.name: row[f.name] for f in dataclasses.fields(cls) if f.name in keys})
