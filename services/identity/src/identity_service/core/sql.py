"""Statement fragments several repositories of identity share."""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa

from himaya.auth import NATIONAL


def within(column: sa.ColumnElement[str], codes: Sequence[str]) -> sa.ColumnElement[bool]:
    """`column` is one of `codes` or below one of them (codes are dotted paths)."""
    if not codes:
        return sa.false()
    if NATIONAL in codes:
        return sa.true()
    return sa.or_(*[sa.or_(column == c, column.startswith(c + ".", autoescape=True)) for c in codes])
