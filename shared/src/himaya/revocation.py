"""The deny-list every token verifier keeps: identity's revocations, refreshed in the background.

Identity records a revocation in its own database in the same transaction as the change that causes it
(decision 0103): a user deactivated or given another role, territories or password, a machine client
deactivated or given other scopes or territories, a signing key retired or withdrawn. Every verifier polls
identity's feed of those entries (`GET /internal/v1/revocations?after=<cursor>`) every couple of seconds and
refuses what they name, long before the token's own expiry:

- a subject entry (`user:<id>` or `client:<id>`) with `min_version`: tokens whose `sub_ver` claim (the
  version of the user or client record the token was issued from) is lower are refused; a token issued
  after the change carries the new version and is accepted, whatever the clocks say;
- a key entry (`kid`): with `issued_after`, tokens of that key claiming to be issued later are refused (a
  retired key signs no more); without it, every token of the key is refused (emergency revocation).

An entry is kept until `expires_at`, when every token it could refuse has expired anyway. When the feed
cannot be read, the last list is kept and the poll retried; once it is older than `max_staleness` the
verifier refuses every token with a 503 (fail closed) until the feed answers again.
"""

from __future__ import annotations

import time
from collections.abc import Callable, Coroutine
from dataclasses import dataclass
from datetime import datetime
from typing import Any

import httpx
import structlog

from himaya.errors import ServiceUnavailable, Unauthorized
from himaya.periodic import Periodic

log = structlog.get_logger(__name__)

FeedFetcher = Callable[[int | None], Coroutine[Any, Any, dict[str, Any]]]
"""Reads the feed after a cursor (None: from the start) and returns its JSON answer."""


def _epoch(value: Any) -> float | None:
    if value is None:
        return None
    if isinstance(value, datetime):
        return value.timestamp()
    if isinstance(value, int | float):
        return float(value)
    return datetime.fromisoformat(str(value)).timestamp()


@dataclass(frozen=True, slots=True)
class KeyRevocation:
    """A signing key's entry: refuse its tokens issued after `issued_after`, or all of them when None."""

    issued_after: float | None
    expires_at: float


