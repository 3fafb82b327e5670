"""Webhook subscriptions of an organisation, their delivery log, redelivery, and dead letters."""

from __future__ import annotations

import secrets
import uuid
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

from sqlalchemy.engine import RowMapping
from sqlalchemy.ext.asyncio import AsyncSession

from himaya.audit import AuditEntry, record
from himaya.auth import Principal
from himaya.errors import Conflict, Forbidden, InvalidInput, NotFound
from himaya.outbox import DEAD, enqueue
from himaya.pagination import build_page, decode_cursor
from himaya.scopes import Scope
from referrals_service.db import repository as repo
from referrals_service.db.tables import audit_events, outbox_events
from referrals_service.domain.delivery import PUBLIC_DELIVERY_ERRORS, SUBSCRIBER_STATUS
from referrals_service.domain.events import webhook_destination
from referrals_service.domain.urlguard import UrlGuard
from referrals_service.schemas.webhooks import WebhookSubscriptionCreate

# The scopes of a subscription's owner that decide what it receives.
RECEIVING_SCOPES = (Scope.REFERRALS_READ, Scope.OFFENCES_READ)
# What a subscriber may read of a failed delivery: these fixed sentences (and the subscriber's own HTTP
# status), never an exception's text, which could name addresses of our network (decision 0105).
GENERIC_DELIVERY_ERROR = "delivery failed"


def _org(principal: Principal) -> uuid.UUID:
    if principal.organization_id is None:
        raise Forbidden("Webhook subscriptions belong to an organisation; this caller has none.")
    return principal.organization_id


async def _audit(session: AsyncSession, principal: Principal, action: str, object_type: str,
                 object_id: uuid.UUID, fields: tuple[str, ...] = ()) -> None:
    await record(session, audit_events, AuditEntry(action=action, object_type=object_type,
                                                   object_id=str(object_id), fields=fields), principal=principal)


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

    subscription: RowMapping
    secret: str


def owner_scopes(principal: Principal) -> list[str]:
    """The creator's scopes that decide what a subscription receives, as stored with it."""
    return sorted(str(s) for s in RECEIVING_SCOPES if principal.has_scope(s))


async def create_subscription(*, session: AsyncSession, principal: Principal, data: WebhookSubscriptionCreate,
                              guard: UrlGuard) -> CreatedSubscription:
    """Subscribe the caller's organisation to events at a URL that passes the SSRF guard; the subscription
    keeps the caller's organisation and read scopes, and receives only what they allow (decision 0105)."""
    org = _org(principal)
    if not principal.has_scope(Scope.REFERRALS_READ):
        raise Forbidden("Subscribing to referral events requires the referrals:read scope.")
    url = str(data.url)
    await guard(url)
    secret = "whsec_" + secrets.token_urlsafe(32)
    row = await repo.insert_subscription(session, {
        "id": uuid.uuid4(), "organization_id": org, "url": url, "events": sorted({str(e) for e in data.events}),
        "secret": secret, "description": data.description, "active": True, "created_by": principal.actor,
        "created_at": datetime.now(UTC), "owner_scopes": owner_scopes(principal),
    })
    await _audit(session, principal, "webhook_subscription.create", "webhook_subscription", row["id"],
                 ("url", "events"))
    return CreatedSubscription(row, secret)


async def get_subscription(*, session: AsyncSession, principal: Principal, subscription_id: uuid.UUID
                           ) -> RowMapping:
    """A subscription of the caller's organisation (404 for anyone else's)."""
    org = _org(principal)
    row = await repo.get_subscription(session, subscription_id)
    if row is None or row["organization_id"] != org or not row["active"]:
        raise NotFound("No such webhook subscription.")
    return row


async def list_subscriptions(*, session: AsyncSession, principal: Principal, cursor: str | None, limit: int
                             ) -> tuple[list[RowMapping], str | None]:
    """The caller's organisation's active subscriptions."""
    rows = await repo.list_subscriptions(session, organization_id=_org(principal), after=_after(cursor),
                                         limit=limit)
    return build_page(rows, limit, lambda r: [r["created_at"].isoformat(), str(r["id"])])


