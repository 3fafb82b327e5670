"""SQL of duplicate-child detection and review: candidates by name tokens, adults' keys, reviews, merges."""

from __future__ import annotations

import uuid
from collections.abc import Mapping, Sequence
from datetime import date, datetime
from typing import Any

import sqlalchemy as sa
from sqlalchemy.dialects.postgresql import ARRAY, aggregate_order_by
from sqlalchemy.engine import RowMapping
from sqlalchemy.ext.asyncio import AsyncSession

from cases_service.core.access import Visibility
from cases_service.core.protection import NAME_FIELDS, Protector
from cases_service.core.repository import visible
from cases_service.core.tables import adults, case_adults, cases, child_merge_requests, children, duplicate_reviews
from himaya.auth import NATIONAL

NAME_COLUMNS = ("first_name_enc", "last_name_enc", "first_name_ar_enc", "last_name_ar_enc")


def _case_refs(v: Visibility, child_id: sa.ColumnElement[Any] | None = None, *,
               by: sa.ColumnElement[Any] = cases.c.recorded_child_id) -> sa.ScalarSelect[Any]:
    """Cases as JSON, each flagged with whether the caller may see it: those opened with the outer child record
    (`by` recorded_child_id, the default) or those now counted for a child (`by` child_id)."""
    outer = children.c.id if child_id is None else child_id
    ref = sa.func.json_build_object(
        "id", cases.c.id, "case_number", cases.c.case_number, "prefecture_code", cases.c.prefecture_code,
        "opened_at", cases.c.opened_at, "status", cases.c.status, "visible", visible(v))
    return (sa.select(sa.func.coalesce(sa.func.json_agg(aggregate_order_by(ref, cases.c.opened_at)),
                                       sa.text("'[]'::json")))
            .where(by == outer).scalar_subquery())


