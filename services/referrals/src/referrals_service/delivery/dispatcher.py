"""The outbox dispatcher of referrals: events to cases' internal endpoint and to webhook subscribers, signed,
each referral's events in order (the feature's background worker: it speaks HTTP, as a router speaks FastAPI)."""

from __future__ import annotations

import re
import uuid
from typing import Any

import httpx
import orjson
import sqlalchemy as sa
import structlog
from sqlalchemy.ext.asyncio import AsyncEngine

from himaya import signing
from himaya.crypto import FieldCipher
from himaya.errors import InvalidInput
from himaya.outbox import PENDING, OutboxDispatcher, OutboxEvent, PermanentDeliveryError
from himaya.scopes import Scope
from referrals_service.core.audience import event_view, scopes_may_see_offences
from referrals_service.core.urlguard import UrlGuard
from referrals_service.delivery.repository import delivery_target, open_event

# Answers that will never change on retry: dead-letter at once (decision 0004). Everything else
# (5xx, timeouts, 401 from a secret being rotated, 404 from a receiver being deployed) is retried.
PERMANENT_STATUSES = frozenset({400, 410, 413, 415, 422})
DELIVERY_ID_HEADER = "Himaya-Delivery-Id"
USER_AGENT = "Himaya-Webhooks/1"
# The only texts a subscriber's delivery log shows of a failure (besides its own HTTP status).
SUBSCRIPTION_DELETED = "the subscription was deleted"
NOT_ENTITLED = "the subscription may not receive this event"
ADDRESS_REFUSED = "the subscription's address was refused"
UNREACHABLE = "the subscriber could not be reached"
TIMED_OUT = "the subscriber did not answer in time"
REDIRECTED = "the subscriber redirected; redirects are not followed"
PUBLIC_DELIVERY_ERRORS = (SUBSCRIPTION_DELETED, NOT_ENTITLED, ADDRESS_REFUSED, UNREACHABLE, TIMED_OUT, REDIRECTED)
SUBSCRIBER_STATUS = re.compile(r"the subscriber answered HTTP \d{3}$")
log = structlog.get_logger(__name__)


class WebhookFailure(RuntimeError):
    """A delivery that failed for a reason worth retrying; its message is one of PUBLIC_DELIVERY_ERRORS."""


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


def _check_status(status: int, what: str) -> None:
    if 200 <= status < 300:
        return
    message = f"{what} answered HTTP {status}"
    if status in PERMANENT_STATUSES:
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
        _check_status((await self.http.post(self.url, content=body, headers=headers)).status_code, "cases")


class WebhookDelivery:
    """POSTs events to a subscription's URL, signed with the subscription's own secret.

    Each event is re-checked against what the subscription's owner could read when subscribing (its
    organisation must be a party to the referral, `referrals:read` is needed, offence fields need
    `offences:read`); the URL is resolved and checked once, and the request goes to that checked address
    with the registered name as Host and TLS server name. What the subscriber's delivery log shows of a
    failure is one of PUBLIC_DELIVERY_ERRORS; the detail goes to our log only (decision 0105).
    """

    def __init__(self, http: httpx.AsyncClient, engine: AsyncEngine, *, guard: UrlGuard, cipher: FieldCipher) -> None:
        self.http = http
        self.cipher = cipher
        self.engine = engine
        self.guard = guard

    async def __call__(self, event: OutboxEvent) -> None:
        """Deliver one event; raise to retry, PermanentDeliveryError to dead-letter."""
        subscription_id = uuid.UUID(event.destination.split(":", 1)[1])
        async with self.engine.connect() as conn:
            sub = await delivery_target(conn, subscription_id)
        if sub is None or not sub.active:
            raise PermanentDeliveryError(SUBSCRIPTION_DELETED)
        scopes = frozenset(sub.owner_scopes or ())
        data = event.payload.get("data") or {}
        parties = {data.get("sender_organization_id"), data.get("target_organization_id")}
        if str(Scope.REFERRALS_READ) not in scopes or str(sub.organization_id) not in parties:
            log.warning("webhook_not_entitled", subscription_id=str(subscription_id), event_id=str(event.id))
            raise PermanentDeliveryError(NOT_ENTITLED)
        try:
            target = await self.guard(sub.url)
        except InvalidInput as exc:
            log.warning("webhook_address_refused", subscription_id=str(subscription_id), detail=exc.detail)
            raise PermanentDeliveryError(ADDRESS_REFUSED) from exc
        body = orjson.dumps(event_view(open_event(self.cipher, event.payload),
                                       offences=scopes_may_see_offences(scopes)))
        headers = {"Content-Type": "application/json", "User-Agent": USER_AGENT, "Host": target.host_header,
                   signing.EVENT_ID_HEADER: str(event.payload.get("id")), signing.EVENT_TYPE_HEADER: event.event_type,
                   DELIVERY_ID_HEADER: str(event.id), **signing.signed_headers(sub.secret.encode(), body)}
        extensions = {"sni_hostname": target.hostname} if target.scheme == "https" else {}
        try:
            async with self.http.stream("POST", target.connect_url, content=body, headers=headers,
                                        extensions=extensions) as response:
                status = response.status_code
        except httpx.TimeoutException as exc:
            log.warning("webhook_timeout", subscription_id=str(subscription_id), error=type(exc).__name__)
            raise WebhookFailure(TIMED_OUT) from exc
        except httpx.HTTPError as exc:
            log.warning("webhook_unreachable", subscription_id=str(subscription_id),
                        error=f"{type(exc).__name__}: {exc}"[:300])
            raise WebhookFailure(UNREACHABLE) from exc
        if 300 <= status < 400:
            raise PermanentDeliveryError(REDIRECTED)
        _check_status(status, "the subscriber")


def webhook_http_client(timeout_seconds: float) -> httpx.AsyncClient:
    """The HTTP client of webhook deliveries: no redirects, no proxy from the environment (it would resolve
    the name again), and no kept-alive connection (one TLS session never serves another subscription's name)."""
    return httpx.AsyncClient(timeout=httpx.Timeout(timeout_seconds, connect=5.0), follow_redirects=False,
                             trust_env=False, limits=httpx.Limits(max_keepalive_connections=0))
