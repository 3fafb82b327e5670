"""The head revision of a service's migrations, read from the revision files without importing Alembic.

A running service only needs to know which revision its schema must be at (/readyz); importing Alembic (and
Mako and Pygments with it) for that cost 12 MB of every process's memory. The migration tooling itself stays
in `himaya.migrations`; a test checks that both agree on every service's head.
"""

from __future__ import annotations

import ast
from pathlib import Path
from typing import Any


def _assigned(tree: ast.Module, name: str) -> Any:
    target: ast.expr
    for node in tree.body:
        if isinstance(node, ast.AnnAssign) and node.value is not None:
            target, value = node.target, node.value
        elif isinstance(node, ast.Assign) and len(node.targets) == 1:
            target, value = node.targets[0], node.value
        else:
            continue
        if isinstance(target, ast.Name) and target.id == name:
            return ast.literal_eval(value)
    raise LookupError(name)


def head_revision(migrations_dir: Path) -> str | None:
    """The one revision no other revision builds on; None without revisions; an error when there are several."""
    revisions: set[str] = set()
    parents: set[str] = set()
    for path in sorted((migrations_dir / "versions").glob("*.py")):
        tree = ast.parse(path.read_text(encoding="utf-8"), filename=str(path))
        try:
            revision = _assigned(tree, "revision")
        except LookupError:
            continue  # not a revision file (e.g. __init__.py)
        down = _assigned(tree, "down_revision")
        revisions.add(str(revision))
        parents.update([down] if isinstance(down, str) else [str(d) for d in down or ()])
    heads = revisions - parents
    if len(heads) > 1:
        raise RuntimeError(f"{migrations_dir} has several heads: {sorted(heads)}")
    return heads.pop() if heads else None
