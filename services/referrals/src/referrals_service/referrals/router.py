"""Routes of /v1/referrals: create, read, list (polling), the state changes, and prosecutor decisions."""

from __future__ import annotations

import dataclasses
import uuid
from collections.abc import Awaitable, Callable
from datetime import datetime
from typing import Annotated, Any, Literal

from fastapi import APIRouter, Body, Query, Response

from himaya.errors import problem_responses
from himaya.etag import make_etag
from himaya.idempotency import Idempotency, json_response
from himaya.pagination import PageDep
from referrals_service.core.context import Context
from referrals_service.core.deps import Decider, IdempotencyDep, IdempotencyRequiredDep, Reader, Receiver, Sender
from referrals_service.core.enums import ReferralStatus
from referrals_service.referrals import service
from referrals_service.referrals.records import Referral
from referrals_service.referrals.schemas import (
    DecisionCreate,
    DecisionRead,
    ReferralAccept,
    ReferralAcknowledge,
    ReferralCreate,
    ReferralDetail,
    ReferralOutcome,
    ReferralPage,
    ReferralRead,
    ReferralReason,
)

router = APIRouter(prefix="/v1/referrals", tags=["referrals"])

CHANGE_ERRORS = problem_responses(401, 403, 404, 409, 422)


def _read(referral: Referral) -> ReferralRead:
    return ReferralRead.model_validate(referral, from_attributes=True)


async def _answer(idem: Idempotency, ctx: Context, body: Any, change: Callable[[], Awaitable[Referral]], *,
                  status_code: int = 200) -> Response:
    """The referral `change` returns, once per Idempotency-Key (a replay answers the first answer's bytes)."""

    async def produce() -> ReferralRead:
        return _read(await change())

    return await idem.run(ctx.session, caller=ctx.principal.actor, request_body=body, produce=produce,
                          status_code=status_code)


@router.post("", status_code=201, response_model=ReferralRead,
             responses=problem_responses(401, 403, 404, 409, 422, 503))
async def create_referral(payload: ReferralCreate, ctx: Sender, idem: IdempotencyDep) -> Response:
    """Refer a case the caller may see to a prosecution office or a service provider (emits referral.sent)."""

    return await _answer(idem, ctx, payload, lambda: service.create_referral(ctx, data=payload), status_code=201)


@router.get("", response_model=ReferralPage, responses=problem_responses(401, 403, 422))
async def list_referrals(
    ctx: Reader, page: PageDep,
    direction: Annotated[Literal["incoming", "outgoing"], Query(
        description="`incoming`: referred to the caller's organisation; `outgoing`: sent by it.")] = "incoming",
    status: Annotated[ReferralStatus | None, Query()] = None,
    updated_since: Annotated[datetime | None, Query(description="Only referrals changed at or after this.")] = None,
) -> ReferralPage:
    """Referrals to or from the caller's organisation, oldest change first; poll with `poll_cursor`."""
    result = await service.list_referrals(ctx, direction=direction, status=status, updated_since=updated_since,
                                          cursor=page.cursor, limit=page.limit)
    return ReferralPage(items=[_read(r) for r in result.items], next_cursor=result.next_cursor,
                        poll_cursor=result.poll_cursor)


@router.get("/{referral_id}", response_model=ReferralDetail, responses=problem_responses(401, 403, 404))
async def get_referral(referral_id: uuid.UUID, ctx: Reader) -> Response:
    """A referral the caller's organisation sent or received, with its decisions and history."""
    found = await service.get_referral(ctx, referral_id=referral_id)
    detail = ReferralDetail.model_validate({
        **dataclasses.asdict(found.referral), "decisions": [dataclasses.asdict(d) for d in found.decisions],
        "history": [dataclasses.asdict(h) for h in found.history]})
    return json_response(detail.model_dump(mode="json"), 200, {"ETag": make_etag(found.referral.version)})


@router.post("/{referral_id}/acknowledge", response_model=ReferralRead, responses=CHANGE_ERRORS)
async def acknowledge_referral(referral_id: uuid.UUID, payload: ReferralAcknowledge, ctx: Receiver,
                               idem: IdempotencyDep) -> Response:
    """The receiving organisation confirms receipt (a prosecution office gives its file number)."""

    return await _answer(idem, ctx, payload, lambda: service.acknowledge_referral(
        ctx, referral_id=referral_id, external_reference=payload.external_reference))


@router.post("/{referral_id}/accept", response_model=ReferralRead, responses=CHANGE_ERRORS)
async def accept_referral(referral_id: uuid.UUID, ctx: Receiver, idem: IdempotencyDep,
                          payload: Annotated[ReferralAccept | None, Body()] = None) -> Response:
    """A service provider takes an acknowledged referral on."""
    note = payload.note if payload else None
    return await _answer(idem, ctx, payload or {},
                         lambda: service.accept_referral(ctx, referral_id=referral_id, note=note))


@router.post("/{referral_id}/reject", response_model=ReferralRead, responses=CHANGE_ERRORS)
async def reject_referral(referral_id: uuid.UUID, payload: ReferralReason, ctx: Receiver,
                          idem: IdempotencyDep) -> Response:
    """A service provider declines a referral, with a reason."""

    return await _answer(idem, ctx, payload,
                         lambda: service.reject_referral(ctx, referral_id=referral_id, reason=payload.reason))


@router.post("/{referral_id}/complete", response_model=ReferralRead, responses=CHANGE_ERRORS)
async def complete_referral(referral_id: uuid.UUID, payload: ReferralOutcome, ctx: Receiver,
                            idem: IdempotencyDep) -> Response:
    """A service provider reports the service delivered, with its outcome."""

    return await _answer(idem, ctx, payload,
                         lambda: service.complete_referral(ctx, referral_id=referral_id, outcome=payload.outcome))


@router.post("/{referral_id}/cancel", response_model=ReferralRead, responses=CHANGE_ERRORS)
async def cancel_referral(referral_id: uuid.UUID, payload: ReferralReason, ctx: Sender,
                          idem: IdempotencyDep) -> Response:
    """The sending organisation withdraws a referral not yet decided on, with a reason."""

    return await _answer(idem, ctx, payload,
                         lambda: service.cancel_referral(ctx, referral_id=referral_id, reason=payload.reason))


@router.post("/{referral_id}/decisions", status_code=201, response_model=DecisionRead,
             responses=CHANGE_ERRORS)
async def record_decision(referral_id: uuid.UUID, payload: DecisionCreate, ctx: Decider,
                          idem: IdempotencyRequiredDep) -> Response:
    """Record a prosecutor decision (Idempotency-Key required); the referral becomes `decided`."""

    async def produce() -> DecisionRead:
        decision = await service.record_decision(ctx, referral_id=referral_id, data=payload)
        return DecisionRead.model_validate(decision, from_attributes=True)

    return await idem.run(ctx.session, caller=ctx.principal.actor, request_body=payload, produce=produce,
                          status_code=201)


@router.post("/{referral_id}/close", response_model=ReferralRead, responses=CHANGE_ERRORS)
async def close_referral(referral_id: uuid.UUID, ctx: Decider, idem: IdempotencyDep,
                         payload: Annotated[ReferralOutcome | None, Body()] = None) -> Response:
    """The prosecution office closes a referral it has decided on (its access to the case then ends)."""
    outcome = payload.outcome if payload else None
    return await _answer(idem, ctx, payload or {},
                         lambda: service.close_referral(ctx, referral_id=referral_id, outcome=outcome))
