"""Time windows of a monitoring run: consecutive, of equal width, oldest first, as epoch milliseconds."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, datetime, timedelta

import numpy as np

MAX_WINDOWS = 1000


@dataclass(frozen=True)
class Window:
    index: int
    start: datetime
    end: datetime

    @property
    def label(self) -> str:
        """Short label for charts: the window's start, to the minute."""
        return self.start.strftime("%m-%d %H:%M")


@dataclass(frozen=True)
class Windows:
    """`count` windows of `width` from `start`; rows outside [start, end) belong to none."""

    start: datetime
    width: timedelta
    count: int

    @classmethod
    def between(cls, since: datetime, until: datetime, width: timedelta) -> Windows:
        """Windows from `since` up to `until`; the last one may reach past `until` (it is still filling)."""
        from bot.errors import UsageError

        if width <= timedelta(0):
            raise UsageError(f"--window must be positive, got {width}")
        if until <= since:
            raise UsageError(f"--since {since.isoformat()} is not before the end {until.isoformat()}")
        count = -(-(until - since) // width)
        if count > MAX_WINDOWS:
            raise UsageError(
                f"{count} windows of {width} from {since.isoformat()}: at most {MAX_WINDOWS}; widen --window"
            )
        return cls(since.astimezone(UTC), width, int(count))

    @property
    def end(self) -> datetime:
        return self.start + self.width * self.count

    @property
    def start_ms(self) -> int:
        return _ms(self.start)

    @property
    def width_ms(self) -> int:
        return int(self.width / timedelta(milliseconds=1))

    @property
    def all(self) -> tuple[Window, ...]:
        return tuple(
            Window(i, self.start + self.width * i, self.start + self.width * (i + 1)) for i in range(self.count)
        )

    def assign(self, ts_ms: np.ndarray) -> np.ndarray:
        """Window index of each timestamp (epoch ms), -1 outside every window. Times in order (a log's usual
        case) are cut at the windows' edges by a search instead of dividing every time by the width."""
        if ts_ms.shape[0] > 1 and bool((ts_ms[1:] >= ts_ms[:-1]).all()):
            edges = self.start_ms + self.width_ms * np.arange(self.count + 1, dtype=np.int64)
            cuts = np.searchsorted(ts_ms, edges, side="left").tolist()
            found = np.full(ts_ms.shape[0], -1, dtype=np.int64)
            for w in range(self.count):
                if cuts[w + 1] > cuts[w]:
                    found[cuts[w] : cuts[w + 1]] = w
            return found
        index = (ts_ms - self.start_ms) // self.width_ms
        return np.where((ts_ms >= self.start_ms) & (index < self.count), index, -1).astype(np.int64)


def _ms(when: datetime) -> int:
    return int(when.timestamp() * 1000)
