"""Referral rules: creation checked against the case, the state machines, prosecutor decisions, lists, and
what of a referral each audience sees."""

from __future__ import annotations

import dataclasses
import uuid
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

from himaya import clock
from himaya.audit import AuditEntry
from himaya.errors import Conflict, Forbidden, InvalidInput, NotFound, TransitionNotAllowed
from himaya.events import DecisionData
from himaya.pagination import build_page, decode_cursor, encode_cursor
from referrals_service.core.audience import may_see_offences
from referrals_service.core.audit import audit
from referrals_service.core.context import Context
from referrals_service.core.enums import (
    ADULT_ONLY_DECISIONS,
    CHILD_ONLY_DECISIONS,
    OPEN_STATUSES,
    PROSECUTION_TARGET_TYPES,
    SERVICE_TARGET_TYPES,
    Concerns,
    EventType,
    ReferralKind,
    ReferralStatus,
)
from referrals_service.delivery.service import emit
from referrals_service.referrals import repository as repo
from referrals_service.referrals.records import Decision, HistoryEntry, Referral
from referrals_service.referrals.schemas import DecisionCreate, ReferralCreate
from referrals_service.referrals.snapshot import case_snapshot

S = ReferralStatus
CLOCK_SKEW = timedelta(minutes=5)


def _own_org(ctx: Context) -> uuid.UUID:
    if ctx.principal.organization_id is None:
        raise Forbidden("Referrals are exchanged between organisations; this caller has none.")
    return ctx.principal.organization_id


def _visible(ctx: Context, referral: Referral) -> bool:
    """Only the sending and the receiving organisation see a referral."""
    return ctx.principal.organization_id is not None and ctx.principal.organization_id in (
        referral.sender_organization_id, referral.target_organization_id)


async def _audit(ctx: Context, action: str, referral: Referral, fields: Sequence[str] = ()) -> None:
    await audit(ctx, AuditEntry(action=action, object_type="referral", object_id=str(referral.id),
                                case_id=referral.case_id, fields=fields))


async def create_referral(ctx: Context, *, data: ReferralCreate) -> Referral:
    """Refer a case the caller may see to an organisation of the right type; emits `referral.sent`."""
    sender = _own_org(ctx)
    if data.kind is ReferralKind.SERVICE and data.service_type is None:
        raise InvalidInput("A service referral names its service_type.")
    if data.kind is ReferralKind.PROSECUTION and data.service_type is not None:
        raise InvalidInput("A prosecution referral has no service_type.")
    if data.target_organization_id == sender:
        raise InvalidInput("An organisation cannot refer a case to itself.")
    case = await ctx.cases.get_case(data.case_id, authorization=ctx.authorization)
    try:
        target = await ctx.identity.get_organization(data.target_organization_id, authorization=ctx.authorization)
    except NotFound as exc:
        raise InvalidInput("target_organization_id does not name an organisation.") from exc
    target_type = str(target.get("type"))
    allowed = PROSECUTION_TARGET_TYPES if data.kind is ReferralKind.PROSECUTION else SERVICE_TARGET_TYPES
    if target_type not in allowed:
        raise InvalidInput(f"A {data.kind} referral cannot target an organisation of type {target_type!r}.")
    if await repo.open_referral_exists(ctx.session, case_id=data.case_id, kind=data.kind,
                                       target_organization_id=data.target_organization_id,
                                       open_statuses=OPEN_STATUSES):
        raise Conflict("This case already has an open referral of this kind to this organisation.")
    now = clock.now()
    referral = await repo.insert_referral(ctx.session, ctx.cipher, {
        "id": uuid.uuid4(), "case_id": data.case_id, "kind": data.kind, "status": S.SENT,
        "sender_organization_id": sender, "target_organization_id": data.target_organization_id,
        "target_organization_type": target_type, "reason": data.reason, "urgency": data.urgency,
        "service_type": data.service_type, "snapshot": case_snapshot(case, today=now.date()),
        "created_by": ctx.principal.actor, "created_at": now, "updated_at": now, "version": 1,
        "change_seq": await repo.next_change_number(ctx.session),
    })
    await _history(ctx, referral, EventType.SENT, None, note=None)
    await emit(ctx, referral=referral, event_type=EventType.SENT, data={"reason": data.reason})
    await _audit(ctx, "referral.create", referral, fields=("snapshot", "reason"))
    return referral