async def candidate_children(session: AsyncSession, *, tokens: list[str], select_by: list[str] | None,
                             min_score: float, symmetric: bool, extra_weight: float, v: Visibility,
                             national: bool, subject_id: uuid.UUID | None, exclude: Sequence[uuid.UUID],
                             sex: str | None, born_from: date | None, born_to: date | None,
                             select_all: list[str] | None = None, scan_limit: int | None = None,
                             limit: int = 200) -> Sequence[RowMapping]:
    """Child records (merged ones included: each keeps its own names, decision 0100) whose name score against
    `tokens` reaches `min_score`, best first: their id, `survivor_id` (the child they now count for), reference
    birth date, `shared` (distinct tokens in common; stored tokens are a set) and `stored` (their
    token count), from which the caller computes the exact score; `child_details` reads the few it shows.

    Candidates are those holding every token of `select_all` when given (the GIN index intersects the lists), else
    one of `select_by` (default: any of `tokens`; a few rare tokens keep the GIN lookup small), scored in SQL with
    `BlindIndex.score` (both ways when `symmetric`), filtered, ranked and limited before the visibility lookup.
    The candidates are MATERIALIZED: inlined, the CTE had its shared-token count evaluated again for each of its
    six uses (filter, score, order); materialised, an intake's query at 20k cases runs in about half the time.
    `national` searches every territory (the caller gets a minimal view of what it may not see); otherwise
    only records opened in a case the caller may see. Records of the `exclude` children and pairs already
    reviewed with `subject_id` are left out. With
    `scan_limit`, at most that many selected rows are scored (in no particular order): a bound on the cost of a
    selection that may hold most children.
    """
    query = sa.cast(tokens, ARRAY(sa.Text))
    n_query = len(set(tokens))
    shared = (sa.select(sa.func.count()).select_from(sa.func.unnest(children.c.name_tokens).alias("t"))
              .where(sa.literal_column("t").op("=")(sa.func.any(query))).correlate(children).scalar_subquery())
    selected = (children.c.name_tokens.contains(sa.cast(select_all, ARRAY(sa.Text))) if select_all else
                children.c.name_tokens.overlap(sa.cast(select_by if select_by is not None else tokens, ARRAY(sa.Text))))
    conditions: list[sa.ColumnElement[bool]] = [selected]
    if exclude:
        conditions.append(children.c.id.not_in(list(exclude)))
    if sex is not None:
        conditions.append(children.c.sex == sex)
    if born_from is not None:
        conditions.append(children.c.reference_birth_date >= born_from)
    if born_to is not None:
        conditions.append(children.c.reference_birth_date <= born_to)
    # Only what ranking needs: the names, tokens and cases of thousands of scored rows were copied into the
    # CTE, and those of the 200 ranked sent to the service, which shows ten.
    matched = (sa.select(children.c.id, children.c.reference_birth_date, shared.label("shared"),
                         sa.func.cardinality(children.c.name_tokens).label("stored"))
               .where(*conditions).limit(scan_limit).cte("matched").prefix_with("MATERIALIZED"))
    hits = sa.cast(matched.c.shared, sa.Float)
    score: sa.ColumnElement[Any] = hits / (n_query + extra_weight * (matched.c.stored - matched.c.shared))
    if symmetric:
        score = sa.func.greatest(score, hits / (matched.c.stored + extra_weight * (n_query - matched.c.shared)))
    # The child a record now counts for: the child of the cases opened with it (the survivor after a merge).
    survivor = (sa.select(cases.c.child_id).where(cases.c.recorded_child_id == matched.c.id).limit(1)
                .scalar_subquery())
    outer: list[sa.ColumnElement[bool]] = [matched.c.shared > 0, score >= min_score]
    if not national:
        outer.append(sa.exists().where(cases.c.recorded_child_id == matched.c.id, visible(v)))
    if exclude:
        outer.append(survivor.not_in(list(exclude)))
    if subject_id is not None:
        r = duplicate_reviews
        outer.append(~sa.exists().where(
            r.c.child_low_id == sa.func.least(survivor, subject_id),
            r.c.child_high_id == sa.func.greatest(survivor, subject_id)))
    stmt = (sa.select(matched, survivor.label("survivor_id")).where(*outer)
            .order_by(score.desc(), matched.c.id).limit(limit))
    return (await session.execute(stmt)).mappings().all()


async def child_details(session: AsyncSession, child_ids: Sequence[uuid.UUID], v: Visibility) -> Sequence[RowMapping]:
    """The sex, reference birth date, encrypted names, the cases opened with them (as JSON) and the child they
    now count for (`survivor_id`) of some candidate child records."""
    if not child_ids:
        return []
    survivor = (sa.select(cases.c.child_id).where(cases.c.recorded_child_id == children.c.id).limit(1)
                .scalar_subquery())
    stmt = (sa.select(children.c.id, children.c.sex, children.c.reference_birth_date,
                      *(children.c[c] for c in NAME_COLUMNS), _case_refs(v).label("cases"),
                      survivor.label("survivor_id"))
            .where(children.c.id.in_(list(child_ids))))
    return (await session.execute(stmt)).mappings().all()


async def child_for_review(session: AsyncSession, child_id: uuid.UUID, v: Visibility) -> RowMapping | None:
    """A child the caller may see through one of its cases: `id` the child, its identity (`record_id`, names,
    sex, birth date, tokens) from the oldest record opened in a case the caller sees (never a record of another
    territory merged with it, decision 0100), and every case now counted for it (as JSON)."""
    record = (sa.select(cases.c.recorded_child_id).where(cases.c.child_id == child_id, visible(v))
              .order_by(cases.c.opened_at, cases.c.id).limit(1).scalar_subquery())
    stmt = (sa.select(sa.literal(child_id, type_=children.c.id.type).label("id"), children.c.id.label("record_id"),
                      children.c.sex, children.c.reference_birth_date, children.c.name_tokens,
                      *(children.c[c] for c in NAME_COLUMNS),
                      _case_refs(v, sa.literal(child_id, type_=children.c.id.type), by=cases.c.child_id)
                      .label("cases"))
            .where(children.c.id == record))
    return (await session.execute(stmt)).mappings().one_or_none()


