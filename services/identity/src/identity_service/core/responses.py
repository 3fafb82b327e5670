"""What identity's routers share to answer: the ETag of a versioned record, and creation once per
Idempotency-Key through the one idempotency call (`Idempotency.run`)."""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from typing import Annotated, Any, Protocol

from fastapi import Response
from pydantic import BaseModel

from himaya.etag import make_etag
from himaya.idempotency import Idempotency, idempotency_dependency
from identity_service.core.context import Context
from identity_service.core.tables import idempotency_keys

IdempotencyDep = Annotated[Idempotency, idempotency_dependency(idempotency_keys)]


class Versioned(Protocol):
    """A record with a version (its ETag)."""

    @property
    def version(self) -> int:
        """The record's version."""
        ...


def set_etag(response: Response, record: Versioned) -> None:
    """Answer the record's version as its ETag."""
    response.headers["ETag"] = make_etag(record.version)


async def create_once(idem: Idempotency, ctx: Context, body: Any, create: Callable[[], Awaitable[Any]],
                      read: Callable[[Any], BaseModel]) -> Response:
    """Create once per Idempotency-Key: `create` returns the new record, `read` its response model. First answers
    and replays are the same bytes and carry the record's ETag."""
    etag: dict[str, str] = {}

    async def produce() -> BaseModel:
        created = await create()
        etag["ETag"] = make_etag(created.version)
        return read(created)

    return await idem.run(ctx.session, caller=ctx.caller.actor, request_body=body, produce=produce,
                          headers=lambda _: etag)
