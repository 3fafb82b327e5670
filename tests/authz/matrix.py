"""The policy table of docs/authorization-matrix.md, parsed: one row per operation and relation."""

from __future__ import annotations

import re
from dataclasses import dataclass
from pathlib import Path

from authz.world import ROLES

TABLE = Path(__file__).resolve().parents[2] / "docs" / "authorization-matrix.md"
CALLERS = ("anonymous", *ROLES)
OUTCOMES = frozenset({"2xx", "401", "403", "404", "409", "422", "-"})
START, END = "<!-- matrix:start -->", "<!-- matrix:end -->"


@dataclass(frozen=True)
class Row:
    """What each caller must get from one operation on the object in one relation."""

    operation: str
    relation: str
    expected: dict[str, str]

    @property
    def id(self) -> str:
        """The row's test id."""
        return f"{self.operation} [{self.relation}]"


def matches(expected: str, status: int) -> bool:
    """Whether an answer's status is in the expected outcome class."""
    return 200 <= status < 300 if expected == "2xx" else str(status) == expected


def rows(path: Path = TABLE) -> list[Row]:
    """The rows of the table between the markers; a malformed table fails loudly."""
    text = path.read_text(encoding="utf-8")
    body = text[text.index(START) + len(START):text.index(END)].strip().splitlines()
    header = [c.strip() for c in body[0].strip().strip("|").split("|")]
    assert header == ["operation", "relation", *CALLERS], f"unexpected header {header}"
    out = []
    for line in body[2:]:
        cells = [c.strip() for c in line.strip().strip("|").split("|")]
        assert len(cells) == len(header), f"wrong number of cells: {line}"
        operation = re.sub(r"`", "", cells[0])
        expected = dict(zip(CALLERS, cells[2:], strict=True))
        bad = {v for v in expected.values() if v not in OUTCOMES}
        assert not bad, f"unknown outcome {bad} in {line}"
        out.append(Row(operation, cells[1], expected))
    seen = [r.id for r in out]
    assert len(seen) == len(set(seen)), "a row appears twice"
    return out