async def adult_keys(session: AsyncSession, child_ids: Sequence[uuid.UUID]) -> Sequence[RowMapping]:
    """The CNIE hash and name tokens of every adult met with each child record (through the cases opened with
    it)."""
    if not child_ids:
        return []
    stmt = (sa.select(cases.c.recorded_child_id.label("child_id"), adults.c.cnie_index, adults.c.name_tokens)
            .distinct()
            .join(case_adults, case_adults.c.case_id == cases.c.id)
            .join(adults, adults.c.id == case_adults.c.adult_id)
            .where(cases.c.recorded_child_id.in_(list(child_ids))))
    return (await session.execute(stmt)).mappings().all()


async def lock_children(session: AsyncSession, child_ids: Sequence[uuid.UUID]) -> Sequence[RowMapping]:
    """Lock children rows in id order (so concurrent reviews of one pair queue instead of deadlocking)."""
    stmt = (sa.select(children.c.id, children.c.merged_into_id, children.c.created_at, children.c.name_tokens,
                      children.c.sex, children.c.reference_birth_date)
            .where(children.c.id.in_(list(child_ids))).order_by(children.c.id).with_for_update())
    return (await session.execute(stmt)).mappings().all()


async def review_of_pair(session: AsyncSession, low: uuid.UUID, high: uuid.UUID) -> RowMapping | None:
    """The decision already recorded for a pair, if any."""
    r = duplicate_reviews
    stmt = sa.select(r).where(r.c.child_low_id == low, r.c.child_high_id == high)
    return (await session.execute(stmt)).mappings().one_or_none()


def names_of(protector: Protector, row: Mapping[Any, Any]) -> dict[str, str | None]:
    """A child record's names, opened (for callers who see one of its cases)."""
    return protector.open("children", row, *NAME_FIELDS)


async def insert_review(session: AsyncSession, protector: Protector, values: Mapping[str, Any], *,
                        note: str | None = None) -> RowMapping:
    """Record a review decision (its note sealed)."""
    stmt = (sa.insert(duplicate_reviews)
            .values(**values, **protector.seal("duplicate_reviews", values["id"], {"note": note}))
            .returning(*duplicate_reviews.c))
    return (await session.execute(stmt)).mappings().one()


async def cases_of_children(session: AsyncSession, child_ids: Sequence[uuid.UUID],
                            v: Visibility | None = None) -> Sequence[RowMapping]:
    """The cases of some children in the order they were opened (with `visible` for the caller when `v` is
    given)."""
    stmt = (sa.select(cases.c.id, cases.c.child_id, cases.c.recorded_child_id, cases.c.status, cases.c.opened_at,
                      cases.c.repeat_of_case_id, cases.c.transferred_from_case_id, cases.c.case_number,
                      cases.c.prefecture_code, (visible(v) if v is not None else sa.false()).label("visible"))
            .where(cases.c.child_id.in_(list(child_ids))).order_by(cases.c.opened_at, cases.c.id))
    return (await session.execute(stmt)).mappings().all()


async def set_repeat_links(session: AsyncSession, links: Mapping[uuid.UUID, uuid.UUID | None]) -> None:
    """Set (or clear, with None) the case each case repeats."""
    for case_id, previous in links.items():
        await session.execute(sa.update(cases).where(cases.c.id == case_id)
                              .values(repeat_of_case_id=previous, version=cases.c.version + 1,
                                      updated_at=sa.func.now()))


async def merge_child(session: AsyncSession, *, survivor: uuid.UUID, merged: uuid.UUID,
                      repeat_links: Mapping[uuid.UUID, uuid.UUID]) -> None:
    """Move the merged child's cases to the survivor (each keeps the record it was opened with), link repeats,
    and mark the merged record. Names and tokens stay with each record (decision 0100)."""
    await session.execute(sa.update(cases).where(cases.c.child_id == merged)
                          .values(child_id=survivor, version=cases.c.version + 1, updated_at=sa.func.now()))
    await set_repeat_links(session, repeat_links)
    await session.execute(sa.update(children).where(children.c.id == merged)
                          .values(merged_into_id=survivor, merged_at=sa.func.now(), updated_at=sa.func.now(),
                                  version=children.c.version + 1))


