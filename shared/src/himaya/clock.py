"""The one clock every service reads: `now()` is the current time in UTC.

Code that needs the time calls `himaya.clock.now()` (never `datetime.now()` itself), so that a test or a
simulation (a story replayed day by day, a day of deadlines) can move time for everything at once with
`frozen_at` instead of patching each module.
"""

from __future__ import annotations

import contextlib
from collections.abc import Callable, Iterator
from contextvars import ContextVar
from datetime import UTC, datetime

_source: ContextVar[Callable[[], datetime] | None] = ContextVar("himaya_clock", default=None)


def now() -> datetime:
    """The current time, timezone-aware in UTC (or the time a `frozen_at` block set)."""
    source = _source.get()
    return source() if source is not None else datetime.now(UTC)


@contextlib.contextmanager
def frozen_at(moment: datetime | Callable[[], datetime]) -> Iterator[None]:
    """Within the block (and the tasks it starts), `now()` answers `moment` (or calls it, for a moving clock)."""
    if isinstance(moment, datetime):
        if moment.tzinfo is None:
            raise ValueError("the clock keeps aware times: give frozen_at a timezone")
        fixed = moment.astimezone(UTC)
        token = _source.set(lambda: fixed)
    else:
        token = _source.set(moment)
    try:
        yield
    finally:
        _source.reset(token)
