"""A policy's `monitor:` section as typed, read-only values: windows, thresholds, checks and the actions on a breach.

Kept apart from `model.py`/`load.py`: the section is read from the merged policy data (`extends` and per-model
overrides applied by `load.merged_data`), and a stage may override any key under `monitor.stages.<stage>`.
Defaults apply to what the policy leaves out, so `modelbot monitor` works on a policy without the section.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import timedelta
from typing import Any

CHECKS = ("drift", "prediction_drift", "quality", "performance", "slo")
ACTIONS = ("issue", "rollback", "retrain")


@dataclass(frozen=True)
class DriftLimits:
    """Largest tolerated distance from the reference: PSI (numbers and categories), KS (numbers), Jensen-Shannon
    divergence in bits (categories). None: not judged."""

    psi: float | None = 0.25
    ks: float | None = 0.2
    js: float | None = 0.1


@dataclass(frozen=True)
class QualityLimits:
    """Largest tolerated share of rows, per feature: nulls, numbers outside the reference's range, categories the
    reference never saw, values of the wrong type."""

    max_null_rate: float = 0.05
    max_out_of_range: float = 0.05
    max_unseen: float = 0.01
    max_type_errors: float = 0.0


@dataclass(frozen=True)
class PerformanceRule:
    """A metric of the validation, judged on its confidence interval per window (and per slice) once labels
    arrive; a window or slice with fewer than `min_rows` labelled rows is 'insufficient data'."""

    metric: str | None = None
    min: float | None = None
    max: float | None = None
    min_rows: int = 100
    slices: bool = True
    confidence: float = 0.95
    resamples: int = 1000
    seed: int = 0


@dataclass(frozen=True)
class SloLimits:
    """Per window: the 95th percentile of request latency and the share of requests that failed or fell back."""

    p95_ms: float | None = None
    max_error_rate: float | None = None


@dataclass(frozen=True)
class MonitorPolicy:
    window: timedelta = timedelta(hours=24)
    windows: int = 7
    min_rows: int = 100
    checks: tuple[str, ...] = CHECKS
    drift: DriftLimits = field(default_factory=DriftLimits)
    prediction_drift: DriftLimits = field(default_factory=DriftLimits)
    quality: QualityLimits = field(default_factory=QualityLimits)
    performance: PerformanceRule = field(default_factory=PerformanceRule)
    slo: SloLimits = field(default_factory=SloLimits)
    actions: tuple[str, ...] = ("issue",)


def _limits(raw: Mapping[str, Any] | None, default: DriftLimits) -> DriftLimits:
    if raw is None:
        return default
    return DriftLimits(**{k: (None if raw[k] is None else float(raw[k])) for k in ("psi", "ks", "js") if k in raw})


def parse(raw: Mapping[str, Any] | None, stage: str | None = None) -> MonitorPolicy:
    """The section (already checked by the schema) for `stage`: its `stages.<stage>` keys replace the top ones."""
    from bot.policy.load import parse_duration

    data = dict(raw or {})
    overrides = data.pop("stages", {}) or {}
    if stage is not None and stage in overrides:
        data.update(overrides[stage])
    quality = data.get("quality", {})
    perf = data.get("performance", {})
    slo = data.get("slo", {})
    base = MonitorPolicy()
    return MonitorPolicy(
        window=parse_duration(data["window"]) if "window" in data else base.window,
        windows=int(data.get("windows", base.windows)),
        min_rows=int(data.get("min_rows", base.min_rows)),
        checks=tuple(data.get("checks", base.checks)),
        drift=_limits(data.get("drift"), base.drift),
        prediction_drift=_limits(data.get("prediction_drift"), base.prediction_drift),
        quality=QualityLimits(**{k: float(v) for k, v in quality.items()}),
        performance=PerformanceRule(
            metric=perf.get("metric"),
            min=None if perf.get("min") is None else float(perf["min"]),
            max=None if perf.get("max") is None else float(perf["max"]),
            min_rows=int(perf.get("min_rows", PerformanceRule.min_rows)),
            slices=bool(perf.get("slices", True)),
            confidence=float(perf.get("confidence", PerformanceRule.confidence)),
            resamples=int(perf.get("resamples", PerformanceRule.resamples)),
            seed=int(perf.get("seed", PerformanceRule.seed)),
        ),
        slo=SloLimits(
            p95_ms=None if slo.get("p95_ms") is None else float(slo["p95_ms"]),
            max_error_rate=None if slo.get("max_error_rate") is None else float(slo["max_error_rate"]),
        ),
        actions=tuple(data["action"]) if isinstance(data.get("action"), list) else (data.get("action") or "issue",),
    )


def for_model(policies: Any, name: str, model: str, stage: str) -> MonitorPolicy:
    """The `monitor:` section of policy `name` for `model` (overrides merged) and `stage`."""
    from bot.policy.load import merged_data

    data, _ = merged_data(policies, name, model)
    return parse(data.get("monitor"), stage)


def declared(policies: Any, name: str, model: str) -> bool:
    """Whether policy `name` (with `model`'s overrides) has a `monitor:` section: the scheduled run watches only
    the models whose policy asks for it."""
    from bot.policy.load import merged_data

    data, _ = merged_data(policies, name, model)
    return data.get("monitor") is not None
