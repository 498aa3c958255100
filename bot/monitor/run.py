"""One monitoring run: the source scanned once into per-window statistics, then every check the policy names."""

from __future__ import annotations

import os
from collections.abc import Callable, Iterator
from concurrent.futures import Future, ThreadPoolExecutor
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path
from typing import Any

from bot.monitor import checks, source
from bot.monitor.accumulate import Accumulator, WindowStats
from bot.monitor.batch import Batch
from bot.monitor.reference import Reference
from bot.monitor.results import CheckSeries, Verdict, WindowCheck
from bot.monitor.windows import Windows
from bot.policy.monitor import MonitorPolicy


@dataclass(frozen=True)
class Report:
    model: str
    stage: str
    source: str
    reference: str
    windows: Windows
    checks: tuple[CheckSeries, ...]
    rows: int
    requests: int
    labelled: int
    generated_at: datetime

    @property
    def breaches(self) -> tuple[CheckSeries, ...]:
        """Checks whose current (latest) window fails."""
        return tuple(c for c in self.checks if c.current.verdict is Verdict.FAIL)

    def as_dict(self) -> dict[str, Any]:
        return {
            "model": self.model,
            "stage": self.stage,
            "source": self.source,
            "reference": self.reference,
            "generated_at": self.generated_at.isoformat(),
            "window": str(self.windows.width),
            "since": self.windows.start.isoformat(),
            "until": self.windows.end.isoformat(),
            "rows": self.rows,
            "requests": self.requests,
            "labelled": self.labelled,
            "breaches": [c.kind for c in self.breaches],
            "checks": [c.as_dict() for c in self.checks],
        }


def batches(path: Path, needs: source.Needs) -> Iterator[Batch]:
    return source.read_table(path, needs) if source.is_table(path) else source.read_log(path, needs)


def monitor(
    model: str,
    stage: str,
    path: Path,
    reference: Reference,
    windows: Windows,
    policy: MonitorPolicy,
    now: datetime,
    read: Callable[[Path, source.Needs], Iterator[Batch]] | None = None,
) -> Report:
    features = tuple(f.name for f in reference.features)
    needs = source.Needs(
        model,
        stage,
        features,
        reference.slices,
        reference.classes,
        windows.start_ms,
        windows.start_ms + windows.width_ms * windows.count,
    )
    accumulator = Accumulator(reference, windows, features, reference.slices)
    kinds = checks.wanted(policy)
    spans = windows.all

    def judged(w: int) -> tuple[WindowStats, list[WindowCheck]]:
        """Window `w`'s statistics and every check of it: pure functions of that window alone."""
        s = accumulator.window(w)
        return s, [kind.judge(reference, spans[w], s, policy) for kind in kinds]

    with ThreadPoolExecutor(os.cpu_count() or 1, thread_name_prefix="modelbot-windows") as pool:
        # a window is taken (its samples cut to size and sorted) and judged as soon as the source tells it is
        # complete, beside the scan (sorts, searches and the bootstrap's draws release the GIL); the others once
        # the scan is over
        taken: dict[int, Future[tuple[WindowStats, list[WindowCheck]]]] = {}
        for batch in (read or batches)(path, needs):
            accumulator.add(batch)
            for w in accumulator.completed():
                taken[w] = pool.submit(judged, w)
        for w in range(windows.count):
            if w not in taken:
                taken[w] = pool.submit(judged, w)
        done = [taken[w].result() for w in range(windows.count)]
    stats = [s for s, _ in done]
    found = tuple(checks.series(kind, [c[i] for _, c in done]) for i, kind in enumerate(kinds))
    return Report(
        model,
        stage,
        str(path),
        reference.file,
        windows,
        found,
        sum(s.rows for s in stats),
        sum(s.requests for s in stats),
        sum(s.labelled.total for s in stats if s.labelled is not None),
        now,
    )
