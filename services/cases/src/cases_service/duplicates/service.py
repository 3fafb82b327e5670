"""Duplicate children: candidates scored by name, age window, sex and accompanying adult; review and merge.

Holders of `children:dedup` (police, CAPE case managers, team coordinators) search every territory, since a
child seen again is usually seen in another city; for children in cases they may not see they get a minimal
view without names (`RemoteCandidate`). Everyone else searches only the cases they may see. A review
decides `same` (the newer record is merged into the older, its cases move, repeat links are set) or
`not_same` (recorded; the pair is never proposed again). Decision 0070.
"""

from __future__ import annotations

import dataclasses
import functools
import itertools
import uuid
from collections.abc import Awaitable, Mapping, Sequence
from dataclasses import dataclass
from datetime import date, datetime, timedelta
from typing import Any, TypeVar

from sqlalchemy.engine import RowMapping
from sqlalchemy.exc import IntegrityError

from cases_service.core import repository as core_repo
from cases_service.core.access import require
from cases_service.core.context import DAYS_PER_YEAR, Context, age_years, new_id, time_cursor
from cases_service.core.enums import CASE_MANAGER_ROLES, TERMINAL_STATUSES
from cases_service.duplicates import repository as repo
from cases_service.duplicates.records import (
    Candidate,
    CandidateView,
    CaseRef,
    Duplicates,
    Evidence,
    FullCandidate,
    MergeRequest,
    RemoteCandidate,
    RequestSide,
    Review,
    Subject,
    Unmerged,
)
from cases_service.duplicates.schemas import (
    DuplicateReviewCreate,
    MergeRequestDecision,
    UnmergeCreate,
)
from himaya import clock
from himaya.audit import AuditEntry
from himaya.auth import NATIONAL
from himaya.crypto import SAME_NAME_SCORE, STORED_EXTRA_WEIGHT, UNRELATED_SCORE, BlindIndex
from himaya.errors import Conflict, Forbidden, InvalidInput, NotFound
from himaya.pagination import build_page
from himaya.scopes import Scope

T = TypeVar("T")
AGE_WINDOW_YEARS = 3.0
MAX_CANDIDATES = 10
# Rows the SQL ranks by name score and returns; age and a shared adult then re-rank them (at most 0.3 of 1).
CANDIDATE_ROWS = 200
# The rows the last tier (any shared sound bigram) may score. At a million cases it selected most children:
# 2.4 s per intake without a bound (decision 0090).
FALLBACK_SCAN_ROWS = 2000
SCORE_TOLERANCE = 1e-9  # the SQL's float score against Python's: Python's exact filter decides (`_name_score`)
# The overall score ranks candidates; proposing needs a name score of at least UNRELATED_SCORE, the same sex
# and an age within the window (himaya.crypto's thresholds; docs/privacy.md).
NAME_WEIGHT, AGE_WEIGHT, ADULT_WEIGHT = 0.7, 0.2, 0.1
AGE_BANDS = ((1, "under_1"), (6, "1_5"), (14, "6_13"), (18, "14_17"))  # as referrals' snapshot (decision 0051)
REMOTE_FIELDS = ("child.sex", "child.age_band", "case.case_number", "case.prefecture_code")
FULL_FIELDS = (*REMOTE_FIELDS, "child.names", "child.age")


def age_band(age: float | None) -> str:
    """The Marrakech-scheme band of an age (the finest published one), or `unknown`."""
    if age is None:
        return "unknown"
    for upper, label in AGE_BANDS:
        if age < upper:
            return label
    return "18_plus"


def overall_score(*, name_score: float, age_difference_years: float, shared_adult: bool) -> float:
    """Rank of a candidate: mostly the name, then how close the ages are, then a shared adult."""
    closeness = max(0.0, 1.0 - age_difference_years / AGE_WINDOW_YEARS)
    return round(min(1.0, NAME_WEIGHT * name_score + AGE_WEIGHT * closeness + ADULT_WEIGHT * shared_adult), 3)


def may_search_nationally(ctx: Context) -> bool:
    """Duplicate search crosses territories for holders of children:dedup (with a minimal view)."""
    return ctx.principal.has_scope(Scope.CHILDREN_DEDUP)


@dataclass(frozen=True)
class Match:
    """A proposed child with its evidence; `row` holds its names and cases once `find_matches` returns it."""

    row: RowMapping
    name_score: float
    age_difference_years: float
    shared_adult: bool
    score: float

    @property
    def cases(self) -> list[dict[str, Any]]:
        """Every case of the candidate (JSON from the repository), oldest first."""
        return list(self.row["cases"] or [])

    @property
    def child_id(self) -> uuid.UUID:
        """The child the matched record now counts for (the survivor after a merge, decision 0100)."""
        return uuid.UUID(str(self.row.get("survivor_id") or self.row["id"]))

    @property
    def visible_case_ids(self) -> list[uuid.UUID]:
        """The candidate's cases the caller may see."""
        return [uuid.UUID(c["id"]) for c in self.cases if c["visible"]]


