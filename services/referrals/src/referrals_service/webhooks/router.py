"""Routes of /v1/webhook-subscriptions (per organisation) and /v1/dead-letters (administrators)."""

from __future__ import annotations

import dataclasses
import uuid

from fastapi import APIRouter, Response

from himaya.errors import problem_responses
from himaya.pagination import PageDep
from referrals_service.core.deps import Administrator, IdempotencyDep, WebhookManager, WebhookReceiver
from referrals_service.webhooks import service
from referrals_service.webhooks.schemas import (
    DeadLetterPage,
    DeadLetterRead,
    DeliveryPage,
    DeliveryRead,
    WebhookSubscriptionCreate,
    WebhookSubscriptionCreated,
    WebhookSubscriptionPage,
    WebhookSubscriptionRead,
)

router = APIRouter(prefix="/v1/webhook-subscriptions", tags=["webhooks"])
admin_router = APIRouter(prefix="/v1/dead-letters", tags=["webhooks"])


@router.post("", status_code=201, response_model=WebhookSubscriptionCreated,
             responses=problem_responses(401, 403, 409, 422))
async def create_webhook_subscription(payload: WebhookSubscriptionCreate, ctx: WebhookReceiver,
                                      idem: IdempotencyDep) -> Response:
    """Subscribe the caller's organisation to referral events it may read; the secret is shown only here."""

    async def produce() -> WebhookSubscriptionCreated:
        created = await service.create_subscription(ctx, data=payload)
        return WebhookSubscriptionCreated.model_validate(
            {**dataclasses.asdict(created.subscription), "secret": created.secret})

    return await idem.run(ctx.session, caller=ctx.principal.actor, request_body=payload, produce=produce,
                          status_code=201)


@router.get("", response_model=WebhookSubscriptionPage, responses=problem_responses(401, 403, 422))
async def list_webhook_subscriptions(ctx: WebhookManager, page: PageDep) -> WebhookSubscriptionPage:
    """The caller's organisation's active subscriptions."""
    rows, cursor = await service.list_subscriptions(ctx, cursor=page.cursor, limit=page.limit)
    return WebhookSubscriptionPage(items=[WebhookSubscriptionRead.model_validate(r, from_attributes=True)
                                          for r in rows],
                                   next_cursor=cursor)


@router.get("/{subscription_id}", response_model=WebhookSubscriptionRead, responses=problem_responses(401, 403, 404))
async def get_webhook_subscription(subscription_id: uuid.UUID, ctx: WebhookManager) -> WebhookSubscriptionRead:
    """One subscription of the caller's organisation (without its secret)."""
    row = await service.get_subscription(ctx, subscription_id=subscription_id)
    return WebhookSubscriptionRead.model_validate(row, from_attributes=True)


@router.delete("/{subscription_id}", status_code=204, response_class=Response,
               responses=problem_responses(401, 403, 404))
async def delete_webhook_subscription(subscription_id: uuid.UUID, ctx: WebhookManager) -> Response:
    """Stop deliveries to a subscription (its delivery log is kept)."""
    await service.delete_subscription(ctx, subscription_id=subscription_id)
    return Response(status_code=204)


@router.get("/{subscription_id}/deliveries", response_model=DeliveryPage,
            responses=problem_responses(401, 403, 404, 422))
async def list_webhook_deliveries(subscription_id: uuid.UUID, ctx: WebhookReceiver, page: PageDep) -> DeliveryPage:
    """The delivery log of a subscription, newest first: status, attempts, a generic last error."""
    rows, cursor = await service.list_deliveries(ctx, subscription_id=subscription_id, cursor=page.cursor,
                                                 limit=page.limit)
    return DeliveryPage(items=[DeliveryRead.model_validate(service.delivery_view(r)) for r in rows],
                        next_cursor=cursor)


@router.post("/{subscription_id}/deliveries/{delivery_id}/redeliver", status_code=202, response_model=DeliveryRead,
             responses=problem_responses(401, 403, 404, 409, 422))
async def redeliver_webhook(subscription_id: uuid.UUID, delivery_id: uuid.UUID, ctx: WebhookReceiver,
                            idem: IdempotencyDep) -> Response:
    """Deliver an event again, as a new delivery carrying the same event id."""

    async def produce() -> DeliveryRead:
        row = await service.redeliver(ctx, subscription_id=subscription_id, delivery_id=delivery_id)
        return DeliveryRead.model_validate(service.delivery_view(row))

    return await idem.run(ctx.session, caller=ctx.principal.actor, request_body={}, produce=produce,
                          status_code=202)


@admin_router.get("", response_model=DeadLetterPage, responses=problem_responses(401, 403, 422))
async def list_dead_letters(ctx: Administrator, page: PageDep) -> DeadLetterPage:
    """Events the outbox gave up on (to cases or to subscribers), newest first."""
    rows, cursor = await service.list_dead_letters(ctx, cursor=page.cursor, limit=page.limit)
    return DeadLetterPage(items=[DeadLetterRead.model_validate(service.dead_letter_view(r)) for r in rows],
                          next_cursor=cursor)


@admin_router.post("/{event_id}/replay", response_model=DeadLetterRead, responses=problem_responses(401, 403, 404, 409))
async def replay_dead_letter(event_id: uuid.UUID, ctx: Administrator) -> DeadLetterRead:
    """Queue a dead letter for delivery again."""
    row = await service.replay_dead_letter(ctx, event_id=event_id)
    return DeadLetterRead.model_validate(service.dead_letter_view(row))
