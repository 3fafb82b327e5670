"""Delivery of outbox events: to cases' internal endpoint and to webhook subscribers, signed, in order."""

from __future__ import annotations

import uuid
from typing import Any

import httpx
import orjson
import sqlalchemy as sa
from sqlalchemy.ext.asyncio import AsyncEngine

from himaya import signing
from himaya.crypto import FieldCipher
from himaya.errors import InvalidInput
from himaya.outbox import PENDING, OutboxDispatcher, OutboxEvent, PermanentDeliveryError
from referrals_service.db.tables import webhook_subscriptions
from referrals_service.domain.events import open_event
from referrals_service.domain.urlguard import check_webhook_url

# Answers that will never change on retry: dead-letter at once (decision 0004). Everything else
# (5xx, timeouts, 401 from a secret being rotated, 404 from a receiver being deployed) is retried.
PERMANENT_STATUSES = frozenset({400, 410, 413, 415, 422})
DELIVERY_ID_HEADER = "Himaya-Delivery-Id"
USER_AGENT = "Himaya-Webhooks/1"


class OrderedDispatcher(OutboxDispatcher):
    """Delivers the events of one referral to one destination strictly in order.

    Only the head of each (destination, referral) line is claimable: an event waits while an earlier one
    of the same line is still pending (even if that one is backing off), so cases and subscribers never
    see `referral.closed` before the decision that preceded it.
    """

    def claim_query(self) -> sa.Select[Any]:
        """Due rows that have no earlier pending event in their line."""
        t = self.table
        earlier = t.alias("earlier")
        seq = t.c.payload["data"]["sequence"].as_integer()
        earlier_seq = earlier.c.payload["data"]["sequence"].as_integer()
        blocked = sa.exists().where(earlier.c.status == PENDING, earlier.c.destination == t.c.destination,
                                    earlier.c.aggregate_id == t.c.aggregate_id, earlier_seq < seq)
        return super().claim_query().where(~blocked)

    async def run_once(self) -> int:
        """Claim batches until nothing is due, so the next event of a line follows its predecessor at once."""
        total = 0
        while True:
            claimed = await super().run_once()
            total += claimed
            if claimed == 0 or total >= self.batch_size * 10:
                return total


def _check_answer(response: httpx.Response, what: str) -> None:
    if 200 <= response.status_code < 300:
        return
    message = f"{what} answered HTTP {response.status_code}"
    if response.status_code in PERMANENT_STATUSES:
        raise PermanentDeliveryError(message)
    raise RuntimeError(message)


class CasesDelivery:
    """POSTs events to cases' `/internal/v1/events`, signed with the shared events secret."""

    def __init__(self, http: httpx.AsyncClient, *, cases_url: str, secret: bytes, cipher: FieldCipher) -> None:
        self.http = http
        self.cipher = cipher
        self.url = cases_url.rstrip("/") + "/internal/v1/events"
        self.secret = secret

    async def __call__(self, event: OutboxEvent) -> None:
        """Deliver one event; raise to retry, PermanentDeliveryError to dead-letter."""
        body = orjson.dumps(open_event(self.cipher, event.payload))
        headers = {"Content-Type": "application/json", signing.EVENT_ID_HEADER: str(event.payload.get("id")),
                   signing.EVENT_TYPE_HEADER: event.event_type, **signing.signed_headers(self.secret, body)}
        _check_answer(await self.http.post(self.url, content=body, headers=headers), "cases")


class WebhookDelivery:
    """POSTs events to a subscription's URL, signed with the subscription's own secret."""

    def __init__(self, http: httpx.AsyncClient, engine: AsyncEngine, *, allow_private: bool,
                 cipher: FieldCipher) -> None:
        self.http = http
        self.cipher = cipher
        self.engine = engine
        self.allow_private = allow_private

    async def __call__(self, event: OutboxEvent) -> None:
        """Deliver one event; raise to retry, PermanentDeliveryError to dead-letter."""
        subscription_id = uuid.UUID(event.destination.split(":", 1)[1])
        w = webhook_subscriptions
        async with self.engine.connect() as conn:
            sub = (await conn.execute(sa.select(w.c.url, w.c.secret, w.c.active).where(w.c.id == subscription_id))
                   ).mappings().one_or_none()
        if sub is None or not sub["active"]:
            raise PermanentDeliveryError("the subscription was deleted")
        try:
            # Checked again at delivery: the host may resolve elsewhere now than when it was registered.
            await check_webhook_url(sub["url"], allow_private=self.allow_private)
        except InvalidInput as exc:
            raise PermanentDeliveryError(exc.detail or "unsafe URL") from exc
        body = orjson.dumps(open_event(self.cipher, event.payload))
        headers = {"Content-Type": "application/json", "User-Agent": USER_AGENT,
                   signing.EVENT_ID_HEADER: str(event.payload.get("id")), signing.EVENT_TYPE_HEADER: event.event_type,
                   DELIVERY_ID_HEADER: str(event.id), **signing.signed_headers(sub["secret"].encode(), body)}
        _check_answer(await self.http.post(sub["url"], content=body, headers=headers), "the subscriber")