AdultKey = tuple[bytes | None, list[str]]


def _shared_adult(mine: Sequence[AdultKey], theirs: Sequence[AdultKey]) -> bool:
    for cnie_a, tokens_a in mine:
        for cnie_b, tokens_b in theirs:
            if cnie_a is not None and cnie_b is not None and bytes(cnie_a) == bytes(cnie_b):
                return True
            if tokens_a and tokens_b and max(BlindIndex.score(tokens_a, tokens_b),
                                             BlindIndex.score(tokens_b, tokens_a)) >= SAME_NAME_SCORE:
                return True
    return False


async def _adults_by_child(ctx: Context, child_ids: Sequence[uuid.UUID]) -> dict[uuid.UUID, list[AdultKey]]:
    out: dict[uuid.UUID, list[AdultKey]] = {}
    for r in await repo.adult_keys(ctx.session, child_ids):
        out.setdefault(r["child_id"], []).append((r["cnie_index"], list(r["name_tokens"] or [])))
    return out


async def find_matches(ctx: Context, *, tokens: list[str], symmetric: bool, subject_id: uuid.UUID | None,
                       exclude: Sequence[uuid.UUID], sex: str | None, reference_birth_date: date | None,
                       subject_adults: Sequence[AdultKey] = (), key_tokens: Sequence[str] = ()) -> list[Match]:
    """The best candidates for a name (a record's tokens, `symmetric`, or a search query's), best first.

    With the name's phonetic-key tokens (`key_tokens`), candidates are first those sharing every key (the
    GIN index intersects the lists: a few hundred rows at a million children even for "Mohamed Alaoui", whose
    keys each select tens of thousands), then those sharing any key, and every token only when the keys find
    fewer than MAX_CANDIDATES matches. A tier is searched only when the one before found fewer than
    MAX_CANDIDATES, so a record misspelt in every word (no key shared) is found for rarer names but not behind
    ten key-sharing matches. The last tier selects the children sharing any sound bigram, which at a national
    scale is most of them: it scores at most FALLBACK_SCAN_ROWS of them and keeps what the keys found, so a
    record misspelt in every word is found only while few children share its bigrams (decision 0090).
    """
    if not tokens:
        return []
    keys = sorted(set(key_tokens) & set(tokens))
    search = functools.partial(_matches, ctx, tokens=tokens, symmetric=symmetric, subject_id=subject_id,
                               exclude=exclude, sex=sex, reference_birth_date=reference_birth_date,
                               subject_adults=subject_adults)
    tiers: list[dict[str, Any]] = ([{"select_by": keys, "select_all": keys}] if len(keys) > 1 else []) + (
        [{"select_by": keys}] if keys else [])
    found: list[Match] = []
    for tier in tiers:
        found = await search(**tier)
        if len(found) >= MAX_CANDIDATES:
            return await _with_details(ctx, _best(found))
    fallback = await search(select_by=None, scan_limit=FALLBACK_SCAN_ROWS)
    return await _with_details(ctx, _best(list({m.row["id"]: m for m in [*fallback, *found]}.values())))


def _best(matches: list[Match]) -> list[Match]:
    matches.sort(key=lambda m: (-m.score, str(m.row["id"])))
    return matches[:MAX_CANDIDATES]


async def _with_details(ctx: Context, matches: list[Match]) -> list[Match]:
    """The matches with their names and cases, read for these few only (the tiers rank up to CANDIDATE_ROWS
    rows each: reading and decoding every one's names and cases was a third of an intake's search)."""
    details = {r["id"]: r for r in await repo.child_details(ctx.session, [m.row["id"] for m in matches],
                                                           ctx.visibility)}
    found = [dataclasses.replace(m, row=details[m.row["id"]]) for m in matches if m.row["id"] in details]
    # Records merged into one child are one candidate: the best record the caller sees through its own cases,
    # else the best one (shown minimally); never a name of a record seen only through another's case.
    chosen: dict[uuid.UUID, Match] = {}
    for m in found:
        current = chosen.get(m.child_id)
        if current is None or (not current.visible_case_ids and m.visible_case_ids):
            chosen[m.child_id] = m
    return [m for m in found if chosen[m.child_id] is m]


def _name_score(shared: int, stored: int, n_query: int, *, symmetric: bool) -> float:
    """`BlindIndex.score` (both ways when `symmetric`) from the counts the SQL returns: exact, since stored
    tokens are a set (`BlindIndex.name_tokens`, merges)."""
    score = BlindIndex.score_counts(shared=shared, query=n_query, stored=stored)
    if symmetric:
        score = max(score, BlindIndex.score_counts(shared=shared, query=stored, stored=n_query))
    return score


