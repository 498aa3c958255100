"""What a monitoring run found: typed, frozen values shared by the checks, the report and the actions."""

from __future__ import annotations

from dataclasses import dataclass, field
from enum import StrEnum
from typing import Any

from bot.monitor.windows import Window


class Verdict(StrEnum):
    PASS = "pass"
    FAIL = "fail"
    INCONCLUSIVE = "inconclusive"  # too few rows, or an interval straddling the threshold: never a pass
    NO_DATA = "no data"  # an empty window: never a pass


@dataclass(frozen=True)
class Measure:
    """One number of one window: a statistic of a subject (a feature, a slice, 'all rows'), its limit, whether it
    breaches it; `low`/`high` bound it when it is an estimate with an interval."""

    stat: str
    subject: str
    value: float | None
    limit: float | None = None
    breached: bool = False
    low: float | None = None
    high: float | None = None
    note: str | None = None

    def as_dict(self) -> dict[str, Any]:
        return {k: v for k, v in self.__dict__.items() if v is not None}


@dataclass(frozen=True)
class WindowCheck:
    window: Window
    rows: int
    verdict: Verdict
    reason: str
    measures: tuple[Measure, ...] = ()

    def as_dict(self) -> dict[str, Any]:
        return {
            "start": self.window.start.isoformat(),
            "end": self.window.end.isoformat(),
            "rows": self.rows,
            "verdict": self.verdict.value,
            "reason": self.reason,
            "measures": [m.as_dict() for m in self.measures],
        }


@dataclass(frozen=True)
class CheckSeries:
    """One kind of check over every window, oldest first."""

    kind: str
    title: str
    windows: tuple[WindowCheck, ...]
    stats: tuple[str, ...] = field(default_factory=tuple)  # the statistics it charts, in order

    @property
    def current(self) -> WindowCheck:
        return self.windows[-1]

    @property
    def breached_windows(self) -> int:
        return sum(1 for w in self.windows if w.verdict is Verdict.FAIL)

    def as_dict(self) -> dict[str, Any]:
        return {
            "kind": self.kind,
            "title": self.title,
            "current": self.current.verdict.value,
            "breached_windows": self.breached_windows,
            "windows": [w.as_dict() for w in self.windows],
        }
