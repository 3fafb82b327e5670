"""SQL of duplicate-child detection and review: candidates by name tokens, adults' keys, reviews, merges."""

from __future__ import annotations

import uuid
from collections.abc import Mapping, Sequence
from datetime import date
from typing import Any

import sqlalchemy as sa
from sqlalchemy.dialects.postgresql import ARRAY, aggregate_order_by
from sqlalchemy.engine import RowMapping
from sqlalchemy.ext.asyncio import AsyncSession

from cases_service.db.access import visible
from cases_service.db.tables import adults, case_adults, cases, children, duplicate_reviews
from cases_service.domain.access import Visibility

NAME_COLUMNS = ("first_name_enc", "last_name_enc", "first_name_ar_enc", "last_name_ar_enc")


def _case_refs(v: Visibility, child_id: sa.ColumnElement[Any] | None = None) -> sa.ScalarSelect[Any]:
    """Every case of the outer child as JSON, each flagged with whether the caller may see it."""
    outer = children.c.id if child_id is None else child_id
    ref = sa.func.json_build_object(
        "id", cases.c.id, "case_number", cases.c.case_number, "prefecture_code", cases.c.prefecture_code,
        "opened_at", cases.c.opened_at, "status", cases.c.status, "visible", visible(v))
    return (sa.select(sa.func.coalesce(sa.func.json_agg(aggregate_order_by(ref, cases.c.opened_at)),
                                       sa.text("'[]'::json")))
            .where(cases.c.child_id == outer).scalar_subquery())


async def candidate_children(session: AsyncSession, *, tokens: list[str], select_by: list[str] | None,
                             min_score: float, symmetric: bool, extra_weight: float, v: Visibility,
                             national: bool, subject_id: uuid.UUID | None, exclude: Sequence[uuid.UUID],
                             sex: str | None, born_from: date | None, born_to: date | None,
                             select_all: list[str] | None = None, scan_limit: int | None = None,
                             limit: int = 200) -> Sequence[RowMapping]:
    """Children (not merged away) whose name score against `tokens` reaches `min_score`, best first: their id,
    reference birth date, `shared` (distinct tokens in common; stored tokens are a set) and `stored` (their
    token count), from which the caller computes the exact score; `child_details` reads the few it shows.

    Candidates are those holding every token of `select_all` when given (the GIN index intersects the lists), else
    one of `select_by` (default: any of `tokens`; a few rare tokens keep the GIN lookup small), scored in SQL with
    `BlindIndex.score` (both ways when `symmetric`), filtered, ranked and limited before the visibility lookup.
    The candidates are MATERIALIZED: inlined, the CTE had its shared-token count evaluated again for each of its
    six uses (filter, score, order); materialised, an intake's query at 20k cases runs in about half the time.
    `national` searches every territory (the caller gets a minimal view of what it may not see); otherwise
    only children with a case the caller may see. Pairs already reviewed with `subject_id` are left out. With
    `scan_limit`, at most that many selected rows are scored (in no particular order): a bound on the cost of a
    selection that may hold most children.
    """
    query = sa.cast(tokens, ARRAY(sa.Text))
    n_query = len(set(tokens))
    shared = (sa.select(sa.func.count()).select_from(sa.func.unnest(children.c.name_tokens).alias("t"))
              .where(sa.literal_column("t").op("=")(sa.func.any(query))).correlate(children).scalar_subquery())
    selected = (children.c.name_tokens.contains(sa.cast(select_all, ARRAY(sa.Text))) if select_all else
                children.c.name_tokens.overlap(sa.cast(select_by if select_by is not None else tokens, ARRAY(sa.Text))))
    conditions: list[sa.ColumnElement[bool]] = [selected, children.c.merged_into_id.is_(None)]
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
    outer: list[sa.ColumnElement[bool]] = [matched.c.shared > 0, score >= min_score]
    if not national:
        outer.append(sa.exists().where(cases.c.child_id == matched.c.id, visible(v)))
    if subject_id is not None:
        r = duplicate_reviews
        outer.append(~sa.exists().where(
            r.c.child_low_id == sa.func.least(matched.c.id, subject_id),
            r.c.child_high_id == sa.func.greatest(matched.c.id, subject_id)))
    stmt = sa.select(matched).where(*outer).order_by(score.desc(), matched.c.id).limit(limit)
    return (await session.execute(stmt)).mappings().all()