async def _matches(ctx: Context, *, tokens: list[str], select_by: list[str] | None, symmetric: bool,
                   subject_id: uuid.UUID | None, exclude: Sequence[uuid.UUID], sex: str | None,
                   reference_birth_date: date | None, subject_adults: Sequence[AdultKey],
                   select_all: list[str] | None = None, scan_limit: int | None = None) -> list[Match]:
    window = timedelta(days=round(AGE_WINDOW_YEARS * DAYS_PER_YEAR))
    rows = await repo.candidate_children(
        ctx.session, tokens=tokens, select_by=select_by, min_score=UNRELATED_SCORE - SCORE_TOLERANCE,
        symmetric=symmetric, extra_weight=STORED_EXTRA_WEIGHT, v=ctx.visibility,
        national=may_search_nationally(ctx), subject_id=subject_id, exclude=exclude, sex=sex,
        born_from=reference_birth_date - window if reference_birth_date else None,
        born_to=reference_birth_date + window if reference_birth_date else None, select_all=select_all,
        scan_limit=scan_limit, limit=CANDIDATE_ROWS)
    scored = []
    n_query = len(set(tokens))
    for row in rows:
        name = _name_score(row["shared"], row["stored"], n_query, symmetric=symmetric)
        if name < UNRELATED_SCORE:
            continue
        diff = (abs((row["reference_birth_date"] - reference_birth_date).days) / DAYS_PER_YEAR
                if reference_birth_date else 0.0)
        scored.append((row, name, diff))
    adults: dict[uuid.UUID, list[AdultKey]] = {}
    if subject_adults and scored:
        # A shared adult adds at most ADULT_WEIGHT: a row whose score with one stays below the MAX_CANDIDATES-th
        # best score without one has ten better rows whatever the adults, and _best drops it. Only the others
        # are returned and have their adults looked up (the query and the comparisons were most of the
        # search's cost at intake, for the 200 rows the SQL ranks).
        without = sorted((overall_score(name_score=n, age_difference_years=d, shared_adult=False)
                          for _, n, d in scored), reverse=True)
        floor = without[MAX_CANDIDATES - 1] if len(without) >= MAX_CANDIDATES else 0.0
        scored = [(r, n, d) for r, n, d in scored
                  if overall_score(name_score=n, age_difference_years=d, shared_adult=True) >= floor]
        adults = await _adults_by_child(ctx, [r["id"] for r, _, _ in scored])
    out = []
    for row, name, diff in scored:
        shared = _shared_adult(subject_adults, adults.get(row["id"], []))
        out.append(Match(row=row, name_score=round(name, 3), age_difference_years=round(diff, 1),
                         shared_adult=shared, score=overall_score(name_score=name, age_difference_years=diff,
                                                                  shared_adult=shared)))
    return out


def _case_refs(cases: Sequence[Mapping[str, Any]]) -> list[CaseRef]:
    return [CaseRef(case_number=c["case_number"], prefecture_code=c["prefecture_code"],
                          opened_month=datetime.fromisoformat(c["opened_at"]).strftime("%Y-%m")) for c in cases]


def _names(ctx: Context, row: Mapping[Any, Any]) -> dict[str, str | None]:
    return repo.names_of(ctx.protector, row)


def candidate_view(ctx: Context, match: Match, today: date) -> CandidateView:
    """The candidate as this caller may see it: full where it sees one of its cases, minimal otherwise."""
    row = match.row
    age = age_years(row["reference_birth_date"], today)
    evidence = Evidence(name_score=match.name_score, age_difference_years=match.age_difference_years,
                             same_sex=True, shared_adult=match.shared_adult)
    common: dict[str, Any] = {"child_id": match.child_id, "score": match.score, "evidence": evidence, "sex": row["sex"],
                              "age_band": age_band(age), "cases": _case_refs(match.cases)}
    if match.visible_case_ids:
        return FullCandidate(**common, age_years=age, names=_names(ctx, row), case_ids=match.visible_case_ids)
    return RemoteCandidate(**common)


def audit_entries(action: str, views: Sequence[CandidateView], matches: Sequence[Match]) -> list[AuditEntry]:
    """One event per case of each shown candidate, so "who saw this child" finds the reader by case too."""
    entries = []
    for view, match in zip(views, matches, strict=True):
        fields = FULL_FIELDS if isinstance(view, FullCandidate) else REMOTE_FIELDS
        for case in match.cases or [{"id": None}]:
            entries.append(AuditEntry(action=action, object_type="child", object_id=str(view.child_id),
                                      case_id=uuid.UUID(case["id"]) if case["id"] else None, fields=fields))
    return entries


# ---- at intake and on demand ---------------------------------------------------------------------------

