"""The internal endpoint receiving events from referrals (decision 0004); not routed by the gateway."""

from __future__ import annotations

from fastapi import APIRouter, Request

from cases_service.core.context import EventContext, GrantLifetimes
from cases_service.decisions.schemas import EventReceipt
from cases_service.decisions.service import parse_event, receive_event, refuse_if_forgotten
from himaya import signing
from himaya.db import SessionDep
from himaya.errors import ServiceUnavailable, Unauthorized, problem_responses

router = APIRouter(tags=["internal"])


@router.post("/internal/v1/events", response_model=EventReceipt, responses=problem_responses(401, 422, 503))
async def receive(request: Request, session: SessionDep) -> EventReceipt:
    """Apply a signed event from referrals once (a redelivered id answers 200 and changes nothing)."""
    secret = request.app.state.settings.events_secret
    if secret is None:
        raise ServiceUnavailable("CASES_EVENTS_SECRET is not configured.")
    body = await request.body()
    if not signing.verify(secret.get_secret_value().encode(), body,
                          request.headers.get(signing.TIMESTAMP_HEADER), request.headers.get(signing.SIGNATURE_HEADER)):
        raise Unauthorized("The event's signature is not valid.", headers={})
    event = parse_event(body)
    refuse_if_forgotten(event, request.app.state.settings.processed_events_retention)
    status = await receive_event(EventContext(session=session,
                                              lifetimes=GrantLifetimes.from_settings(request.app.state.settings)),
                                 event=event)
    return EventReceipt(id=str(event.id), status=status)