async def unmerge_child(session: AsyncSession, *, survivor: uuid.UUID, merged: uuid.UUID,
                        records: Sequence[uuid.UUID]) -> list[uuid.UUID]:
    """Move back to `merged` the survivor's cases opened with one of `records` (the merged record and those
    merged into it), and make `merged` a child of its own again; returns the moved cases."""
    moved = await session.execute(
        sa.update(cases).where(cases.c.child_id == survivor, cases.c.recorded_child_id.in_(list(records)))
        .values(child_id=merged, version=cases.c.version + 1, updated_at=sa.func.now()).returning(cases.c.id))
    await session.execute(sa.update(children).where(children.c.id == merged)
                          .values(merged_into_id=None, merged_at=None, updated_at=sa.func.now(),
                                  version=children.c.version + 1))
    return list(moved.scalars().all())


async def survivor_of(session: AsyncSession, child_id: uuid.UUID) -> uuid.UUID:
    """The record a child was merged into (following merges), or the child itself."""
    current = child_id
    for _ in range(20):  # merges form a short chain; the bound guards against a corrupted loop
        nxt = (await session.execute(sa.select(children.c.merged_into_id).where(children.c.id == current))
               ).scalar_one_or_none()
        if nxt is None:
            return current
        current = nxt
    return current


async def merged_child_ids(session: AsyncSession, child_id: uuid.UUID) -> list[uuid.UUID]:
    """Every child record merged (directly or through others) into `child_id`."""
    tree = (sa.select(children.c.id).where(children.c.merged_into_id == child_id)
            .cte("merged", recursive=True))
    tree = tree.union_all(sa.select(children.c.id).join(tree, children.c.merged_into_id == tree.c.id))
    return list((await session.execute(sa.select(tree.c.id))).scalars().all())


# ---- merge requests and unmerge (decision 0100) ----------------------------------------------------------

async def review_for_update(session: AsyncSession, review_id: uuid.UUID) -> RowMapping | None:
    """A review, locked."""
    stmt = sa.select(duplicate_reviews).where(duplicate_reviews.c.id == review_id).with_for_update()
    return (await session.execute(stmt)).mappings().one_or_none()


async def mark_unmerged(session: AsyncSession, protector: Protector, review_id: uuid.UUID,
                        values: Mapping[str, Any], *, reason: str | None) -> RowMapping:
    """Record the unmerge of a `same` review (its reason sealed)."""
    stmt = (sa.update(duplicate_reviews).where(duplicate_reviews.c.id == review_id)
            .values(**values, **protector.seal("duplicate_reviews", review_id, {"unmerge_reason": reason}),
                    unmerged_at=sa.func.now()).returning(*duplicate_reviews.c))
    return (await session.execute(stmt)).mappings().one()


async def child_visible(session: AsyncSession, child_id: uuid.UUID, v: Visibility) -> bool:
    """Whether the caller sees at least one case now counted for the child."""
    stmt = sa.select(sa.exists().where(cases.c.child_id == child_id, visible(v)))
    return bool((await session.execute(stmt)).scalar())


async def prefectures_of_child(session: AsyncSession, child_id: uuid.UUID) -> list[str]:
    """The prefectures of a child's cases."""
    stmt = sa.select(cases.c.prefecture_code).where(cases.c.child_id == child_id).distinct()
    return sorted((await session.execute(stmt)).scalars().all())