async def propose_at_intake(ctx: Context, *,
                            children: Sequence[tuple[uuid.UUID, list[str], list[str], str, date]],
                            adults: Sequence[AdultKey], exclude: Sequence[uuid.UUID],
                            ) -> tuple[dict[uuid.UUID, list[Candidate]], list[AuditEntry]]:
    """Candidates for each new child of an intake (id, name tokens, key tokens, sex, reference birth date), and
    the audit entries of what they show, which the caller records with its own (one audit write per intake).

    The intake's adults (CNIE index, name tokens) count as evidence: a new child has no other case, so they are
    all the adults it was met with; they are passed in, as the intake's cases are not written yet.
    """
    out: dict[uuid.UUID, list[Candidate]] = {}
    entries: list[AuditEntry] = []
    today = clock.now().date()
    for child_id, tokens, keys, sex, ref in children:
        matches = await find_matches(ctx, tokens=tokens, symmetric=True, subject_id=child_id, exclude=exclude,
                                     sex=sex, reference_birth_date=ref, subject_adults=adults, key_tokens=keys)
        out[child_id] = [Candidate(child_id=m.child_id, score=m.score, case_ids=m.visible_case_ids)
                         for m in matches]
        entries += audit_entries("child.duplicates.proposed", [candidate_view(ctx, m, today) for m in matches],
                                 matches)
    return out, entries


async def search_children(ctx: Context, *, q: str, sex: str | None, age: float | None) -> list[CandidateView]:
    """Children whose names match `q` (any script, small misspellings), across the territories the caller may
    search; audited per case shown."""
    require(ctx.principal, Scope.CASES_READ)
    tokens = ctx.protector.query_tokens(q)
    today = clock.now().date()
    ref = today - timedelta(days=round(age * DAYS_PER_YEAR)) if age is not None else None
    matches = await find_matches(ctx, tokens=tokens, symmetric=False, subject_id=None, exclude=(), sex=sex,
                                 reference_birth_date=ref, key_tokens=ctx.protector.query_key_tokens(q))
    views = [candidate_view(ctx, m, today) for m in matches]
    entries = audit_entries("child.search", views, matches)
    await ctx.audit(entries or [AuditEntry(action="child.search", object_type="child", fields=["child.names"])])
    return views


async def list_duplicates(ctx: Context, *, child_id: uuid.UUID) -> Duplicates:
    """The child side by side with its candidates (children:dedup; 404 for a child the caller may not see)."""
    require(ctx.principal, Scope.CHILDREN_DEDUP)
    subject = await repo.child_for_review(ctx.session, child_id, ctx.visibility)
    if subject is None:
        raise NotFound("No child with this id.")
    matches = await _matches_for(ctx, subject)
    today = clock.now().date()
    views = [candidate_view(ctx, m, today) for m in matches]
    age = age_years(subject["reference_birth_date"], today)
    visible = [uuid.UUID(c["id"]) for c in subject["cases"] if c["visible"]]
    await ctx.audit([
        *(AuditEntry(action="child.duplicates.read", object_type="child", object_id=str(child_id), case_id=cid,
                     fields=FULL_FIELDS) for cid in visible),
        *audit_entries("child.duplicates.read", views, matches)])
    return Duplicates(
        child=Subject(child_id=child_id, sex=subject["sex"], age_years=age, age_band=age_band(age),
                               names=_names(ctx, {**subject, "id": subject["record_id"]}), case_ids=visible,
                               cases=_case_refs(subject["cases"])),
        candidates=views)


async def _matches_for(ctx: Context, subject: RowMapping) -> list[Match]:
    """Candidates for a child, searched with the record the caller knows it by (`child_for_review`)."""
    adults = await _adults_by_child(ctx, [subject["record_id"]])
    return await find_matches(ctx, tokens=list(subject["name_tokens"]), symmetric=True, subject_id=subject["id"],
                              exclude=[subject["id"]], sex=subject["sex"],
                              reference_birth_date=subject["reference_birth_date"],
                              subject_adults=adults.get(subject["record_id"], []))


# ---- review --------------------------------------------------------------------------------------------

