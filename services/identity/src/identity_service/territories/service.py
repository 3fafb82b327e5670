"""Reference data: territories and courts loaded from the CSV files in `data/`, the checks of territory and
court codes, and the roles table."""

from __future__ import annotations

import csv
from collections.abc import Sequence
from pathlib import Path
from typing import Any

from himaya.errors import InvalidInput
from himaya.pagination import build_page, decode_cursor
from himaya.scopes import ROLE_SCOPES
from identity_service.core.access import check_territory_codes
from identity_service.core.context import Context
from identity_service.core.enums import TerritoryLevel
from identity_service.territories import repository as repo
from identity_service.territories.records import RoleScopes, Territory

DATA_DIR = Path(__file__).resolve().parents[1] / "data"
LEVELS = tuple(TerritoryLevel)


def read_territories(path: Path = DATA_DIR / "territories.csv") -> list[dict[str, Any]]:
    """Territory rows from the CSV, parents before children, empty cells as None."""
    with path.open(encoding="utf-8", newline="") as fh:
        rows = [{k: (v.strip() or None) for k, v in row.items()} for row in csv.DictReader(fh)]
    codes = {r["code"] for r in rows}
    for r in rows:
        if r["level"] not in LEVELS:
            raise ValueError(f"territory {r['code']}: unknown level {r['level']!r}")
        if r["parent_code"] is not None and r["parent_code"] not in codes:
            raise ValueError(f"territory {r['code']}: unknown parent {r['parent_code']}")
    return sorted(rows, key=lambda r: (LEVELS.index(r["level"]), r["code"]))


def read_courts(path: Path = DATA_DIR / "courts.csv") -> list[dict[str, Any]]:
    """Court rows from the CSV, appeal courts first."""
    with path.open(encoding="utf-8", newline="") as fh:
        rows = [{k: (v.strip() or None) for k, v in row.items()} for row in csv.DictReader(fh)]
    return sorted(rows, key=lambda r: (r["kind"] != "appeal", r["code"]))


async def load_reference_data(ctx: Context) -> tuple[int, int]:
    """Insert or update every territory and court from the data files; returns how many of each."""
    territories, courts = read_territories(), read_courts()
    for level in LEVELS:
        batch = [r for r in territories if r["level"] == level]
        if batch:
            await repo.upsert_territories(ctx.session, batch)
    for kind in ("appeal", "first_instance"):
        batch = [r for r in courts if r["kind"] == kind]
        if batch:
            await repo.upsert_courts(ctx.session, batch)
    return len(territories), len(courts)


async def list_territories(ctx: Context, *, level: str | None, parent_code: str | None,
                           cursor: str | None, limit: int) -> tuple[list[Territory], str | None]:
    """A page of territories ordered by code."""
    after = None
    if cursor is not None:
        after = decode_cursor(cursor, 1)[0]
        if not isinstance(after, str):
            raise InvalidInput("The cursor is not valid.")
    rows = await repo.list_territories(ctx.session, level=level, parent_code=parent_code, after=after,
                                       limit=limit + 1)
    return build_page(rows, limit, lambda r: [r.code])


def roles_table() -> list[RoleScopes]:
    """Every role with its scopes, from himaya.scopes.ROLE_SCOPES."""
    return [RoleScopes(role=role.value, scopes=sorted(s.value for s in scopes)) for role, scopes in ROLE_SCOPES.items()]


async def check_territories(ctx: Context, codes: Sequence[str]) -> None:
    """422 unless every code is `MA` or a territory of the reference data."""
    check_territory_codes(codes, await repo.existing_territory_codes(ctx.session, codes))


async def court_exists(ctx: Context, code: str) -> bool:
    """Whether a court has this code."""
    return await repo.court_exists(ctx.session, code)
