"""Revocations: what makes tokens stop working before they expire, and the feed every verifier polls.

Written in the transaction of the change that causes them (a user's deactivation, role, territories or
password; a client's deactivation, scopes or territories; a key's retirement or withdrawal), so a change
and its revocation commit together. Verifiers apply them through `himaya.revocation` (decision 0103).
"""

from __future__ import annotations

import uuid
from datetime import datetime, timedelta
from typing import Any

from identity_service.core.context import Context
from identity_service.revocations import repository as repo
from identity_service.revocations.records import RevocationPage

# A subject entry outlives every token it can refuse: the longest access-token lifetime the settings allow
# (IDENTITY_ACCESS_TOKEN_TTL, at most an hour) plus the verifiers' leeway on `exp`.
SUBJECT_ENTRY_LIFETIME = timedelta(seconds=3600 + 60)
FEED_PAGE_MAX = 1000


async def revoke_subject(ctx: Context, *, subject_type: str, subject_id: uuid.UUID, reason: str,
                         now: datetime) -> None:
    """Refuse every token of a user or client issued before this transaction's change of its record.

    Call after the record was updated: tokens carry the record's version (`sub_ver`), so tokens issued
    from the new record are accepted and older ones refused, with no clock involved."""
    await repo.lock_feed(ctx.session)
    version = await repo.subject_version(ctx.session, subject_type, subject_id)
    if version is None:
        return
    await repo.purge_expired(ctx.session, now)
    await repo.insert_entry(ctx.session, subject=f"{subject_type}:{subject_id}", min_version=version, reason=reason,
                            expires_at=now + SUBJECT_ENTRY_LIFETIME)


async def revoke_user_if_needed(ctx: Context, *, user_id: uuid.UUID, changes: dict[str, Any],
                                now: datetime) -> None:
    """After a user's change: a deactivation or a new role, territories or password ends their tokens."""
    if changes.get("active") is False:
        await revoke_subject(ctx, subject_type="user", subject_id=user_id, reason="user.deactivate", now=now)
    elif changes.keys() & {"role", "territories", "password"}:
        await revoke_subject(ctx, subject_type="user", subject_id=user_id, reason="user.update", now=now)


async def revoke_client_if_needed(ctx: Context, *, client_id: uuid.UUID, changes: dict[str, Any],
                                  now: datetime) -> None:
    """After a client's change: a deactivation or new scopes or territories end its tokens."""
    if changes.get("active") is False:
        await revoke_subject(ctx, subject_type="client", subject_id=client_id, reason="client.deactivate",
                             now=now)
    elif changes.keys() & {"scopes", "territories"}:
        await revoke_subject(ctx, subject_type="client", subject_id=client_id, reason="client.update",
                             now=now)


async def retire_key(ctx: Context, *, kid: str, retires_at: datetime, expires_at: datetime,
                     now: datetime) -> None:
    """A retired key signs no more: refuse its tokens claiming to be issued after `retires_at`."""
    await repo.lock_feed(ctx.session)
    await repo.purge_expired(ctx.session, now)
    await repo.insert_entry(ctx.session, kid=kid, issued_after=retires_at, reason="signing_key.retire",
                            expires_at=expires_at)


async def withdraw_key(ctx: Context, *, kid: str, until: datetime) -> None:
    """Refuse every token `kid` signed, until `until` (when the last of them has expired)."""
    await repo.lock_feed(ctx.session)
    await repo.insert_entry(ctx.session, kid=kid, reason="signing_key.revoke", expires_at=until)


async def key_withdrawn(ctx: Context, kid: str) -> bool:
    """Whether `kid` was withdrawn by an emergency revocation."""
    return await repo.key_withdrawn(ctx.session, kid)


async def feed(ctx: Context, *, after: int | None, limit: int, now: datetime) -> RevocationPage:
    """The entries after `after` still in force, and the cursor to ask from next.

    `reset` tells the reader to replace its list: it asked from the start, or from a cursor this database
    never reached (a restore, or every entry purged), so it gets every entry still in force."""
    limit = max(1, min(limit, FEED_PAGE_MAX))
    top = await repo.last_id(ctx.session)  # read first: an entry committed meanwhile is left for the next read
    reset = after is None or after > top
    start = 0 if reset or after is None else after
    rows = await repo.entries_after(ctx.session, after=start, upto=top, now=now, limit=limit)
    more = len(rows) == limit
    cursor = int(rows[-1].id) if more else top
    return RevocationPage(cursor=cursor, reset=reset, more=more, entries=rows)