async def review_duplicate(ctx: Context, *, child_id: uuid.UUID, data: DuplicateReviewCreate) -> Review:
    """Record `not_same` (never proposed again) or `same`: the newer record is merged into the older when the
    reviewer sees both children; for a child it may not see, a merge request to that child's territory
    (decision 0100)."""
    require(ctx.principal, Scope.CHILDREN_DEDUP)
    other_id = data.other_child_id
    if other_id == child_id:
        raise InvalidInput("other_child_id must name another child.")
    subject = await repo.child_for_review(ctx.session, child_id, ctx.visibility)
    if subject is None:
        raise NotFound("No child with this id.")
    low, high = sorted((child_id, other_id))
    if await repo.review_of_pair(ctx.session, low, high) is not None:
        raise Conflict("This pair of children was already reviewed.")
    # The other child must be one the caller may see or one proposed to it now: a reviewer cannot merge an
    # arbitrary record by id.
    other_visible = await repo.child_visible(ctx.session, other_id, ctx.visibility)
    if not other_visible:
        match = next((m for m in await _matches_for(ctx, subject) if m.child_id == other_id), None)
        if match is None:
            raise NotFound("No candidate child with this id.")
        if data.decision == "same":
            return await _request_merge(ctx, child_id=child_id, other_id=other_id, match=match, note=data.note)
    locked = await _lock_pair(ctx, low, high)
    review_id = new_id()
    values: dict[str, Any] = {
        "id": review_id, "child_low_id": low, "child_high_id": high, "decision": data.decision,
        "name_score": _pair_score(locked, low, high), "reviewed_by": ctx.principal.actor,
        "reviewer_organization_id": ctx.principal.organization_id}
    case_rows = await repo.cases_of_children(ctx.session, [low, high], ctx.visibility)
    merge = None
    if data.decision == "same":
        merge = await _merge(ctx, locked=locked, case_rows=case_rows, review_id=review_id)
        values.update(survivor_child_id=merge.survivor, merged_child_id=merge.merged,
                      repeat_links={str(k): str(v) for k, v in merge.links.items()})
    row = await _once(repo.insert_review(ctx.session, ctx.protector, values, note=data.note))
    await ctx.audit(_merge_audit(f"child.duplicate_review.{data.decision}", case_rows, merge,
                                 ["duplicate_review"] + (["duplicate_review.note"] if data.note else [])))
    # Case ids only of cases the reviewer may read (one of the children may have cases elsewhere too).
    seen = {c["id"] for c in case_rows if c["visible"]}
    return Review(
        id=review_id, outcome="merged" if merge else "recorded", merge_request_id=None, child_id=child_id,
        other_child_id=other_id, decision=data.decision, survivor_child_id=row["survivor_child_id"],
        merged_child_id=row["merged_child_id"], moved_case_ids=[c for c in merge.moved if c in seen] if merge else [],
        repeat_links={str(k): v for k, v in merge.links.items() if k in seen and v in seen} if merge else {},
        note=data.note, reviewed_by=row["reviewed_by"], reviewed_at=row["reviewed_at"])


@dataclass(frozen=True)
class Merge:
    """What a merge did: the surviving and merged records, the cases moved, the repeat links set."""

    survivor: uuid.UUID
    merged: uuid.UUID
    moved: list[uuid.UUID]
    links: dict[uuid.UUID, uuid.UUID]


async def _lock_pair(ctx: Context, low: uuid.UUID, high: uuid.UUID) -> dict[uuid.UUID, RowMapping]:
    locked = {r["id"]: r for r in await repo.lock_children(ctx.session, [low, high])}
    if len(locked) != 2 or any(r["merged_into_id"] is not None for r in locked.values()):
        raise Conflict("One of the children was merged into another record meanwhile.")
    return locked


def _pair_score(locked: Mapping[uuid.UUID, RowMapping], low: uuid.UUID, high: uuid.UUID) -> float:
    a, b = list(locked[low]["name_tokens"]), list(locked[high]["name_tokens"])
    return round(max(BlindIndex.score(a, b), BlindIndex.score(b, a)), 3)


def _open_cases_conflict(case_rows: Sequence[RowMapping]) -> None:
    """409 when both children have an open case, naming the caller's own cases by id and the others only by
    case number and prefecture (the minimal view)."""
    open_cases = [c for c in case_rows if c["status"] not in TERMINAL_STATUSES]
    if len(open_cases) > 1:
        raise Conflict("Both children have an open case; close or transfer one before merging them.", extra={
            "open_case_ids": [str(c["id"]) for c in open_cases if c["visible"]],
            "open_cases": [{"case_number": c["case_number"], "prefecture_code": c["prefecture_code"]}
                           for c in open_cases]})


async def _merge(ctx: Context, *, locked: Mapping[uuid.UUID, RowMapping], case_rows: Sequence[RowMapping],
                 review_id: uuid.UUID) -> Merge:
    """Merge the newer record into the older: its cases move (each keeps the record it was opened with, so
    what each case shows is unchanged), repeats are linked in the merged chronology, every case gets a
    `child.merged` event."""
    # The older record survives: the one first met (its earliest case), then the one created first.
    first_met: dict[uuid.UUID, datetime] = {}
    for c in case_rows:
        first_met.setdefault(c["child_id"], c["opened_at"])
    survivor, merged = sorted(locked.values(), key=lambda r: (first_met.get(r["id"], r["created_at"]),
                                                              r["created_at"], str(r["id"])))
    _open_cases_conflict(case_rows)
    links = _repeat_links(case_rows)
    moved = [c["id"] for c in case_rows if c["child_id"] == merged["id"]]
    await repo.merge_child(ctx.session, survivor=survivor["id"], merged=merged["id"], repeat_links=links)
    event_data = {"review_id": str(review_id), "survivor_child_id": str(survivor["id"]),
                  "merged_child_id": str(merged["id"])}
    # Ids of children only: a case id of the other territory would name a case its readers may not see.
    await core_repo.add_events(ctx.session, [
        {"case_id": c["id"], "actor": ctx.principal.actor, "actor_organization_id": ctx.principal.organization_id,
         "event_type": "child.merged", "data": {**event_data, "repeat_linked": c["id"] in links}}
        for c in case_rows])
    return Merge(survivor=survivor["id"], merged=merged["id"], moved=moved, links=links)


