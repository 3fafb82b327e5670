"""The visibility filter of domain/access.py as SQL: applied to every query that returns a case."""

from __future__ import annotations

import sqlalchemy as sa
from sqlalchemy.sql.elements import ColumnElement

from cases_service.core.access import Visibility
from cases_service.core.enums import Relation
from cases_service.core.tables import case_access_grants, cases, placements
from himaya.auth import NATIONAL


def territory_clause(codes: tuple[str, ...], table: sa.FromClause = cases) -> ColumnElement[bool]:
    """Rows of `table` whose commune lies inside one of `codes` (each uses an indexed column)."""
    parts: list[ColumnElement[bool]] = []
    for code in codes:
        depth = code.count(".")
        if code == NATIONAL:
            return sa.true()
        if depth == 0:
            parts.append(table.c.region_code == code)
        elif depth == 1:
            parts.append(table.c.prefecture_code == code)
        else:
            parts.append(sa.or_(table.c.commune_code == code, table.c.commune_code.startswith(code + ".")))
    return sa.or_(*parts) if parts else sa.false()


def visible(v: Visibility, table: sa.FromClause = cases) -> ColumnElement[bool]:
    """The cases the caller may see: territory and relation (`table`: `cases` or an alias of it)."""
    territory = territory_clause(v.territories, table)
    if v.relation == Relation.TERRITORIAL:
        return territory
    if v.organization_id is None:
        return sa.false()
    if v.relation == Relation.GRANT:
        g = case_access_grants
        # Only active, unexpired grants (decision 0107).
        related = sa.exists().where(g.c.case_id == table.c.id, g.c.organization_id == v.organization_id,
                                    g.c.revoked_at.is_(None), g.c.expires_at > sa.func.now())
    else:
        p = placements
        related = sa.exists().where(p.c.case_id == table.c.id, p.c.organization_id == v.organization_id,
                                    p.c.ended_at.is_(None))
    return sa.and_(territory, related)
