"""Dependencies of the routes: the request's domain context, If-Match, and idempotent creation."""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from typing import Annotated, Any

from fastapi import Depends, Request, Response
from pydantic import BaseModel

from cases_service.core.context import Context, GrantLifetimes
from cases_service.core.directory import Directory
from cases_service.core.tables import idempotency_keys
from himaya.auth import CurrentPrincipal
from himaya.db import SessionDep
from himaya.etag import make_etag, required_version
from himaya.idempotency import Idempotency, idempotency_dependency


async def get_context(request: Request, session: SessionDep, principal: CurrentPrincipal) -> Context:
    """The transaction, caller, cipher and reference data of this request."""
    return Context(session=session, principal=principal, protector=request.app.state.protector,
                   reference=request.app.state.reference,
                   source_ip=request.client.host if request.client else None,
                   lifetimes=GrantLifetimes.from_settings(request.app.state.settings),
                   directory=Directory(source=request.app.state.identity,
                                       authorization=request.headers.get("authorization")))


ContextDep = Annotated[Context, Depends(get_context)]
IdempotencyDep = Annotated[Idempotency, idempotency_dependency(idempotency_keys)]


async def if_match(request: Request) -> int:
    """The version named by If-Match (428 without it)."""
    return required_version(request)


IfMatchDep = Annotated[int, Depends(if_match)]


async def create_idempotently(ctx: Context, idem: Idempotency, body: BaseModel,
                              create: Callable[[], Awaitable[BaseModel]], *, status_code: int = 201,
                              etag_version: Callable[[Any], int] | None = None) -> Response:
    """Replay the first answer to a repeated Idempotency-Key, or create and store the answer (first answers and
    replays serialised the same way, so retries get byte-identical bodies)."""
    return await idem.run(
        ctx.session, caller=ctx.principal.actor, request_body=body, produce=create, status_code=status_code,
        headers=(lambda result: {"ETag": make_etag(etag_version(result))}) if etag_version is not None else None)


def with_etag(result: BaseModel, version: int, status_code: int = 200) -> Response:
    """A JSON response carrying the object's ETag."""
    # pydantic's own JSON encoder: a tenth of the CPU of model_dump + json.dumps for a case (same bytes).
    return Response(result.model_dump_json(), status_code=status_code, media_type="application/json",
                    headers={"ETag": make_etag(version)})