def _merge_audit(action: str, case_rows: Sequence[RowMapping], merge: Merge | None,
                 fields: list[str]) -> list[AuditEntry]:
    """One audit event per case of both children (each side's auditor sees what the other did)."""
    moved = set(merge.moved) if merge else set()
    links = merge.links if merge else {}
    return [AuditEntry(action=action, object_type="child", object_id=str(c["child_id"]), case_id=c["id"],
                       fields=fields + (["case.child_id"] if c["id"] in moved else [])
                       + (["case.repeat_of_case_id"] if c["id"] in links else []))
            for c in case_rows]


async def _once(insert: Awaitable[T]) -> T:
    """An insert guarded by a uniqueness rule (one review, one pending request per pair): a concurrent writer
    that got there first is a 409, not a 500 (the request's transaction is rolled back)."""
    try:
        return await insert
    except IntegrityError as exc:
        raise Conflict("This pair of children was reviewed or asked about meanwhile.") from exc


def _repeat_links(case_rows: Sequence[RowMapping]) -> dict[uuid.UUID, uuid.UUID]:
    """In the merged chronology, a case that is neither the first nor a transfer continues the one before it."""
    links: dict[uuid.UUID, uuid.UUID] = {}
    for previous, case in itertools.pairwise(case_rows):
        if case["repeat_of_case_id"] is None and case["transferred_from_case_id"] is None:
            links[case["id"]] = previous["id"]
    return links


# ---- merge requests (decision 0100) --------------------------------------------------------------------

REQUEST_FIELDS = ("merge_request", "merge_request.note", "merge_request.reason", *REMOTE_FIELDS)


def may_decide_merges(ctx: Context) -> bool:
    """Accepting, refusing and undoing merges: CAPE case managers and team coordinators holding children:dedup."""
    return ctx.principal.has_scope(Scope.CHILDREN_DEDUP) and ctx.principal.role in CASE_MANAGER_ROLES


async def _request_merge(ctx: Context, *, child_id: uuid.UUID, other_id: uuid.UUID, match: Match,
                         note: str | None) -> Review:
    """Record "same" about a child the caller may not see as a request to that child's territory; nothing of
    the other record is shown beyond the minimal view the reviewer already had."""
    if await repo.pending_request_of_pair(ctx.session, child_id, other_id) is not None:
        raise Conflict("A merge request for these two children is already pending.")
    case_rows = await repo.cases_of_children(ctx.session, [child_id, other_id], ctx.visibility)
    _open_cases_conflict(case_rows)
    request_id = new_id()
    row = await _once(repo.insert_request(ctx.session, ctx.protector, note=note, values={
        "id": request_id, "child_id": child_id, "other_child_id": other_id,
        "target_prefecture_codes": await repo.prefectures_of_child(ctx.session, other_id),
        "name_score": match.name_score, "requested_by": ctx.principal.actor,
        "requester_organization_id": ctx.principal.organization_id}))
    await core_repo.add_events(ctx.session, [
        {"case_id": c["id"], "actor": ctx.principal.actor, "actor_organization_id": ctx.principal.organization_id,
         "event_type": "child.merge_requested",
         "data": {"merge_request_id": str(request_id), "child_id": str(child_id), "other_child_id": str(other_id)}}
        for c in case_rows])
    await ctx.audit(_merge_audit("child.merge_request.create", case_rows, None,
                                 ["merge_request"] + (["merge_request.note"] if note else [])))
    return Review(
        id=request_id, outcome="merge_requested", merge_request_id=request_id, child_id=child_id,
        other_child_id=other_id, decision="same", survivor_child_id=None, merged_child_id=None, moved_case_ids=[],
        repeat_links={}, note=note, reviewed_by=row["requested_by"], reviewed_at=row["requested_at"])


