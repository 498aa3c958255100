"""Gate decisions from estimates and thresholds: pure functions, no I/O.

A gate is judged on an interval, never on a point alone, so noise can neither pass nor fail a model: pass when
the whole interval clears the threshold, fail when the whole interval misses it, inconclusive when it
straddles it. Differences are oriented as improvements (candidate better = positive) whatever the metric's
direction, so one rule serves floors, non-inferiority, required improvement and the gain over the baseline.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

import numpy as np

from bot.evidence import GateResult, Status
from bot.policy.gates import BaselineGain, Bounds, ChampionMargins
from bot.validation.metrics import METRICS

WHAT = {
    Status.PASS: "clears",
    Status.FAIL: "misses",
    Status.INCONCLUSIVE: "straddles",
}


def fmt(x: float | None, signed: bool = False) -> str:
    if x is None or not np.isfinite(x):
        return "n/a"
    return f"{x:+.4g}" if signed else f"{x:.4g}"


def interval_text(low: float | None, high: float | None, signed: bool = False) -> str:
    return f"[{fmt(low, signed)}, {fmt(high, signed)}]"


def judge(low: float | None, high: float | None, threshold: float, higher_is_good: bool = True) -> Status:
    """Interval against a threshold: PASS when wholly on the good side, FAIL when wholly on the bad side."""
    if low is None or high is None or not (np.isfinite(low) and np.isfinite(high)):
        return Status.INCONCLUSIVE
    if not higher_is_good:
        low, high, threshold = -high, -low, -threshold
    if low >= threshold:
        return Status.PASS
    if high < threshold:
        return Status.FAIL
    return Status.INCONCLUSIVE


def improvement(metric: str, estimate: Mapping[str, float | None]) -> dict[str, float | None]:
    """A raw difference (candidate - other, with interval) turned so that positive means the candidate is better."""
    if METRICS[metric].greater_is_better:
        return {"value": estimate["value"], "low": estimate["low"], "high": estimate["high"]}
    neg = {k: (None if estimate[k] is None else -float(estimate[k])) for k in ("value", "low", "high")}  # type: ignore[arg-type]  # the comprehension checks None first; mypy cannot narrow a dict lookup
    return {"value": neg["value"], "low": neg["high"], "high": neg["low"]}


def floors(metric: str, estimate: Mapping[str, float | None], spec: Bounds, level: float) -> list[GateResult]:
    """Absolute floor (min) and ceiling (max) on the candidate's metric, judged on its interval."""
    results = []
    title = METRICS[metric].title
    for bound, higher_is_good, limit in spec.limits():
        threshold = float(limit)
        status = judge(estimate["low"], estimate["high"], threshold, higher_is_good)
        word = ">=" if higher_is_good else "<="
        reason = (
            f"{title} {fmt(estimate['value'])} {interval_text(estimate['low'], estimate['high'])} at "
            f"{level:.0%}: the interval {WHAT[status]} the required {word} {fmt(threshold)}"
        )
        results.append(
            GateResult(
                f"metric.{metric}.{bound}",
                status,
                reason,
                dict(estimate),
                threshold,
                {"metric": metric, "bound": bound},
            )
        )
    return results


def versus(
    kind: str,
    metric: str,
    diff: Mapping[str, float | None] | None,
    reference: float | None,
    spec: ChampionMargins | BaselineGain,
    level: float,
) -> list[GateResult]:
    """Candidate against the champion (non_inferiority, min_improvement) or the baseline (min_gain)."""
    results = []
    for key, written in spec.margins():
        gate = f"{kind}.{metric}.{key}"
        margin = float(written)
        relative = spec.relative
        if diff is None or reference is None:
            results.append(
                GateResult(
                    gate,
                    Status.INCONCLUSIVE,
                    f"{METRICS[metric].title}: no paired difference against the {kind} "
                    f"(its answer does not support this metric)",
                    None,
                    margin,
                )
            )
            continue
        scale = abs(reference) if relative else 1.0
        threshold = -margin * scale if key == "non_inferiority" else margin * scale
        up = improvement(metric, diff)
        status = judge(up["low"], up["high"], threshold)
        results.append(
            GateResult(
                gate,
                status,
                _versus_reason(kind, key, metric, up, threshold, status, level),
                up,
                threshold,
                {
                    "metric": metric,
                    "relative": relative,
                    "margin": margin,
                    f"{kind}_value": reference,
                    "raw_difference": dict(diff),
                },
            )
        )
    return results


def _versus_reason(
    kind: str, key: str, metric: str, up: Mapping[str, float | None], threshold: float, status: Status, level: float
) -> str:
    spec = METRICS[metric]
    direction = "" if spec.greater_is_better else " (lower is better; shown as improvement)"
    need = {
        "non_inferiority": "no worse than",
        "min_improvement": "better by at least",
        "min_gain": "a gain of at least",
    }[key]
    return (
        f"{spec.title}{direction}: improvement over the {kind} {fmt(up['value'], True)} "
        f"{interval_text(up['low'], up['high'], True)} at {level:.0%}; required {need} "
        f"{fmt(abs(threshold) if key == 'non_inferiority' else threshold)}: the interval {WHAT[status]} it"
    )


def no_champion(stage: str, spec: Mapping[str, ChampionMargins]) -> list[GateResult]:
    """A first deployment: nothing to compare with; stated, not failed."""
    return [
        GateResult(
            f"champion.{metric}.{key}",
            Status.SKIPPED,
            f"no champion: this is the first deployment to {stage}",
            None,
            margin,
        )
        for metric, margins in spec.items()
        for key, margin in margins.margins()
    ]


def point(gate: str, observed: float, threshold: float, higher_is_good: bool, label: str) -> GateResult:
    """A deterministic check of an observed quantity (no sampling noise): pass or fail."""
    ok = observed >= threshold if higher_is_good else observed <= threshold
    word = ">=" if higher_is_good else "<="
    status = Status.PASS if ok else Status.FAIL
    return GateResult(gate, status, f"{label} {fmt(observed)} (required {word} {fmt(threshold)})", observed, threshold)


def failed(gate: str, reason: str, **details: Any) -> GateResult:
    return GateResult(gate, Status.FAIL, reason, details=dict(details))