async def child_details(session: AsyncSession, child_ids: Sequence[uuid.UUID], v: Visibility) -> Sequence[RowMapping]:
    """The sex, reference birth date, encrypted names and every case (as JSON) of some candidate children."""
    if not child_ids:
        return []
    stmt = (sa.select(children.c.id, children.c.sex, children.c.reference_birth_date,
                      *(children.c[c] for c in NAME_COLUMNS), _case_refs(v).label("cases"))
            .where(children.c.id.in_(list(child_ids))))
    return (await session.execute(stmt)).mappings().all()


async def child_for_review(session: AsyncSession, child_id: uuid.UUID, v: Visibility) -> RowMapping | None:
    """A child the caller may see through one of its cases, with its names and every case (as JSON)."""
    stmt = (sa.select(children.c.id, children.c.sex, children.c.reference_birth_date, children.c.name_tokens,
                      children.c.merged_into_id, *(children.c[c] for c in NAME_COLUMNS),
                      _case_refs(v).label("cases"))
            .where(children.c.id == child_id, sa.exists().where(cases.c.child_id == children.c.id, visible(v))))
    return (await session.execute(stmt)).mappings().one_or_none()


async def adult_keys(session: AsyncSession, child_ids: Sequence[uuid.UUID]) -> Sequence[RowMapping]:
    """The CNIE hash and name tokens of every adult met with each child (through its cases)."""
    if not child_ids:
        return []
    stmt = (sa.select(cases.c.child_id, adults.c.cnie_index, adults.c.name_tokens).distinct()
            .join(case_adults, case_adults.c.case_id == cases.c.id)
            .join(adults, adults.c.id == case_adults.c.adult_id)
            .where(cases.c.child_id.in_(list(child_ids))))
    return (await session.execute(stmt)).mappings().all()


async def lock_children(session: AsyncSession, child_ids: Sequence[uuid.UUID]) -> Sequence[RowMapping]:
    """Lock children rows in id order (so concurrent reviews of one pair queue instead of deadlocking)."""
    stmt = (sa.select(children.c.id, children.c.merged_into_id, children.c.created_at, children.c.name_tokens)
            .where(children.c.id.in_(list(child_ids))).order_by(children.c.id).with_for_update())
    return (await session.execute(stmt)).mappings().all()


async def review_of_pair(session: AsyncSession, low: uuid.UUID, high: uuid.UUID) -> RowMapping | None:
    """The decision already recorded for a pair, if any."""
    r = duplicate_reviews
    stmt = sa.select(r).where(r.c.child_low_id == low, r.c.child_high_id == high)
    return (await session.execute(stmt)).mappings().one_or_none()


async def insert_review(session: AsyncSession, values: Mapping[str, Any]) -> RowMapping:
    """Record a review decision."""
    stmt = sa.insert(duplicate_reviews).values(**values).returning(*duplicate_reviews.c)
    return (await session.execute(stmt)).mappings().one()


async def cases_of_children(session: AsyncSession, child_ids: Sequence[uuid.UUID]) -> Sequence[RowMapping]:
    """The cases of some children in the order they were opened."""
    stmt = (sa.select(cases.c.id, cases.c.child_id, cases.c.status, cases.c.opened_at, cases.c.repeat_of_case_id,
                      cases.c.transferred_from_case_id)
            .where(cases.c.child_id.in_(list(child_ids))).order_by(cases.c.opened_at, cases.c.id))
    return (await session.execute(stmt)).mappings().all()


async def merge_child(session: AsyncSession, *, survivor: uuid.UUID, merged: uuid.UUID, tokens: list[str],
                      repeat_links: Mapping[uuid.UUID, uuid.UUID]) -> None:
    """Move the merged child's cases to the survivor, link repeats, and mark the merged record."""
    await session.execute(sa.update(cases).where(cases.c.child_id == merged)
                          .values(child_id=survivor, version=cases.c.version + 1, updated_at=sa.func.now()))
    for case_id, previous in repeat_links.items():
        await session.execute(sa.update(cases).where(cases.c.id == case_id).values(repeat_of_case_id=previous))
    await session.execute(sa.update(children).where(children.c.id == merged)
                          .values(merged_into_id=survivor, merged_at=sa.func.now(), updated_at=sa.func.now(),
                                  version=children.c.version + 1))
    await session.execute(sa.update(children).where(children.c.id == survivor)
                          .values(name_tokens=tokens, updated_at=sa.func.now(), version=children.c.version + 1))


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