async def _request_views(ctx: Context, rows: Sequence[RowMapping],
                         action: str = "child.merge_request.read") -> tuple[list[MergeRequest], list[AuditEntry]]:
    """The requests as both sides see them, and one audit entry per case of each child shown (so each
    territory's auditor sees who was shown its child)."""
    records = {r["child_id"] for r in rows} | {r["other_child_id"] for r in rows}
    sides = {s["id"]: s for s in await repo.record_sides(ctx.session, list(records), ctx.visibility)}
    reviews = {}
    for r in rows:
        if r["review_id"] is not None:
            review = await repo.review_by_id(ctx.session, r["review_id"])
            if review is not None:
                reviews[r["id"]] = review
    today = clock.now().date()

    def side(record_id: uuid.UUID) -> RequestSide:
        s = sides[record_id]
        return RequestSide(child_id=record_id, sex=s["sex"],
                                age_band=age_band(age_years(s["reference_birth_date"], today)),
                                cases=_case_refs(s["cases"]))

    out = []
    for r in rows:
        opened = repo.request_texts(ctx.protector, r)
        review = reviews.get(r["id"])
        out.append(MergeRequest(
            id=r["id"], status=r["status"], child=side(r["child_id"]), other_child=side(r["other_child_id"]),
            target_prefecture_codes=list(r["target_prefecture_codes"]),
            name_score=float(r["name_score"]) if r["name_score"] is not None else None, note=opened["note"],
            requested_by=r["requested_by"], requested_at=r["requested_at"], decided_by=r["decided_by"],
            decided_at=r["decided_at"], reason=opened["reason"], review_id=r["review_id"],
            survivor_child_id=review["survivor_child_id"] if review else None,
            merged_child_id=review["merged_child_id"] if review else None))
    entries = [AuditEntry(action=action, object_type="merge_request", object_id=str(r["id"]),
                          case_id=uuid.UUID(c["id"]), fields=list(REQUEST_FIELDS))
               for r in rows for record in (r["child_id"], r["other_child_id"]) for c in sides[record]["cases"]]
    return out, entries


async def list_merge_requests(ctx: Context, *, status: str | None, limit: int,
                              cursor: str | None) -> tuple[list[MergeRequest], str | None]:
    """The merge requests the caller made and, for case managers and team coordinators, those addressed to a
    prefecture of their territories; newest first. Both children are shown minimally."""
    require(ctx.principal, Scope.CHILDREN_DEDUP)
    after = time_cursor(cursor)
    rows = await repo.list_requests(ctx.session, actor=ctx.principal.actor, territories=ctx.principal.territories,
                                   may_decide=may_decide_merges(ctx), status=status, after=after, limit=limit)
    items, next_cursor = build_page(rows, limit, lambda r: [r["requested_at"].isoformat(), str(r["id"])])
    views, entries = await _request_views(ctx, items, "child.merge_request.list")
    await ctx.audit(entries or [AuditEntry(action="child.merge_request.list", object_type="merge_request",
                                           fields=[])])
    return views, next_cursor



async def decide_merge_request(ctx: Context, *, request_id: uuid.UUID,
                               data: MergeRequestDecision) -> MergeRequest:
    """Accept (the records are merged) or refuse a merge request addressed to the caller's territory: a case
    manager or team coordinator who sees a case of the requested child (404 otherwise)."""
    require(ctx.principal, Scope.CHILDREN_DEDUP)
    if not may_decide_merges(ctx):
        raise Forbidden("Only case managers and team coordinators decide merge requests.")
    request = await repo.request_for_update(ctx.session, request_id)
    if (request is None or not any(_inside(ctx, code) for code in request["target_prefecture_codes"])
            or not await repo.child_visible(ctx.session, request["other_child_id"], ctx.visibility)):
        raise NotFound("No merge request with this id.")
    if request["status"] != "pending":
        raise Conflict("This merge request was already decided.")
    child_id, other_id = request["child_id"], request["other_child_id"]
    values: dict[str, Any] = {"status": "accepted" if data.decision == "accept" else "refused",
                              "decided_by": ctx.principal.actor,
                              "decider_organization_id": ctx.principal.organization_id}
    case_rows = await repo.cases_of_children(ctx.session, [child_id, other_id], ctx.visibility)
    merge = None
    if data.decision == "accept":
        low, high = sorted((child_id, other_id))
        if await repo.review_of_pair(ctx.session, low, high) is not None:
            raise Conflict("This pair of children was already reviewed.")
        locked = await _lock_pair(ctx, low, high)
        review_id = new_id()
        merge = await _merge(ctx, locked=locked, case_rows=case_rows, review_id=review_id)
        await _once(repo.insert_review(ctx.session, ctx.protector, {
            "id": review_id, "child_low_id": low, "child_high_id": high, "decision": "same",
            "name_score": _pair_score(locked, low, high), "reviewed_by": ctx.principal.actor,
            "reviewer_organization_id": ctx.principal.organization_id, "merge_request_id": request_id,
            "survivor_child_id": merge.survivor, "merged_child_id": merge.merged,
            "repeat_links": {str(k): str(v) for k, v in merge.links.items()}}))
        values["review_id"] = review_id
    else:
        await core_repo.add_events(ctx.session, [
            {"case_id": c["id"], "actor": ctx.principal.actor, "actor_organization_id": ctx.principal.organization_id,
             "event_type": "child.merge_refused", "data": {"merge_request_id": str(request_id)}}
            for c in case_rows])
    await repo.decide_request(ctx.session, ctx.protector, request_id, values, reason=data.reason)
    await ctx.audit(_merge_audit(f"child.merge_request.{values['status']}", case_rows, merge,
                                 ["merge_request"] + (["merge_request.reason"] if data.reason else [])))
    decided = await repo.request_for_update(ctx.session, request_id)
    assert decided is not None
    (view,), _ = await _request_views(ctx, [decided])  # what it shows is in the decision's audit entries
    return view


