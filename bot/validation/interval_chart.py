"""The metric intervals against the gates' margins, as Mermaid charts a PR comment shows without images: one
chart per metric that has champion or baseline gates (their improvements share that metric's scale; two metrics
rarely do). Rendered from the template INTERVALS_TEMPLATE."""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass

from bot import texts
from bot.evidence import GateResult
from bot.validation.metrics import METRICS

INTERVALS_TEMPLATE = "intervals_chart.mmd.j2"
KINDS = {"non_inferiority": "no worse", "min_improvement": "better by", "min_gain": "gain"}


@dataclass(frozen=True)
class Bar:
    """One gate's interval of the improvement (candidate better = positive) and its threshold."""

    label: str
    low: float
    high: float
    threshold: float


def bars(results: Sequence[GateResult]) -> dict[str, list[Bar]]:
    """The champion and baseline gates that hold a finite interval and threshold, by metric, in gate order."""
    found: dict[str, list[Bar]] = {}
    for result in results:
        kind, _, rest = result.gate.partition(".")
        metric, _, key = rest.rpartition(".")
        observed = result.observed if isinstance(result.observed, dict) else {}
        low, high = observed.get("low"), observed.get("high")
        if kind not in ("champion", "baseline") or metric not in METRICS or key not in KINDS:
            continue
        numbers = (low, high, result.threshold)
        if not all(isinstance(x, int | float) and math.isfinite(x) for x in numbers):
            continue
        label = f"vs {kind}: {KINDS[key]}"
        found.setdefault(metric, []).append(Bar(label, float(low), float(high), float(result.threshold)))  # type: ignore[arg-type]  # checked finite numbers just above
    return found


def axis(shown: Sequence[Bar]) -> tuple[float, float]:
    """The y range: every interval end and threshold, with a margin of a tenth of the span on each side."""
    values = [v for b in shown for v in (b.low, b.high, b.threshold)]
    low, high = min(values), max(values)
    pad = (high - low) / 10 or max(abs(high), 1e-3) / 10
    return low - pad, high + pad


def charts(results: Sequence[GateResult]) -> list[str]:
    """One chart text per metric (without a final newline: the report closes the code block after it)."""
    out = []
    for metric, shown in bars(results).items():
        low, high = axis(shown)
        text = texts.render(INTERVALS_TEMPLATE, title=METRICS[metric].title, gates=shown, low=low, high=high)
        out.append(text.rstrip("\n"))
    return out