async def pending_request_of_pair(session: AsyncSession, a: uuid.UUID, b: uuid.UUID) -> RowMapping | None:
    """The pending merge request between two children, whichever side asked."""
    r = child_merge_requests
    stmt = sa.select(r).where(sa.func.least(r.c.child_id, r.c.other_child_id) == min(a, b),
                              sa.func.greatest(r.c.child_id, r.c.other_child_id) == max(a, b),
                              r.c.status == "pending")
    return (await session.execute(stmt)).mappings().one_or_none()


async def insert_request(session: AsyncSession, protector: Protector, values: Mapping[str, Any], *,
                         note: str | None) -> RowMapping:
    """Record a merge request (its note sealed)."""
    stmt = (sa.insert(child_merge_requests)
            .values(**values, **protector.seal("child_merge_requests", values["id"], {"note": note}))
            .returning(*child_merge_requests.c))
    return (await session.execute(stmt)).mappings().one()


async def request_for_update(session: AsyncSession, request_id: uuid.UUID) -> RowMapping | None:
    """A merge request, locked."""
    stmt = sa.select(child_merge_requests).where(child_merge_requests.c.id == request_id).with_for_update()
    return (await session.execute(stmt)).mappings().one_or_none()


async def decide_request(session: AsyncSession, protector: Protector, request_id: uuid.UUID,
                         values: Mapping[str, Any], *, reason: str | None) -> RowMapping:
    """Record the decision on a pending merge request (its reason sealed)."""
    stmt = (sa.update(child_merge_requests).where(child_merge_requests.c.id == request_id)
            .values(**values, **protector.seal("child_merge_requests", request_id, {"reason": reason}),
                    decided_at=sa.func.now()).returning(*child_merge_requests.c))
    return (await session.execute(stmt)).mappings().one()


def request_texts(protector: Protector, row: Mapping[Any, Any]) -> dict[str, str | None]:
    """A merge request's note and refusal reason, opened."""
    return protector.open("child_merge_requests", row, "note", "reason")


async def list_requests(session: AsyncSession, *, actor: str, territories: Sequence[str], may_decide: bool,
                        status: str | None, after: tuple[datetime, uuid.UUID] | None, limit: int
                        ) -> Sequence[RowMapping]:
    """Merge requests the caller made, and (`may_decide`) those addressed to a prefecture inside its
    territories; newest first (keyset on requested_at, id)."""
    r = child_merge_requests
    mine: list[sa.ColumnElement[bool]] = [r.c.requested_by == actor]
    if may_decide and territories:
        code: sa.ColumnElement[Any] = sa.literal_column("target_code")
        # A prefecture inside one of the territories: the country, its region, or itself.
        inside = [sa.true() if t == NATIONAL else sa.or_(code == t, code.startswith(t + ".")) for t in territories]
        mine.append(sa.exists().select_from(sa.func.unnest(r.c.target_prefecture_codes).alias("target_code"))
                    .where(sa.or_(*inside)))
    stmt = sa.select(r).where(sa.or_(*mine))
    if status is not None:
        stmt = stmt.where(r.c.status == status)
    if after is not None:
        stmt = stmt.where(sa.tuple_(r.c.requested_at, r.c.id) < sa.tuple_(*after))
    stmt = stmt.order_by(r.c.requested_at.desc(), r.c.id.desc()).limit(limit + 1)
    return (await session.execute(stmt)).mappings().all()


async def record_sides(session: AsyncSession, record_ids: Sequence[uuid.UUID], v: Visibility) -> Sequence[RowMapping]:
    """The sex, reference birth date and cases opened with some child records (as JSON): the minimal view."""
    stmt = (sa.select(children.c.id, children.c.sex, children.c.reference_birth_date,
                      _case_refs(v).label("cases"))
            .where(children.c.id.in_(list(record_ids))))
    return (await session.execute(stmt)).mappings().all()


async def review_by_id(session: AsyncSession, review_id: uuid.UUID) -> RowMapping | None:
    """A review."""
    stmt = sa.select(duplicate_reviews).where(duplicate_reviews.c.id == review_id)
    return (await session.execute(stmt)).mappings().one_or_none()