async def _history(ctx: Context, referral: Referral, event_type: EventType, from_status: str | None, *,
                   note: str | None) -> None:
    await repo.add_history(ctx.session, ctx.cipher, {
        "referral_id": referral.id, "event_type": event_type, "from_status": from_status,
        "to_status": referral.status, "actor": ctx.principal.actor,
        "actor_organization_id": ctx.principal.organization_id, "note": note, "occurred_at": referral.updated_at,
    })


async def _load_for_change(ctx: Context, referral_id: uuid.UUID, *, party: str) -> Referral:
    """Lock a referral the caller may see, and check the caller is the party acting on it."""
    _own_org(ctx)
    referral = await repo.get_referral(ctx.session, ctx.cipher, referral_id, for_update=True)
    if referral is None or not _visible(ctx, referral):
        raise NotFound("No such referral.")
    acting = referral.target_organization_id if party == "target" else referral.sender_organization_id
    if acting != ctx.principal.organization_id:
        who = "receiving" if party == "target" else "sending"
        raise Forbidden(f"Only the {who} organisation may do this.")
    return referral


def _require(referral: Referral, *, kind: ReferralKind | None, states: frozenset[str], action: str) -> None:
    if kind is not None and referral.kind != kind:
        raise TransitionNotAllowed(f"A {referral.kind} referral cannot be {action}.")
    if referral.status not in states:
        raise TransitionNotAllowed(f"A referral in state {referral.status!r} cannot be {action}.")


async def _change(ctx: Context, referral: Referral, *, to: ReferralStatus, event_type: EventType,
                  values: dict[str, Any], note: str | None, event_data: dict[str, Any] | None = None,
                  decision: DecisionData | None = None, audit_fields: Sequence[str] = ()) -> Referral:
    """Apply a state change: new version and change number, history, outbox event, audit."""
    now = clock.now()
    changes: dict[str, Any] = {"status": to, "updated_at": now, "version": referral.version + 1,
                               "change_seq": await repo.next_change_number(ctx.session), **values}
    if to not in OPEN_STATUSES:
        changes["closed_at"] = now
    updated = await repo.update_referral(ctx.session, ctx.cipher, referral.id, changes)
    await _history(ctx, updated, event_type, referral.status, note=note)
    await emit(ctx, referral=updated, event_type=event_type, data=event_data, decision=decision)
    await _audit(ctx, str(event_type), updated, fields=("status", *audit_fields))
    return updated


async def acknowledge_referral(ctx: Context, *, referral_id: uuid.UUID, external_reference: str | None) -> Referral:
    """The receiver confirms it has the referral (a prosecution office gives its file number)."""
    referral = await _load_for_change(ctx, referral_id, party="target")
    _require(referral, kind=None, states=frozenset({S.SENT}), action="acknowledged")
    if referral.kind == ReferralKind.PROSECUTION and not external_reference:
        raise InvalidInput("A prosecution office acknowledges with its own file number (external_reference).")
    return await _change(ctx, referral, to=S.ACKNOWLEDGED, event_type=EventType.ACKNOWLEDGED,
                         values={"external_reference": external_reference}, note=external_reference,
                         audit_fields=("external_reference",))


async def accept_referral(ctx: Context, *, referral_id: uuid.UUID, note: str | None) -> Referral:
    """A service provider takes an acknowledged referral on."""
    referral = await _load_for_change(ctx, referral_id, party="target")
    _require(referral, kind=ReferralKind.SERVICE, states=frozenset({S.ACKNOWLEDGED}), action="accepted")
    return await _change(ctx, referral, to=S.ACCEPTED, event_type=EventType.ACCEPTED, values={}, note=note)


