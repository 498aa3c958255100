"""Decisions per window, from the accumulated statistics: pure functions, no I/O.

The statistics are the validation's own (`bot.validation.distances`): KS and PSI for numbers (PSI over the
reference's deciles), PSI and Jensen-Shannon for categories (chi-square's p-value is reported, not judged: with
production volumes it flags differences too small to matter). An empty window is "no data" and a window under
`min_rows` is "inconclusive": neither is ever a pass.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass

import numpy as np

from bot.monitor import performance
from bot.monitor.accumulate import CategoricalStats, ColumnStats, NumericStats, WindowStats, latency_bins
from bot.monitor.reference import CategoricalRef, Feature, NumericRef, Reference
from bot.monitor.results import CheckSeries, Measure, Verdict, WindowCheck
from bot.monitor.windows import Window
from bot.policy.monitor import DriftLimits, MonitorPolicy, QualityLimits, SloLimits
from bot.validation import distances

STAT_TITLES = {
    "ks": "KS",
    "psi": "PSI",
    "js": "Jensen-Shannon",
    "chi2_p": "chi-square p",
    "null_rate": "null rate",
    "out_of_range": "outside the reference's range",
    "unseen": "unseen categories",
    "type_errors": "wrong type",
    "p95_ms": "p95 latency (ms)",
    "error_rate": "error rate",
}


def _g(x: float | None) -> str:
    return "n/a" if x is None else f"{x:.3g}"


def distance(ref: Feature, stats: ColumnStats, limits: DriftLimits, subject: str) -> list[Measure]:
    """The drift measures of one column against its reference profile."""
    if isinstance(ref, NumericRef) and isinstance(stats, NumericStats):
        if stats.sample.size == 0 or ref.values.size == 0:
            return [
                Measure("ks", subject, None, limits.ks, note="no values"),
                Measure("psi", subject, None, limits.psi),
            ]
        ordered = stats.sample  # sorted by the accumulator
        ks = distances.ks_sorted(ref.values, ordered)
        current = distances.shares(ref.bin_counts(ordered))
        psi = distances.psi_shares(ref.shares, current)
        return [_judged("ks", subject, ks, limits.ks), _judged("psi", subject, psi, limits.psi)]
    if isinstance(ref, CategoricalRef) and isinstance(stats, CategoricalStats):
        unseen = sorted(k for k in stats.counts if k not in ref.categories)
        expected = np.concatenate([ref.counts, np.zeros(len(unseen), dtype=np.int64)])
        actual = np.array([stats.counts.get(k, 0) for k in (*ref.categories, *unseen)], dtype=np.int64)
        if actual.sum() == 0:
            return [
                Measure("psi", subject, None, limits.psi, note="no values"),
                Measure("js", subject, None, limits.js),
            ]
        psi = distances.psi_shares(distances.shares(expected), distances.shares(actual))
        _, p = distances.chi_square(expected, actual)
        return [
            _judged("psi", subject, psi, limits.psi),
            _judged("js", subject, distances.jensen_shannon(expected, actual), limits.js),
            Measure("chi2_p", subject, p),
        ]
    return [Measure("psi", subject, None, note="type differs from the reference")]


def _judged(stat: str, subject: str, value: float | None, limit: float | None) -> Measure:
    breached = value is not None and limit is not None and value > limit
    return Measure(stat, subject, value, limit, breached)


def _enough(rows: int, min_rows: int, what: str = "rows") -> tuple[Verdict, str] | None:
    if rows == 0:
        return Verdict.NO_DATA, f"no {what} in this window"
    if rows < min_rows:
        return Verdict.INCONCLUSIVE, f"insufficient data: {rows} {what} < min_rows {min_rows}"
    return None


def verdict_of(measures: Sequence[Measure], rows: int, min_rows: int, what: str = "rows") -> tuple[Verdict, str]:
    """No data, insufficient data, a breach (naming the worst subjects of each breached statistic) or a pass."""
    early = _enough(rows, min_rows, what)
    if early is not None:
        return early
    breached = [m for m in measures if m.breached]
    if breached:
        parts = []
        for stat in dict.fromkeys(m.stat for m in breached):
            worst = sorted((m for m in breached if m.stat == stat), key=lambda m: -(m.value or 0.0))
            listed = ", ".join(f"{m.subject} ({_g(m.value)})" for m in worst[:5])
            more = f" and {len(worst) - 5} more" if len(worst) > 5 else ""
            parts.append(f"{STAT_TITLES.get(stat, stat)} above {_g(worst[0].limit)} in: {listed}{more}")
        return Verdict.FAIL, "; ".join(parts)
    judged = [m for m in measures if m.limit is not None and m.value is not None]
    if not judged:
        return Verdict.INCONCLUSIVE, "nothing to judge: no statistic with a limit could be measured"
    parts = []
    for stat in dict.fromkeys(m.stat for m in judged):
        top = max((m for m in judged if m.stat == stat), key=lambda m: m.value or 0.0)
        parts.append(f"largest {STAT_TITLES.get(stat, stat)} {_g(top.value)} ({top.subject}) <= {_g(top.limit)}")
    return Verdict.PASS, "; ".join(parts)


def _judged_window(
    window: Window,
    s: WindowStats,
    measure: Callable[[WindowStats], list[Measure]],
    min_rows: int,
    rows: Callable[[WindowStats], int] = lambda s: s.rows,
    what: str = "rows",
) -> WindowCheck:
    measures = measure(s) if rows(s) else []
    verdict, reason = verdict_of(measures, rows(s), min_rows, what)
    return WindowCheck(window, rows(s), verdict, reason, tuple(measures))


def drift(reference: Reference, window: Window, s: WindowStats, policy: MonitorPolicy) -> WindowCheck:
    def measure(s: WindowStats) -> list[Measure]:
        return [
            m
            for f in reference.features
            if f.name in s.features
            for m in distance(f, s.features[f.name], policy.drift, f.name)
        ]

    return _judged_window(window, s, measure, policy.min_rows)


def prediction_drift(reference: Reference, window: Window, s: WindowStats, policy: MonitorPolicy) -> WindowCheck:
    subject = f"prediction vs reference {reference.target.name}"

    def measure(s: WindowStats) -> list[Measure]:
        return distance(reference.target, s.prediction, policy.prediction_drift, subject)

    return _judged_window(window, s, measure, policy.min_rows)


def quality_measures(ref: Feature, stats: ColumnStats, rows: int, limits: QualityLimits, subject: str) -> list[Measure]:
    found = [_judged("null_rate", subject, stats.nulls / rows, limits.max_null_rate)]
    if isinstance(stats, NumericStats):
        found.append(_judged("out_of_range", subject, stats.out_of_range / rows, limits.max_out_of_range))
        found.append(_judged("type_errors", subject, stats.type_errors / rows, limits.max_type_errors))
    elif isinstance(ref, CategoricalRef):
        unseen = sum(v for k, v in stats.counts.items() if k not in ref.categories)
        found.append(_judged("unseen", subject, unseen / rows, limits.max_unseen))
    return found


def quality(reference: Reference, window: Window, s: WindowStats, policy: MonitorPolicy) -> WindowCheck:
    def measure(s: WindowStats) -> list[Measure]:
        return [
            m
            for f in reference.features
            if f.name in s.features
            for m in quality_measures(f, s.features[f.name], s.rows, policy.quality, f.name)
        ]

    return _judged_window(window, s, measure, policy.min_rows)


def percentile(histogram: np.ndarray, q: float) -> float | None:
    """The q-quantile of a latency histogram: the upper edge of the bin where the cumulative share reaches q."""
    total = histogram.sum()
    if total == 0:
        return None
    index = int(np.searchsorted(np.cumsum(histogram), q * total, side="left"))
    return float(latency_bins()[min(index, histogram.shape[0] - 1)])


def slo_measures(s: WindowStats, limits: SloLimits) -> list[Measure]:
    found = []
    if limits.p95_ms is not None:
        p95 = None if s.latency is None else percentile(s.latency, 0.95)
        note = None if p95 is not None else "the log holds no latency"
        found.append(
            Measure("p95_ms", "requests", p95, limits.p95_ms, p95 is not None and p95 > limits.p95_ms, note=note)
        )
    if limits.max_error_rate is not None:
        found.append(_judged("error_rate", "requests", s.errors / s.requests, limits.max_error_rate))
    return found


def slo(reference: Reference, window: Window, s: WindowStats, policy: MonitorPolicy) -> WindowCheck:
    return _judged_window(
        window, s, lambda s: slo_measures(s, policy.slo), policy.min_rows, rows=lambda s: s.requests, what="requests"
    )


def performance_check(reference: Reference, window: Window, s: WindowStats, policy: MonitorPolicy) -> WindowCheck:
    return performance.window_check(reference, window, s, policy.performance)


@dataclass(frozen=True)
class Kind:
    """One kind of check the policy asks for: how a window is judged, and how its series is titled and charted."""

    name: str
    title: str
    charted: tuple[str, ...]
    judge: Callable[[Reference, Window, WindowStats, MonitorPolicy], WindowCheck]


def wanted(policy: MonitorPolicy) -> tuple[Kind, ...]:
    """The kinds of check the policy asks for, in the report's order."""
    drift_stats = ("ks", "psi", "js")
    found = []
    if "drift" in policy.checks:
        found.append(Kind("drift", "Feature drift against the reference", drift_stats, drift))
    if "prediction_drift" in policy.checks:
        title = "Prediction drift against the reference's target distribution"
        found.append(Kind("prediction_drift", title, drift_stats, prediction_drift))
    if "quality" in policy.checks:
        charted = ("null_rate", "out_of_range", "unseen", "type_errors")
        found.append(Kind("quality", "Data quality", charted, quality))
    rule = policy.performance
    if "performance" in policy.checks and rule.metric is not None:
        found.append(Kind("performance", performance.title(rule), (rule.metric,), performance_check))
    if "slo" in policy.checks and (policy.slo.p95_ms is not None or policy.slo.max_error_rate is not None):
        found.append(Kind("slo", "Latency and error SLOs", ("p95_ms", "error_rate"), slo))
    return tuple(found)


def series(kind: Kind, checks: Sequence[WindowCheck]) -> CheckSeries:
    return CheckSeries(kind.name, kind.title, tuple(checks), kind.charted)