async def delete_subscription(*, session: AsyncSession, principal: Principal, subscription_id: uuid.UUID) -> None:
    """Stop deliveries to a subscription; pending deliveries are dead-lettered when their turn comes."""
    row = await get_subscription(session=session, principal=principal, subscription_id=subscription_id)
    await repo.deactivate_subscription(session, row["id"])
    await _audit(session, principal, "webhook_subscription.delete", "webhook_subscription", row["id"])


async def list_deliveries(*, session: AsyncSession, principal: Principal, subscription_id: uuid.UUID,
                          cursor: str | None, limit: int) -> tuple[list[RowMapping], str | None]:
    """The delivery log of a subscription, newest first."""
    row = await get_subscription(session=session, principal=principal, subscription_id=subscription_id)
    rows = await repo.list_deliveries(session, destination=webhook_destination(row["id"]), after=_after(cursor),
                                      limit=limit)
    return build_page(rows, limit, lambda r: [r["created_at"].isoformat(), str(r["id"])])


async def redeliver(*, session: AsyncSession, principal: Principal, subscription_id: uuid.UUID,
                    delivery_id: uuid.UUID) -> RowMapping:
    """Send an event again as a new delivery (same event id, so receivers can deduplicate)."""
    sub = await get_subscription(session=session, principal=principal, subscription_id=subscription_id)
    original = await repo.get_delivery(session, delivery_id)
    if original is None or original["destination"] != webhook_destination(sub["id"]):
        raise NotFound("No such delivery.")
    new_id = await enqueue(session, outbox_events, event_type=original["event_type"],
                           destination=original["destination"], payload=original["payload"],
                           aggregate_id=original["aggregate_id"])
    await _audit(session, principal, "webhook_delivery.redeliver", "webhook_delivery", new_id)
    created = await repo.get_delivery(session, new_id)
    assert created is not None
    return created


async def list_dead_letters(*, session: AsyncSession, principal: Principal, cursor: str | None, limit: int
                            ) -> tuple[list[RowMapping], str | None]:
    """Every event the outbox gave up on (administrators)."""
    rows = await repo.list_deliveries(session, destination="", status=DEAD, after=_after(cursor), limit=limit)
    await record(session, audit_events, AuditEntry(action="dead_letter.list", object_type="outbox_event"),
                 principal=principal)
    return build_page(rows, limit, lambda r: [r["created_at"].isoformat(), str(r["id"])])


async def replay_dead_letter(*, session: AsyncSession, principal: Principal, event_id: uuid.UUID) -> RowMapping:
    """Queue a dead letter for delivery again (administrators)."""
    row = await repo.requeue_dead(session, event_id)
    if row is None:
        if await repo.get_delivery(session, event_id) is None:
            raise NotFound("No such dead letter.")
        raise Conflict("Only a dead letter can be replayed.")
    await repo.notify_outbox(session)
    await _audit(session, principal, "dead_letter.replay", "outbox_event", event_id)
    return row


def delivery_view(row: RowMapping) -> dict[str, Any]:
    """The public fields of an outbox row that is a webhook delivery."""
    payload = row["payload"] or {}
    return {
        "id": row["id"], "subscription_id": row["destination"].split(":", 1)[1],
        "event_id": payload.get("id"), "event_type": row["event_type"], "referral_id": row["aggregate_id"],
        "status": row["status"], "attempts": row["attempts"], "last_error": public_error(row["last_error"]),
        "next_attempt_at": row["next_attempt_at"] if row["status"] == "pending" else None,
        "created_at": row["created_at"], "delivered_at": row["delivered_at"],
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


def dead_letter_view(row: RowMapping) -> dict[str, Any]:
    """The public fields of a dead outbox row (no payload: it may describe a child)."""
    return {
        "id": row["id"], "destination": row["destination"], "event_id": (row["payload"] or {}).get("id"),
        "event_type": row["event_type"], "referral_id": row["aggregate_id"], "attempts": row["attempts"],
        "last_error": row["last_error"], "created_at": row["created_at"],
    }
