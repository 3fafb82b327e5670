"""Webhook subscriptions of an organisation, their delivery log, redelivery, and dead letters."""

from __future__ import annotations

import secrets
import uuid
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from himaya import clock
from himaya.audit import AuditEntry
from himaya.auth import Principal
from himaya.errors import Conflict, Forbidden, InvalidInput, NotFound
from himaya.outbox import DEAD
from himaya.pagination import build_page, decode_cursor
from himaya.scopes import Scope
from referrals_service.core.audit import audit
from referrals_service.core.context import Context
from referrals_service.delivery.dispatcher import PUBLIC_DELIVERY_ERRORS, SUBSCRIBER_STATUS
from referrals_service.delivery.repository import webhook_destination
from referrals_service.webhooks import repository as repo
from referrals_service.webhooks.records import OutboxRow, Subscription
from referrals_service.webhooks.schemas import WebhookSubscriptionCreate

# The scopes of a subscription's owner that decide what it receives.
RECEIVING_SCOPES = (Scope.REFERRALS_READ, Scope.OFFENCES_READ)
# What a subscriber may read of a failed delivery: these fixed sentences (and the subscriber's own HTTP
# status), never an exception's text, which could name addresses of our network (decision 0105).
GENERIC_DELIVERY_ERROR = "delivery failed"


def _org(ctx: Context) -> uuid.UUID:
    if ctx.principal.organization_id is None:
        raise Forbidden("Webhook subscriptions belong to an organisation; this caller has none.")
    return ctx.principal.organization_id


async def _audit(ctx: Context, action: str, object_type: str, object_id: uuid.UUID,
                 fields: tuple[str, ...] = ()) -> None:
    await audit(ctx, AuditEntry(action=action, object_type=object_type, object_id=str(object_id), fields=fields))


def _after(cursor: str | None) -> tuple[datetime, uuid.UUID] | None:
    if not cursor:
        return None
    created, ident = decode_cursor(cursor, 2)
    try:
        return datetime.fromisoformat(str(created)), uuid.UUID(str(ident))
    except ValueError as exc:
        raise InvalidInput("The cursor is not valid.") from exc


@dataclass(frozen=True)
class CreatedSubscription:
    """A new subscription and its secret (returned once)."""

    subscription: Subscription
    secret: str


def owner_scopes(principal: Principal) -> list[str]:
    """The creator's scopes that decide what a subscription receives, as stored with it."""
    return sorted(str(s) for s in RECEIVING_SCOPES if principal.has_scope(s))


async def create_subscription(ctx: Context, *, data: WebhookSubscriptionCreate) -> CreatedSubscription:
    """Subscribe the caller's organisation to events at a URL that passes the SSRF guard; the subscription
    keeps the caller's organisation and read scopes, and receives only what they allow (decision 0105)."""
    org = _org(ctx)
    if not ctx.principal.has_scope(Scope.REFERRALS_READ):
        raise Forbidden("Subscribing to referral events requires the referrals:read scope.")
    url = str(data.url)
    await ctx.guard(url)
    secret = "whsec_" + secrets.token_urlsafe(32)
    row = await repo.insert_subscription(ctx.session, {
        "id": uuid.uuid4(), "organization_id": org, "url": url, "events": sorted({str(e) for e in data.events}),
        "secret": secret, "description": data.description, "active": True, "created_by": ctx.principal.actor,
        "created_at": clock.now(), "owner_scopes": owner_scopes(ctx.principal),
    })
    await _audit(ctx, "webhook_subscription.create", "webhook_subscription", row.id, ("url", "events"))
    return CreatedSubscription(row, secret)


async def get_subscription(ctx: Context, *, subscription_id: uuid.UUID) -> Subscription:
    """A subscription of the caller's organisation (404 for anyone else's)."""
    org = _org(ctx)
    row = await repo.get_subscription(ctx.session, subscription_id)
    if row is None or row.organization_id != org or not row.active:
        raise NotFound("No such webhook subscription.")
    return row


async def list_subscriptions(ctx: Context, *, cursor: str | None, limit: int
                             ) -> tuple[list[Subscription], str | None]:
    """The caller's organisation's active subscriptions."""
    rows = await repo.list_subscriptions(ctx.session, organization_id=_org(ctx), after=_after(cursor), limit=limit)
    return build_page(rows, limit, lambda r: [r.created_at.isoformat(), str(r.id)])


