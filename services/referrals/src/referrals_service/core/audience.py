"""What of a referral each audience may see: offence data only with `offences:read`, as cases shows it (the
views of a referral's decisions and history are in `referrals/service.py`, the events' here).

Prosecutor decisions about an adult (prosecute, no further action, an investigation or a trafficking
referral concerning the adult) are offence data: cases hides them, with their timeline events, from callers
without `offences:read`, and keeps legal bases and notes for no one else. The same rule applies here to every
way a referral leaves the service: the detail (decisions and history), a decision just recorded, and the
events delivered to webhook subscribers (decision 0105). The polling feed and the snapshot carry no offence
data at all.
"""

from __future__ import annotations

from collections.abc import Collection, Mapping
from typing import Any

from himaya.auth import Principal
from himaya.scopes import Scope
from referrals_service.core.enums import Concerns, EventType

# Fields of a decision, and of a `referral.decision_recorded` event's data, that are offence data for any
# decision; the decision's own identity (type, whom, when) is offence data when it concerns an adult.
OFFENCE_TEXT_FIELDS = ("legal_basis", "notes")
ADULT_DECISION_EVENT_FIELDS = ("decision_id", "type", "concerns", "adult_id", "decided_at", "legal_basis")


def may_see_offences(principal: Principal) -> bool:
    """Offence-related data: police and prosecution (and clients granted the scope)."""
    return principal.has_scope(Scope.OFFENCES_READ)


def scopes_may_see_offences(scopes: Collection[str]) -> bool:
    """The same rule for scopes captured earlier (a webhook subscription's owner)."""
    return str(Scope.OFFENCES_READ) in scopes


def event_view(event: Mapping[str, Any], *, offences: bool) -> dict[str, Any]:
    """An event as a subscriber sees it: without the offence fields of a decision it may not read.

    The step itself (the referral became `decided`) stays, as in the polling feed; a decision about an adult
    keeps nothing of the decision, one about the child loses its legal basis.
    """
    if offences or event.get("type") != EventType.DECISION_RECORDED:
        return dict(event)
    data = dict(event.get("data") or {})
    about_adult = data.get("concerns") != Concerns.CHILD
    for field in ADULT_DECISION_EVENT_FIELDS if about_adult else OFFENCE_TEXT_FIELDS:
        data.pop(field, None)
    return {**event, "data": data}
