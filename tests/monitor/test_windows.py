"""Which window a time falls in: the same answer whether the times come in order (cut by a search) or not."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import numpy as np

from bot.monitor.windows import Windows

SPANS = Windows.between(datetime(2026, 1, 1, tzinfo=UTC), datetime(2026, 1, 8, tzinfo=UTC), timedelta(days=1))
DAY = 86_400_000


def _by_division(ts: np.ndarray) -> np.ndarray:
    index = (ts - SPANS.start_ms) // DAY
    return np.where((ts >= SPANS.start_ms) & (index < SPANS.count), index, -1)


def test_times_in_order_or_not_fall_in_the_window_division_gives_edges_included() -> None:
    rng = np.random.default_rng(7)
    for trial in range(300):
        ts = rng.integers(SPANS.start_ms - 2 * DAY, SPANS.start_ms + 9 * DAY, int(rng.integers(0, 60)))
        if trial % 3 == 0:
            ts = np.sort(ts)
        if trial % 5 == 0 and ts.size:  # times exactly on a window's edge, in order
            ts = np.sort(SPANS.start_ms + DAY * rng.integers(-1, 9, ts.size))
        found = SPANS.assign(ts)
        assert found.dtype == np.int64
        assert found.tolist() == _by_division(ts).tolist()


def test_a_window_starts_at_its_first_millisecond_and_ends_before_the_next_ones() -> None:
    start = SPANS.start_ms
    ts = np.array([start - 1, start, start + DAY - 1, start + DAY, start + 7 * DAY - 1, start + 7 * DAY])
    assert SPANS.assign(ts).tolist() == [-1, 0, 0, 1, 6, -1]