def _inside(ctx: Context, prefecture_code: str) -> bool:
    """Whether a prefecture lies inside one of the caller's territories (the country, its region or itself)."""
    return any(t == NATIONAL or prefecture_code == t or prefecture_code.startswith(t + ".")
               for t in ctx.principal.territories)


# ---- unmerge (decision 0100) ---------------------------------------------------------------------------

async def unmerge(ctx: Context, *, review_id: uuid.UUID, data: UnmergeCreate) -> Unmerged:
    """Undo a merge: the merged record is a child of its own again with the cases opened with it (and with the
    records merged into it), repeat links crossing the two children are set again within each, and both sides'
    cases get a `child.unmerged` event. A case manager or team coordinator who sees a case of the merged child
    (404 otherwise); the last merge of a survivor first (409 when the survivor was merged since)."""
    require(ctx.principal, Scope.CHILDREN_DEDUP)
    if not may_decide_merges(ctx):
        raise Forbidden("Only case managers and team coordinators undo merges.")
    review = await repo.review_for_update(ctx.session, review_id)
    if review is None or review["decision"] != "same" or review["survivor_child_id"] is None:
        raise NotFound("No merge with this id.")
    survivor, merged = review["survivor_child_id"], review["merged_child_id"]
    if not await repo.child_visible(ctx.session, survivor, ctx.visibility):
        raise NotFound("No merge with this id.")
    if review["unmerged_at"] is not None:
        raise Conflict("This merge was already undone.")
    locked = {r["id"]: r for r in await repo.lock_children(ctx.session, [survivor, merged])}
    if locked[survivor]["merged_into_id"] is not None or locked[merged]["merged_into_id"] != survivor:
        raise Conflict("The surviving record was merged again since; undo that merge first.")
    records = [merged, *await repo.merged_child_ids(ctx.session, merged)]
    moved = await repo.unmerge_child(ctx.session, survivor=survivor, merged=merged, records=records)
    case_rows = await repo.cases_of_children(ctx.session, [survivor, merged], ctx.visibility)
    relinks = _relinks_after_split(case_rows)
    await repo.set_repeat_links(ctx.session, relinks)
    row = await repo.mark_unmerged(ctx.session, ctx.protector, review_id, {
        "unmerged_by": ctx.principal.actor, "unmerger_organization_id": ctx.principal.organization_id},
        reason=data.reason)
    event_data = {"review_id": str(review_id), "survivor_child_id": str(survivor), "restored_child_id": str(merged)}
    await core_repo.add_events(ctx.session, [
        {"case_id": c["id"], "actor": ctx.principal.actor, "actor_organization_id": ctx.principal.organization_id,
         "event_type": "child.unmerged", "data": {**event_data, "repeat_relinked": c["id"] in relinks}}
        for c in case_rows])
    moved_set = set(moved)
    await ctx.audit([AuditEntry(action="child.unmerge", object_type="child", object_id=str(c["child_id"]),
                                case_id=c["id"], fields=["duplicate_review", "duplicate_review.unmerge_reason"]
                                + (["case.child_id"] if c["id"] in moved_set else [])
                                + (["case.repeat_of_case_id"] if c["id"] in relinks else []))
                     for c in case_rows])
    return Unmerged(review_id=review_id, survivor_child_id=survivor, restored_child_id=merged,
                       moved_case_ids=[c["id"] for c in case_rows if c["id"] in moved_set and c["visible"]],
                       unmerged_by=row["unmerged_by"], unmerged_at=row["unmerged_at"])


def _relinks_after_split(case_rows: Sequence[RowMapping]) -> dict[uuid.UUID, uuid.UUID | None]:
    """A case whose repeat link points at a case of the other child now continues the previous case of its own
    child (or none): the links a merge set, and any set across the two since, are undone."""
    child_of = {c["id"]: c["child_id"] for c in case_rows}
    previous: dict[uuid.UUID, uuid.UUID] = {}
    out: dict[uuid.UUID, uuid.UUID | None] = {}
    for c in case_rows:  # in the order they were opened
        target = c["repeat_of_case_id"]
        if target is not None and target in child_of and child_of[target] != c["child_id"]:
            out[c["id"]] = previous.get(c["child_id"])
        previous[c["child_id"]] = c["id"]
    return out


async def current_child_id(ctx: Context, *, child_id: uuid.UUID) -> uuid.UUID:
    """The child a record now counts for: itself, or the record it was merged into."""
    return await repo.survivor_of(ctx.session, child_id)


async def records_of_child(ctx: Context, *, child_id: uuid.UUID) -> list[uuid.UUID]:
    """Every record that counts for the child a record counts for: the survivor first, then those merged into it."""
    survivor = await repo.survivor_of(ctx.session, child_id)
    return [survivor, *await repo.merged_child_ids(ctx.session, survivor)]