async def reject_referral(ctx: Context, *, referral_id: uuid.UUID, reason: str) -> Referral:
    """A service provider declines a referral it has not accepted, with a reason."""
    referral = await _load_for_change(ctx, referral_id, party="target")
    _require(referral, kind=ReferralKind.SERVICE, states=frozenset({S.SENT, S.ACKNOWLEDGED}), action="rejected")
    return await _change(ctx, referral, to=S.REJECTED, event_type=EventType.REJECTED,
                         values={"rejection_reason": reason}, note=reason, event_data={"reason": reason},
                         audit_fields=("rejection_reason",))


async def complete_referral(ctx: Context, *, referral_id: uuid.UUID, outcome: str) -> Referral:
    """A service provider reports the service delivered, with its outcome."""
    referral = await _load_for_change(ctx, referral_id, party="target")
    _require(referral, kind=ReferralKind.SERVICE, states=frozenset({S.ACCEPTED}), action="completed")
    return await _change(ctx, referral, to=S.COMPLETED, event_type=EventType.COMPLETED,
                         values={"outcome": outcome}, note=outcome, event_data={"outcome": outcome},
                         audit_fields=("outcome",))


async def cancel_referral(ctx: Context, *, referral_id: uuid.UUID, reason: str) -> Referral:
    """The sender withdraws a referral on which the receiver has not yet decided."""
    referral = await _load_for_change(ctx, referral_id, party="sender")
    _require(referral, kind=None, states=frozenset({S.SENT, S.ACKNOWLEDGED, S.ACCEPTED}), action="cancelled")
    return await _change(ctx, referral, to=S.CANCELLED, event_type=EventType.CANCELLED,
                         values={"cancellation_reason": reason}, note=reason, event_data={"reason": reason},
                         audit_fields=("cancellation_reason",))


async def close_referral(ctx: Context, *, referral_id: uuid.UUID, outcome: str | None) -> Referral:
    """The prosecution office closes a referral on which it has decided."""
    referral = await _load_for_change(ctx, referral_id, party="target")
    _require(referral, kind=ReferralKind.PROSECUTION, states=frozenset({S.DECIDED}), action="closed")
    return await _change(ctx, referral, to=S.CLOSED, event_type=EventType.CLOSED,
                         values={"outcome": outcome}, note=outcome, event_data={"outcome": outcome},
                         audit_fields=("outcome",))


# ---- prosecutor decisions -------------------------------------------------------------------------------

def check_decision(data: DecisionCreate, *, now: datetime) -> None:
    """A decision names whom it concerns consistently with its type, and is not dated in the future."""
    if data.concerns is Concerns.ADULT and data.adult_id is None:
        raise InvalidInput("A decision concerning an adult names the adult (adult_id).")
    if data.concerns is Concerns.CHILD and data.adult_id is not None:
        raise InvalidInput("A decision concerning the child has no adult_id.")
    if data.type in CHILD_ONLY_DECISIONS and data.concerns is not Concerns.CHILD:
        raise InvalidInput(f"A {data.type} decision concerns the child.")
    if data.type in ADULT_ONLY_DECISIONS and data.concerns is not Concerns.ADULT:
        raise InvalidInput(f"A {data.type} decision concerns an adult.")
    if data.decided_at > now + CLOCK_SKEW:
        raise InvalidInput("decided_at is in the future.")


