"""HMAC-SHA256 signatures over a timestamp and a body, for webhooks and service-to-service events.

Headers: `Himaya-Timestamp` (Unix seconds) and `Himaya-Signature` (`v1=<hex>`), where the signed string
is `<timestamp>.<raw body>`. Receivers reject signatures older than the tolerance (replay protection).
"""

from __future__ import annotations

import hashlib
import hmac
import time

TIMESTAMP_HEADER = "Himaya-Timestamp"
SIGNATURE_HEADER = "Himaya-Signature"
EVENT_ID_HEADER = "Himaya-Event-Id"
EVENT_TYPE_HEADER = "Himaya-Event-Type"
DEFAULT_TOLERANCE_SECONDS = 300


def signature(secret: bytes, timestamp: int, body: bytes) -> str:
    """The `v1=` signature of `body` at `timestamp`."""
    mac = hmac.new(secret, str(timestamp).encode() + b"." + body, hashlib.sha256)
    return "v1=" + mac.hexdigest()


def signed_headers(secret: bytes, body: bytes, *, now: int | None = None) -> dict[str, str]:
    """The timestamp and signature headers for sending `body`."""
    ts = int(time.time()) if now is None else now
    return {TIMESTAMP_HEADER: str(ts), SIGNATURE_HEADER: signature(secret, ts, body)}


def verify(secret: bytes, body: bytes, timestamp: str | None, sig: str | None, *,
           tolerance: int = DEFAULT_TOLERANCE_SECONDS, now: int | None = None) -> bool:
    """Whether `sig` signs `body` at `timestamp` with `secret`, within the tolerance window."""
    if not timestamp or not sig:
        return False
    try:
        ts = int(timestamp)
    except ValueError:
        return False
    current = int(time.time()) if now is None else now
    if abs(current - ts) > tolerance:
        return False
    expected = signature(secret, ts, body)
    # Several signatures may be sent during a secret rotation, separated by spaces.
    return any(hmac.compare_digest(expected, candidate) for candidate in sig.split())
