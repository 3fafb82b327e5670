"""Statistical disclosure control of published counts: primary suppression and cell-key perturbation.

Primary suppression: a cell any of whose counts is between 1 and THRESHOLD - 1 is not published (zeros are
not sensitive: an empty cell is simply absent). Cell-key perturbation (the method of the Australian Bureau of
Statistics' TableBuilder, adopted by the ONS and Eurostat's census tables): every other published count gets
a small noise that is a function of the *set of case records* behind it, so that two queries which differ by
a few records give counts whose difference is not that of the true counts, while the same records always
give the same noise (asking again, or by another route, never averages it away).

The cell key of a cell is the sum of its cases' record keys (32 random-looking bits per case, kept in the
statistics' facts and summed in the counts cube) modulo 2^32; the noise of a count is drawn from PTABLE by a
keyed hash (HMAC-SHA256 under the perturbation secret, a setting) of the cell key and the count's label.
Without the secret nobody can tell the noise, even knowing every record key. docs/statistics.md explains the
choice and its guarantees.
"""

from __future__ import annotations

import hashlib
import hmac
from collections.abc import Mapping, Sequence
from dataclasses import dataclass

THRESHOLD = 5
CELL_KEY_MODULUS = 2**32
# The perturbation table of every count >= THRESHOLD: (noise, weight out of PTABLE_TOTAL). Bounded (|noise| <=
# NOISE_BOUND), unbiased (mean 0) and of variance 1.2. Counts under THRESHOLD are suppressed and zeros stay
# zero; a count the noise would take under THRESHOLD is published as THRESHOLD, so that no published value
# gives its true count away (5 - 2 = 3 could only come from 5).
PTABLE: tuple[tuple[int, int], ...] = ((-2, 1), (-1, 2), (0, 4), (1, 2), (2, 1))
PTABLE_TOTAL = sum(weight for _, weight in PTABLE)
NOISE_BOUND = max(abs(noise) for noise, _ in PTABLE)


@dataclass
class Cell:
    """One cell of a table: its key values (in group-by order), counts and cell key."""

    keys: tuple[str, ...]
    counts: Mapping[str, int]
    suppressed: bool = False
    reason: str | None = None  # "primary" (a small count)
    cell_key: int = 0


def is_small(counts: Mapping[str, int]) -> bool:
    """Whether a count of the cell is at once non-zero and under the threshold."""
    return any(0 < value < THRESHOLD for value in counts.values())


def suppress(cells: Sequence[Cell]) -> None:
    """Mark, in place, the cells with a small count (primary suppression). No complementary suppression is
    needed: every published count is perturbed, so a margin minus the other cells never gives a hidden one."""
    for cell in cells:
        if is_small(cell.counts):
            cell.suppressed, cell.reason = True, "primary"


def cell_key(key_sum: int) -> int:
    """The cell key of a cell from the sum of its records' keys (any integer: journals hold differences)."""
    return key_sum % CELL_KEY_MODULUS


@dataclass(frozen=True)
class Perturbation:
    """The cell-key perturbation under one secret (`CASES_STATS_PERTURBATION_KEY`)."""

    secret: bytes

    def noise(self, label: str, key: int) -> int:
        """The noise of the count called `label` of the cell of key `key`: a lookup of PTABLE by a keyed hash."""
        digest = hmac.new(self.secret, f"{label}\x1f{key % CELL_KEY_MODULUS}".encode(), hashlib.sha256).digest()
        draw = int.from_bytes(digest[:8], "big") % PTABLE_TOTAL
        for noise, weight in PTABLE:
            if draw < weight:
                return noise
            draw -= weight
        raise AssertionError("PTABLE weights do not add up")  # pragma: no cover

    def count(self, value: int, label: str, key: int) -> int:
        """The published value of a count: zero stays zero; any other gets its noise and is at least THRESHOLD
        (counts under THRESHOLD are the caller's to suppress before: published, they would only be hidden)."""
        if value <= 0:
            return 0
        return max(THRESHOLD, value + self.noise(label, key))