async def record_decision(ctx: Context, *, referral_id: uuid.UUID, data: DecisionCreate) -> Decision:
    """Record a prosecutor decision; the referral becomes `decided`; emits `referral.decision_recorded`."""
    now = clock.now()
    check_decision(data, now=now)
    referral = await _load_for_change(ctx, referral_id, party="target")
    _require(referral, kind=ReferralKind.PROSECUTION, states=frozenset({S.ACKNOWLEDGED, S.DECIDED}),
             action="decided on")
    decision = await repo.insert_decision(ctx.session, ctx.cipher, {
        "id": uuid.uuid4(), "referral_id": referral.id, "case_id": referral.case_id, "type": data.type,
        "concerns": data.concerns, "adult_id": data.adult_id, "legal_basis": data.legal_basis,
        "decided_at": data.decided_at, "notes": data.notes, "recorded_by": ctx.principal.actor,
        "organization_id": ctx.principal.organization_id, "created_at": now,
    })
    details = DecisionData(decision_id=decision.id, type=data.type, concerns=data.concerns, adult_id=data.adult_id,
                           legal_basis=data.legal_basis, decided_at=data.decided_at,
                           reference=referral.external_reference)
    await _change(ctx, referral, to=S.DECIDED, event_type=EventType.DECISION_RECORDED, values={},
                  note=str(data.type), decision=details,
                  audit_fields=("decision.type", "decision.concerns", "decision.legal_basis"))
    # The decider's own answer echoes what it sent, but legal basis and notes only with the offence scope.
    return decision_view(decision, offences=may_see_offences(ctx.principal))


# ---- what each audience sees ----------------------------------------------------------------------------

def decision_view(decision: Decision, *, offences: bool) -> Decision:
    """A decision as its audience sees it: legal basis and notes only with the offence scope."""
    if offences:
        return decision
    return dataclasses.replace(decision, legal_basis=None, notes=None)


def visible_decisions(decisions: Iterable[Decision], *, offences: bool) -> list[Decision]:
    """The decisions an audience sees: those about an adult only with the offence scope."""
    return [decision_view(d, offences=offences) for d in decisions if offences or d.concerns != Concerns.ADULT]


def history_view(entries: Iterable[HistoryEntry], *, offences: bool) -> list[HistoryEntry]:
    """A referral's history: the note of a decision step (its type) only with the offence scope."""
    return [dataclasses.replace(e, note=None) if not offences and e.event_type == EventType.DECISION_RECORDED
            else e for e in entries]


# ---- reads ----------------------------------------------------------------------------------------------

@dataclass(frozen=True)
class ReferralDetails:
    """A referral with its decisions and history."""

    referral: Referral
    decisions: Sequence[Decision]
    history: Sequence[HistoryEntry]


async def get_referral(ctx: Context, *, referral_id: uuid.UUID) -> ReferralDetails:
    """A referral the caller's organisation sent or received, with decisions and history (audited); decisions
    about adults, legal bases and notes only for callers holding the offence scope."""
    _own_org(ctx)
    referral = await repo.get_referral(ctx.session, ctx.cipher, referral_id)
    if referral is None or not _visible(ctx, referral):
        raise NotFound("No such referral.")
    offences = may_see_offences(ctx.principal)
    await _audit(ctx, "referral.read", referral,
                 fields=("snapshot", "decisions", *(("decisions.offences",) if offences else ())))
    decisions = visible_decisions(await repo.list_decisions(ctx.session, ctx.cipher, referral_id),
                                  offences=offences)
    history = history_view(await repo.list_history(ctx.session, ctx.cipher, referral_id), offences=offences)
    return ReferralDetails(referral, decisions, history)


@dataclass(frozen=True)
class ReferralListPage:
    """One page of a referral list and the cursors to continue."""

    items: list[Referral]
    next_cursor: str | None
    poll_cursor: str


async def list_referrals(ctx: Context, *, direction: str, status: str | None, updated_since: datetime | None,
                         cursor: str | None, limit: int) -> ReferralListPage:
    """Referrals to or from the caller's organisation, in the order their last change committed."""
    org = _own_org(ctx)
    after = int(decode_cursor(cursor, 1)[0]) if cursor else None
    rows = await repo.list_referrals(ctx.session, ctx.cipher, organization_id=org, direction=direction,
                                     status=status, updated_since=updated_since, after_change=after, limit=limit)
    items, next_cursor = build_page(rows, limit, lambda r: [r.change_seq])
    for referral in items:
        await _audit(ctx, "referral.list", referral, fields=("snapshot",))
    if items:
        poll = encode_cursor([items[-1].change_seq])
    else:
        poll = cursor or encode_cursor([await repo.latest_change_number(ctx.session)])
    return ReferralListPage(items, next_cursor, poll)
