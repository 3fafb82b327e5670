"""ETags and If-Match for optimistic concurrency on single objects (428 without If-Match, 412 when stale)."""

from __future__ import annotations

from fastapi import Request

from himaya.errors import PreconditionFailed, PreconditionRequired


def make_etag(version: int) -> str:
    """The strong ETag of an object at `version`."""
    return f'"{version}"'


def required_version(request: Request) -> int:
    """The version the client's If-Match names; 428 if absent, 412 if unparseable."""
    header = request.headers.get("if-match")
    if not header:
        raise PreconditionRequired("Send If-Match with the ETag you read.")
    value = header.strip()
    if value.startswith("W/"):
        value = value[2:]
    try:
        return int(value.strip('"'))
    except ValueError as exc:
        raise PreconditionFailed("If-Match does not name a current version.") from exc


def check_version(expected: int, current: int) -> None:
    """Raise 412 unless the object is still at the version the client read.

    A read-then-check alone races: the repository's UPDATE must also say `WHERE version = :expected`
    and treat zero rows updated as 412, so that of two concurrent writers exactly one wins.
    """
    if expected != current:
        raise PreconditionFailed("The object changed since you read it; read it again.")
