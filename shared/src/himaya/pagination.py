"""Keyset pagination: `?limit=` and an opaque `?cursor=`, answered as `{"items": [...], "next_cursor": ...}`."""

from __future__ import annotations

import base64
import binascii
from collections.abc import Sequence
from typing import Annotated, Any, Generic, TypeVar

import orjson
from fastapi import Depends, Query
from pydantic import BaseModel

from himaya.errors import InvalidInput

T = TypeVar("T")

DEFAULT_LIMIT = 50
MAX_LIMIT = 200


class Page(BaseModel, Generic[T]):
    """One page of a list; `next_cursor` is null on the last page."""

    items: list[T]
    next_cursor: str | None


def encode_cursor(values: Sequence[Any]) -> str:
    """Encode the sort key of the last row of a page as an opaque string."""
    raw = orjson.dumps(list(values), default=str)
    return base64.urlsafe_b64encode(raw).decode().rstrip("=")


def decode_cursor(cursor: str, arity: int) -> list[Any]:
    """Decode a cursor made by `encode_cursor`; 422 when it was not."""
    try:
        padded = cursor + "=" * (-len(cursor) % 4)
        values = orjson.loads(base64.urlsafe_b64decode(padded.encode()))
    except (binascii.Error, orjson.JSONDecodeError, ValueError, UnicodeError) as exc:
        raise InvalidInput("The cursor is not valid.") from exc
    if not isinstance(values, list) or len(values) != arity:
        raise InvalidInput("The cursor is not valid.")
    return values


class PageParams(BaseModel):
    """Validated `limit` and `cursor` query parameters."""

    limit: int
    cursor: str | None


def page_params(
    limit: Annotated[int, Query(ge=1, le=MAX_LIMIT, description="Page size (1–200).")] = DEFAULT_LIMIT,
    cursor: Annotated[str | None, Query(max_length=512, description="Opaque cursor from `next_cursor`.")] = None,
) -> PageParams:
    """The pagination parameters of a list request."""
    return PageParams(limit=limit, cursor=cursor)


PageDep = Annotated[PageParams, Depends(page_params)]


def build_page(rows: Sequence[T], limit: int, key: Any) -> tuple[list[T], str | None]:
    """Given up to limit+1 rows, return the page and the cursor of its last row (None on the last page)."""
    if len(rows) > limit:
        page = list(rows[:limit])
        return page, encode_cursor(key(page[-1]))
    return list(rows), None
