"""Statistical disclosure control of a table of counts: primary and complementary cell suppression.

Primary: a cell is suppressed when any of its counts is between 1 and THRESHOLD - 1 (zeros are not
sensitive: an empty cell is simply absent). Complementary: a published margin (the total of a line, that
is the cells sharing every key but one, which another query grouped by the other keys returns) must not
let a suppressed cell be recovered by subtraction, so no line may hold exactly one suppressed cell; the
smallest other cell of such a line is suppressed too, until no line is left with a single one. Counts of
unique children are not additive across cells, so treating lines as sums is conservative.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass

THRESHOLD = 5


@dataclass
class Cell:
    """One cell of a table: its key values (in group-by order) and counts."""

    keys: tuple[str, ...]
    counts: Mapping[str, int]
    suppressed: bool = False
    reason: str | None = None  # "primary" (a small count) or "complementary" (protects another cell)


def is_small(counts: Mapping[str, int]) -> bool:
    """Whether a count of the cell is at once non-zero and under the threshold."""
    return any(0 < value < THRESHOLD for value in counts.values())


def suppress(cells: Sequence[Cell]) -> None:
    """Mark the cells to suppress, in place: primary, then complementary until every line is safe."""
    for cell in cells:
        if is_small(cell.counts):
            cell.suppressed, cell.reason = True, "primary"
    if not cells:
        return
    width = len(cells[0].keys)
    changed = True
    while changed:
        changed = False
        for dim in range(width):
            lines: dict[tuple[str, ...], list[Cell]] = {}
            for cell in cells:
                lines.setdefault(cell.keys[:dim] + cell.keys[dim + 1:], []).append(cell)
            for line in lines.values():
                hidden = [c for c in line if c.suppressed]
                if len(hidden) != 1 or len(line) == 1:
                    # A line of a single cell has a total equal to that cell: the total is small too and
                    # is suppressed wherever it is published (primary rule on margins).
                    continue
                partner = min((c for c in line if not c.suppressed),
                              key=lambda c: (sum(c.counts.values()), c.keys))
                partner.suppressed, partner.reason = True, "complementary"
                changed = True
