"""himaya.clock: one clock, movable for a block."""

from datetime import UTC, datetime, timedelta, timezone

import pytest

from himaya import clock


def test_now_is_aware_utc_and_current() -> None:
    before = datetime.now(UTC)
    assert before <= clock.now() <= datetime.now(UTC)
    assert clock.now().tzinfo is not None and clock.now().utcoffset() == timedelta(0)


def test_frozen_at_sets_the_time_for_the_block_only() -> None:
    moment = datetime(2021, 2, 1, 9, 30, tzinfo=timezone(timedelta(hours=1)))
    with clock.frozen_at(moment):
        assert clock.now() == moment and clock.now().utcoffset() == timedelta(0)
    assert clock.now().year >= 2026


def test_a_moving_clock_is_called_each_time() -> None:
    ticks = iter([datetime(2020, 1, 1, tzinfo=UTC), datetime(2020, 1, 2, tzinfo=UTC)])
    with clock.frozen_at(lambda: next(ticks)):
        assert clock.now().day == 1 and clock.now().day == 2


def test_a_naive_time_is_refused() -> None:
    with pytest.raises(ValueError, match="timezone"), clock.frozen_at(datetime(2020, 1, 1)):
        pass
