"""The revocation feed the services' verifiers poll (internal: not routed by the gateway)."""

from __future__ import annotations

import dataclasses
from typing import Annotated

from fastapi import APIRouter, Query, Response

from himaya import clock
from himaya.errors import problem_responses
from identity_service.core.deps import AnonymousContext
from identity_service.revocations import service as revocations
from identity_service.revocations.schemas import RevocationFeed

router = APIRouter()


@router.get("/internal/v1/revocations", response_model=RevocationFeed, tags=["authentication"],
            summary="Revocations after a cursor (internal: the services' verifiers)",
            responses=problem_responses(422))
async def get_revocations(
    ctx: AnonymousContext, response: Response,
    after: Annotated[int | None, Query(ge=0, description="The cursor of the previous answer; none: from the start.")]
    = None,
    limit: Annotated[int, Query(ge=1, le=revocations.FEED_PAGE_MAX)] = revocations.FEED_PAGE_MAX,
) -> RevocationFeed:
    """The deny-list every verifier polls: entries name only user, client and key ids. Not routed by the
    gateway; reachable on the internal network only (decision 0103)."""
    response.headers["Cache-Control"] = "no-store"
    page = await revocations.feed(ctx, after=after, limit=limit, now=clock.now())
    return RevocationFeed.model_validate(dataclasses.asdict(page))
