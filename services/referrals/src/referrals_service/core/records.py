"""Building the typed records the repositories return from the rows they read."""

from __future__ import annotations

import dataclasses
from collections.abc import Mapping
from typing import Any, TypeVar

T = TypeVar("T")


def from_row(cls: type[T], row: Mapping[Any, Any]) -> T:
    """A record of dataclass `cls` from a row (or an opened row) holding its fields (those with a default may be
    missing)."""
    assert dataclasses.is_dataclass(cls)
    keys = row.keys()
    return cls(**{f.name: row[f.name] for f in dataclasses.fields(cls) if f.name in keys})
