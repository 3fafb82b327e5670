"""Referral rules: creation checked against the case, the state machines, prosecutor decisions, lists."""

from __future__ import annotations

import uuid
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any

from sqlalchemy.ext.asyncio import AsyncSession

from himaya.audit import AuditEntry, record
from himaya.auth import Principal
from himaya.crypto import FieldCipher
from himaya.errors import Conflict, Forbidden, InvalidInput, NotFound, TransitionNotAllowed
from himaya.events import DecisionData
from himaya.pagination import build_page, decode_cursor, encode_cursor
from referrals_service.clients.directory import CasesClient, IdentityClient
from referrals_service.db import repository as repo
from referrals_service.db.tables import audit_events
from referrals_service.domain.audience import decision_view, history_view, may_see_offences, visible_decisions
from referrals_service.domain.events import emit
from referrals_service.domain.snapshot import case_snapshot
from referrals_service.domain.vocabulary import (
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
from referrals_service.schemas.referrals import DecisionCreate, ReferralCreate

S = ReferralStatus
Row = Mapping[str, Any]
CLOCK_SKEW = timedelta(minutes=5)


def _own_org(principal: Principal) -> uuid.UUID:
    if principal.organization_id is None:
        raise Forbidden("Referrals are exchanged between organisations; this caller has none.")
    return principal.organization_id


def _visible(principal: Principal, referral: Row) -> bool:
    """Only the sending and the receiving organisation see a referral."""
    return principal.organization_id is not None and principal.organization_id in (
        referral["sender_organization_id"], referral["target_organization_id"])


async def _audit(session: AsyncSession, principal: Principal, action: str, referral: Row,
                 fields: Sequence[str] = ()) -> None:
    await record(session, audit_events, AuditEntry(action=action, object_type="referral",
                                                   object_id=str(referral["id"]), case_id=referral["case_id"],
                                                   fields=fields), principal=principal)


async def create_referral(*, session: AsyncSession, cipher: FieldCipher, principal: Principal, authorization: str,
                          data: ReferralCreate, cases: CasesClient, identity: IdentityClient) -> Row:
    """Refer a case the caller may see to an organisation of the right type; emits `referral.sent`."""
    sender = _own_org(principal)
    if data.kind is ReferralKind.SERVICE and data.service_type is None:
        raise InvalidInput("A service referral names its service_type.")
    if data.kind is ReferralKind.PROSECUTION and data.service_type is not None:
        raise InvalidInput("A prosecution referral has no service_type.")
    if data.target_organization_id == sender:
        raise InvalidInput("An organisation cannot refer a case to itself.")
    case = await cases.get_case(data.case_id, authorization=authorization)
    try:
        target = await identity.get_organization(data.target_organization_id, authorization=authorization)
    except NotFound as exc:
        raise InvalidInput("target_organization_id does not name an organisation.") from exc
    target_type = str(target.get("type"))
    allowed = PROSECUTION_TARGET_TYPES if data.kind is ReferralKind.PROSECUTION else SERVICE_TARGET_TYPES
    if target_type not in allowed:
        raise InvalidInput(f"A {data.kind} referral cannot target an organisation of type {target_type!r}.")
    if await repo.open_referral_exists(session, case_id=data.case_id, kind=data.kind,
                                       target_organization_id=data.target_organization_id,
                                       open_statuses=OPEN_STATUSES):
        raise Conflict("This case already has an open referral of this kind to this organisation.")
    now = datetime.now(UTC)
    referral = await repo.insert_referral(session, cipher, {
        "id": uuid.uuid4(), "case_id": data.case_id, "kind": data.kind, "status": S.SENT,
        "sender_organization_id": sender, "target_organization_id": data.target_organization_id,
        "target_organization_type": target_type, "reason": data.reason, "urgency": data.urgency,
        "service_type": data.service_type, "snapshot": case_snapshot(case), "created_by": principal.actor,
        "created_at": now, "updated_at": now, "version": 1,
        "change_seq": await repo.next_change_number(session),
    })
    await _history(session, cipher, principal, referral, EventType.SENT, None, note=None)
    await emit(session, cipher, referral=referral, event_type=EventType.SENT, principal=principal,
               data={"reason": data.reason})
    await _audit(session, principal, "referral.create", referral, fields=("snapshot", "reason"))
    return referral


async def _history(session: AsyncSession, cipher: FieldCipher,
                   principal: Principal, referral: Row, event_type: EventType,
                   from_status: str | None, *, note: str | None) -> None:
    await repo.add_history(session, cipher, {
        "referral_id": referral["id"], "event_type": event_type, "from_status": from_status,
        "to_status": referral["status"], "actor": principal.actor,
        "actor_organization_id": principal.organization_id, "note": note, "occurred_at": referral["updated_at"],
    })


async def _load_for_change(session: AsyncSession, cipher: FieldCipher, principal: Principal, referral_id: uuid.UUID, *,
                           party: str) -> Row:
    """Lock a referral the caller may see, and check the caller is the party acting on it."""
    _own_org(principal)
    referral = await repo.get_referral(session, cipher, referral_id, for_update=True)
    if referral is None or not _visible(principal, referral):
        raise NotFound("No such referral.")
    column = "target_organization_id" if party == "target" else "sender_organization_id"
    if referral[column] != principal.organization_id:
        who = "receiving" if party == "target" else "sending"
        raise Forbidden(f"Only the {who} organisation may do this.")
    return referral


def _require(referral: Row, *, kind: ReferralKind | None, states: frozenset[str], action: str) -> None:
    if kind is not None and referral["kind"] != kind:
        raise TransitionNotAllowed(f"A {referral['kind']} referral cannot be {action}.")
    if referral["status"] not in states:
        raise TransitionNotAllowed(f"A referral in state {referral['status']!r} cannot be {action}.")


async def _change(session: AsyncSession, cipher: FieldCipher,
                  principal: Principal, referral: Row, *, to: ReferralStatus,
                  event_type: EventType, values: dict[str, Any], note: str | None,
                  event_data: dict[str, Any] | None = None, decision: DecisionData | None = None,
                  audit_fields: Sequence[str] = ()) -> Row:
    """Apply a state change: new version and change number, history, outbox event, audit."""
    now = datetime.now(UTC)
    changes: dict[str, Any] = {"status": to, "updated_at": now, "version": referral["version"] + 1,
                               "change_seq": await repo.next_change_number(session), **values}
    if to not in OPEN_STATUSES:
        changes["closed_at"] = now
    updated = await repo.update_referral(session, cipher, referral["id"], changes)
    await _history(session, cipher, principal, updated, event_type, referral["status"], note=note)
    await emit(session, cipher, referral=updated, event_type=event_type, principal=principal, data=event_data,
               decision=decision)
    await _audit(session, principal, event_type.replace("referral.", "referral."), updated,
                 fields=("status", *audit_fields))
    return updated


async def acknowledge_referral(*, session: AsyncSession, cipher: FieldCipher,
                               principal: Principal, referral_id: uuid.UUID,
                               external_reference: str | None) -> Row:
    """The receiver confirms it has the referral (a prosecution office gives its file number)."""
    referral = await _load_for_change(session, cipher, principal, referral_id, party="target")
    _require(referral, kind=None, states=frozenset({S.SENT}), action="acknowledged")
    if referral["kind"] == ReferralKind.PROSECUTION and not external_reference:
        raise InvalidInput("A prosecution office acknowledges with its own file number (external_reference).")
    return await _change(session, cipher, principal, referral, to=S.ACKNOWLEDGED, event_type=EventType.ACKNOWLEDGED,
                         values={"external_reference": external_reference}, note=external_reference,
                         audit_fields=("external_reference",))


async def accept_referral(*, session: AsyncSession, cipher: FieldCipher, principal: Principal, referral_id: uuid.UUID,
                          note: str | None) -> Row:
    """A service provider takes an acknowledged referral on."""
    referral = await _load_for_change(session, cipher, principal, referral_id, party="target")
    _require(referral, kind=ReferralKind.SERVICE, states=frozenset({S.ACKNOWLEDGED}), action="accepted")
    return await _change(session, cipher, principal, referral, to=S.ACCEPTED, event_type=EventType.ACCEPTED,
                         values={}, note=note)


async def reject_referral(*, session: AsyncSession, cipher: FieldCipher, principal: Principal, referral_id: uuid.UUID,
                          reason: str) -> Row:
    """A service provider declines a referral it has not accepted, with a reason."""
    referral = await _load_for_change(session, cipher, principal, referral_id, party="target")
    _require(referral, kind=ReferralKind.SERVICE, states=frozenset({S.SENT, S.ACKNOWLEDGED}), action="rejected")
    return await _change(session, cipher, principal, referral, to=S.REJECTED, event_type=EventType.REJECTED,
                         values={"rejection_reason": reason}, note=reason, event_data={"reason": reason},
                         audit_fields=("rejection_reason",))


async def complete_referral(*, session: AsyncSession, cipher: FieldCipher, principal: Principal, referral_id: uuid.UUID,
                            outcome: str) -> Row:
    """A service provider reports the service delivered, with its outcome."""
    referral = await _load_for_change(session, cipher, principal, referral_id, party="target")
    _require(referral, kind=ReferralKind.SERVICE, states=frozenset({S.ACCEPTED}), action="completed")
    return await _change(session, cipher, principal, referral, to=S.COMPLETED, event_type=EventType.COMPLETED,
                         values={"outcome": outcome}, note=outcome, event_data={"outcome": outcome},
                         audit_fields=("outcome",))


async def cancel_referral(*, session: AsyncSession, cipher: FieldCipher, principal: Principal, referral_id: uuid.UUID,
                          reason: str) -> Row:
    """The sender withdraws a referral on which the receiver has not yet decided."""
    referral = await _load_for_change(session, cipher, principal, referral_id, party="sender")
    _require(referral, kind=None, states=frozenset({S.SENT, S.ACKNOWLEDGED, S.ACCEPTED}), action="cancelled")
    return await _change(session, cipher, principal, referral, to=S.CANCELLED, event_type=EventType.CANCELLED,
                         values={"cancellation_reason": reason}, note=reason, event_data={"reason": reason},
                         audit_fields=("cancellation_reason",))


async def close_referral(*, session: AsyncSession, cipher: FieldCipher, principal: Principal, referral_id: uuid.UUID,
                         outcome: str | None) -> Row:
    """The prosecution office closes a referral on which it has decided."""
    referral = await _load_for_change(session, cipher, principal, referral_id, party="target")
    _require(referral, kind=ReferralKind.PROSECUTION, states=frozenset({S.DECIDED}), action="closed")
    return await _change(session, cipher, principal, referral, to=S.CLOSED, event_type=EventType.CLOSED,
                         values={"outcome": outcome}, note=outcome, event_data={"outcome": outcome},
                         audit_fields=("outcome",))


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


async def record_decision(*, session: AsyncSession, cipher: FieldCipher, principal: Principal, referral_id: uuid.UUID,
                          data: DecisionCreate) -> Row:
    """Record a prosecutor decision; the referral becomes `decided`; emits `referral.decision_recorded`."""
    now = datetime.now(UTC)
    check_decision(data, now=now)
    referral = await _load_for_change(session, cipher, principal, referral_id, party="target")
    _require(referral, kind=ReferralKind.PROSECUTION, states=frozenset({S.ACKNOWLEDGED, S.DECIDED}),
             action="decided on")
    decision = await repo.insert_decision(session, cipher, {
        "id": uuid.uuid4(), "referral_id": referral["id"], "case_id": referral["case_id"], "type": data.type,
        "concerns": data.concerns, "adult_id": data.adult_id, "legal_basis": data.legal_basis,
        "decided_at": data.decided_at, "notes": data.notes, "recorded_by": principal.actor,
        "organization_id": principal.organization_id, "created_at": now,
    })
    details = DecisionData(decision_id=decision["id"], type=data.type, concerns=data.concerns,
                           adult_id=data.adult_id, legal_basis=data.legal_basis, decided_at=data.decided_at,
                           reference=referral["external_reference"])
    await _change(session, cipher, principal, referral, to=S.DECIDED, event_type=EventType.DECISION_RECORDED,
                  values={}, note=str(data.type), decision=details,
                  audit_fields=("decision.type", "decision.concerns", "decision.legal_basis"))
    # The decider's own answer echoes what it sent, but legal basis and notes only with the offence scope.
    return decision_view(decision, offences=may_see_offences(principal))


@dataclass(frozen=True)
class ReferralDetails:
    """A referral with its decisions and history."""

    referral: Row
    decisions: Sequence[Row]
    history: Sequence[Row]


async def get_referral(*, session: AsyncSession, cipher: FieldCipher,
                       principal: Principal, referral_id: uuid.UUID) -> ReferralDetails:
    """A referral the caller's organisation sent or received, with decisions and history (audited); decisions
    about adults, legal bases and notes only for callers holding the offence scope."""
    _own_org(principal)
    referral = await repo.get_referral(session, cipher, referral_id)
    if referral is None or not _visible(principal, referral):
        raise NotFound("No such referral.")
    offences = may_see_offences(principal)
    await _audit(session, principal, "referral.read", referral,
                 fields=("snapshot", "decisions", *(("decisions.offences",) if offences else ())))
    decisions = visible_decisions(await repo.list_decisions(session, cipher, referral_id), offences=offences)
    history = history_view(await repo.list_history(session, cipher, referral_id), offences=offences)
    return ReferralDetails(referral, decisions, history)


@dataclass(frozen=True)
class ReferralListPage:
    """One page of a referral list and the cursors to continue."""

    items: list[Row]
    next_cursor: str | None
    poll_cursor: str


async def list_referrals(*, session: AsyncSession, cipher: FieldCipher,
                         principal: Principal, direction: str, status: str | None,
                         updated_since: datetime | None, cursor: str | None, limit: int) -> ReferralListPage:
    """Referrals to or from the caller's organisation, in the order their last change committed."""
    org = _own_org(principal)
    after = int(decode_cursor(cursor, 1)[0]) if cursor else None
    rows = await repo.list_referrals(session, cipher, organization_id=org, direction=direction, status=status,
                                     updated_since=updated_since, after_change=after, limit=limit)
    items, next_cursor = build_page(rows, limit, lambda r: [r["change_seq"]])
    for referral in items:
        await _audit(session, principal, "referral.list", referral, fields=("snapshot",))
    if items:
        poll = encode_cursor([items[-1]["change_seq"]])
    else:
        poll = cursor or encode_cursor([await repo.latest_change_number(session)])
    return ReferralListPage(items, next_cursor, poll)