class RevocationList:
    """The entries a verifier holds, their cursor, and how fresh they are.

    `generation` changes whenever an entry is added or the list is replaced, so caches of verified tokens
    kept outside the verifier (the gateway's) know to forget what they hold.
    """

    def __init__(self, *, max_staleness_seconds: float = 60.0) -> None:
        self.max_staleness = max_staleness_seconds
        self.subjects: dict[str, tuple[int, float]] = {}  # subject -> (min_version, expires_at)
        self.keys: dict[str, KeyRevocation] = {}
        self.cursor: int | None = None
        self.generation = 0
        self.synced_at: float | None = None  # monotonic time of the last successful refresh
        self.started_at = time.monotonic()
        self.failures = 0
        self._listeners: list[Callable[[str], None]] = []

    def on_key_revoked(self, listener: Callable[[str], None]) -> None:
        """Call `listener(kid)` when a key is withdrawn outright (the JWKS cache forgets it)."""
        self._listeners.append(listener)

    @property
    def staleness(self) -> float:
        """Seconds since the list was last known to be current (since start when it never was)."""
        return time.monotonic() - (self.synced_at if self.synced_at is not None else self.started_at)

    def apply(self, feed: dict[str, Any]) -> bool:
        """Merge one page of the feed; returns whether more pages follow."""
        if feed.get("reset"):
            self.subjects, self.keys = {}, {}
            self.generation += 1
        changed = False
        for entry in feed.get("entries", []):
            expires_at = _epoch(entry["expires_at"]) or 0.0
            if entry.get("subject"):
                subject, version = str(entry["subject"]), int(entry["min_version"])
                held = self.subjects.get(subject)
                if held is None or held[0] < version:
                    self.subjects[subject] = (version, max(expires_at, held[1] if held else 0.0))
                    changed = True
                elif held[1] < expires_at:
                    self.subjects[subject] = (held[0], expires_at)
            elif entry.get("kid"):
                kid = str(entry["kid"])
                new = KeyRevocation(_epoch(entry.get("issued_after")), expires_at)
                held_key = self.keys.get(kid)
                if held_key is not None and held_key.issued_after is None:
                    continue  # withdrawn outright already: nothing can widen that
                self.keys[kid] = new
                changed = True
                if new.issued_after is None:
                    for listener in self._listeners:
                        listener(kid)
        if changed:
            self.generation += 1
        self.cursor = int(feed["cursor"])
        return bool(feed.get("more"))

    def mark_synced(self) -> None:
        """Note that the list now holds every entry identity had; drop entries past their use."""
        self.synced_at = time.monotonic()
        self.failures = 0
        now = time.time()
        self.subjects = {s: v for s, v in self.subjects.items() if v[1] > now}
        self.keys = {k: v for k, v in self.keys.items() if v.expires_at > now}

    def withdrawn(self, kid: str) -> bool:
        """Whether every token of `kid` is refused (checked before the key is even looked up)."""
        key = self.keys.get(kid)
        return key is not None and key.issued_after is None

    def check(self, claims: dict[str, Any], kid: str) -> None:
        """Raise Unauthorized if an entry refuses this token, ServiceUnavailable if the list is too old."""
        if self.max_staleness > 0 and self.staleness > self.max_staleness:
            raise ServiceUnavailable("Token revocations cannot be checked right now; try again shortly.")
        key = self.keys.get(kid)
        if key is not None and (key.issued_after is None or float(claims.get("iat", 0)) > key.issued_after):
            raise Unauthorized("The token's signing key has been revoked.")
        held = self.subjects.get(str(claims.get("sub", "")))
        if held is not None:
            version = claims.get("sub_ver")
            if not isinstance(version, int) or version < held[0]:
                raise Unauthorized("The token has been revoked; log in again.")


def http_feed(url: str, client: httpx.AsyncClient, *, page_size: int = 1000) -> FeedFetcher:
    """Read identity's feed at `url` with `client`."""

    async def fetch(after: int | None) -> dict[str, Any]:
        params: dict[str, Any] = {"limit": page_size}
        if after is not None:
            params["after"] = after
        response = await client.get(url, params=params, timeout=5.0)
        response.raise_for_status()
        data: dict[str, Any] = response.json()
        return data

    return fetch


async def refresh(revocations: RevocationList, fetch: FeedFetcher, *, max_pages: int = 100) -> None:
    """Read the feed from the list's cursor until it says nothing more follows."""
    for _ in range(max_pages):
        if not revocations.apply(await fetch(revocations.cursor)):
            revocations.mark_synced()
            return


class RevocationSync:
    """Polls the feed every `interval` seconds for the lifetime of an app (started and stopped by it)."""

    def __init__(self, revocations: RevocationList, fetch: FeedFetcher, *, interval: float = 2.0) -> None:
        self.revocations = revocations
        self.fetch = fetch
        self.interval = interval
        # refresh_once logs its own failures, so the schedule never sees one.
        self._schedule = Periodic("revocations_sync", self.refresh_once, interval_seconds=interval)

    async def refresh_once(self) -> bool:
        """One refresh; a failure is logged (once per run of failures, then every 30th) and kept for later."""
        try:
            await refresh(self.revocations, self.fetch)
            return True
        except Exception as exc:  # identity unreachable or answering badly: keep the last list
            self.revocations.failures += 1
            if self.revocations.failures == 1 or self.revocations.failures % 30 == 0:
                log.warning("revocations.refresh_failed", error=type(exc).__name__,
                            failures=self.revocations.failures,
                            stale_seconds=round(self.revocations.staleness, 1))
            return False

    async def start(self) -> None:
        """Load the list once (not failing if identity is not up yet) and start polling."""
        await self.refresh_once()
        self._schedule.start()

    async def stop(self) -> None:
        """Stop polling."""
        await self._schedule.stop()