async def delete_subscription(ctx: Context, *, subscription_id: uuid.UUID) -> None:
    """Stop deliveries to a subscription; pending deliveries are dead-lettered when their turn comes."""
    row = await get_subscription(ctx, subscription_id=subscription_id)
    await repo.deactivate_subscription(ctx.session, row.id)
    await _audit(ctx, "webhook_subscription.delete", "webhook_subscription", row.id)


async def list_deliveries(ctx: Context, *, subscription_id: uuid.UUID, cursor: str | None, limit: int
                          ) -> tuple[list[OutboxRow], str | None]:
    """The delivery log of a subscription, newest first."""
    row = await get_subscription(ctx, subscription_id=subscription_id)
    rows = await repo.list_deliveries(ctx.session, destination=webhook_destination(row.id), after=_after(cursor),
                                      limit=limit)
    return build_page(rows, limit, lambda r: [r.created_at.isoformat(), str(r.id)])


async def redeliver(ctx: Context, *, subscription_id: uuid.UUID, delivery_id: uuid.UUID) -> OutboxRow:
    """Send an event again as a new delivery (same event id, so receivers can deduplicate)."""
    sub = await get_subscription(ctx, subscription_id=subscription_id)
    original = await repo.get_delivery(ctx.session, delivery_id)
    if original is None or original.destination != webhook_destination(sub.id):
        raise NotFound("No such delivery.")
    created = await repo.enqueue_again(ctx.session, original)
    await _audit(ctx, "webhook_delivery.redeliver", "webhook_delivery", created.id)
    return created


async def list_dead_letters(ctx: Context, *, cursor: str | None, limit: int) -> tuple[list[OutboxRow], str | None]:
    """Every event the outbox gave up on (administrators)."""
    rows = await repo.list_deliveries(ctx.session, destination="", status=DEAD, after=_after(cursor), limit=limit)
    await audit(ctx, AuditEntry(action="dead_letter.list", object_type="outbox_event"))
    return build_page(rows, limit, lambda r: [r.created_at.isoformat(), str(r.id)])


async def replay_dead_letter(ctx: Context, *, event_id: uuid.UUID) -> OutboxRow:
    """Queue a dead letter for delivery again (administrators)."""
    row = await repo.requeue_dead(ctx.session, event_id)
    if row is None:
        if await repo.get_delivery(ctx.session, event_id) is None:
            raise NotFound("No such dead letter.")
        raise Conflict("Only a dead letter can be replayed.")
    await _audit(ctx, "dead_letter.replay", "outbox_event", event_id)
    return row


def delivery_view(row: OutboxRow) -> dict[str, Any]:
    """The public fields of an outbox row that is a webhook delivery."""
    payload = row.payload or {}
    return {
        "id": row.id, "subscription_id": row.destination.split(":", 1)[1],
        "event_id": payload.get("id"), "event_type": row.event_type, "referral_id": row.aggregate_id,
        "status": row.status, "attempts": row.attempts, "last_error": public_error(row.last_error),
        "next_attempt_at": row.next_attempt_at if row.status == "pending" else None,
        "created_at": row.created_at, "delivered_at": row.delivered_at,
    }


def public_error(stored: str | None) -> str | None:
    """The error of a delivery as its subscriber sees it: one of the fixed public sentences, else a generic one."""
    if stored is None:
        return None
    for sentence in PUBLIC_DELIVERY_ERRORS:
        if stored.endswith(sentence):
            return sentence
    answered = SUBSCRIBER_STATUS.search(stored)
    if answered:
        return answered.group(0)
    return GENERIC_DELIVERY_ERROR


def dead_letter_view(row: OutboxRow) -> dict[str, Any]:
    """The public fields of a dead outbox row (no payload: it may describe a child)."""
    return {
        "id": row.id, "destination": row.destination, "event_id": (row.payload or {}).get("id"),
        "event_type": row.event_type, "referral_id": row.aggregate_id, "attempts": row.attempts,
        "last_error": row.last_error, "created_at": row.created_at,
    }
