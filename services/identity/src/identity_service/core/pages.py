"""Cursors of identity's lists (ordered by id)."""

from __future__ import annotations

import uuid

from himaya.errors import InvalidInput
from himaya.pagination import decode_cursor


def after_id(cursor: str | None) -> uuid.UUID | None:
    """The id a cursor resumes after; 422 for a cursor that is not one of ours."""
    if cursor is None:
        return None
    try:
        return uuid.UUID(str(decode_cursor(cursor, 1)[0]))
    except ValueError as exc:
        raise InvalidInput("The cursor is not valid.") from exc
