"""Estimates with intervals per group, for each model, and paired differences between models on the same rows.

Works from prediction arrays only: every group of a grouping (the whole data set, the values of a slice
column, a cross of two) is measured in one vectorised pass. Counting and loss metrics get percentile
intervals from the paired block bootstrap (`intervals`), ROC AUC DeLong intervals and PR AUC influence-function
intervals (`ranking`); every estimate also carries a standard error, used for tests across many slices.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

import numpy as np

from bot.policy.gates import Gates
from bot.validation import intervals, metrics, ranking
from bot.validation.outputs import Predictions, Target

_BUDGET = 4_000_000  # floats of block sums held at once; fewer blocks for many groups x many columns
_MIN_BLOCKS = 50


@dataclass(frozen=True)
class Settings:
    confidence: float = 0.95
    resamples: int = 1000
    seed: int = 0
    averaging: str = "macro"
    blocks: int = intervals.BLOCKS

    @classmethod
    def from_gates(cls, gates: Gates) -> Settings:
        return cls(float(gates.confidence), gates.bootstrap.resamples, gates.bootstrap.seed, gates.averaging)


@dataclass(frozen=True)
class Grouping:
    """Rows assigned to groups: `codes` in [0, len(labels))."""

    name: str
    codes: np.ndarray
    labels: tuple[str, ...]

    @classmethod
    def whole(cls, rows: int) -> Grouping:
        return cls("overall", np.zeros(rows, dtype=np.int64), ("all rows",))

    @property
    def size(self) -> int:
        return len(self.labels)


@dataclass(frozen=True)
class Estimate:
    """Per group: point value, interval at the settings' confidence, standard error."""

    value: np.ndarray
    low: np.ndarray
    high: np.ndarray
    se: np.ndarray

    def at(self, group: int) -> dict[str, float | None]:
        return {k: _num(getattr(self, k)[group]) for k in ("value", "low", "high", "se")}


def _num(x: Any) -> float | None:
    x = float(x)
    return x if np.isfinite(x) else None


@dataclass
class Measurements:
    grouping: Grouping
    rows: np.ndarray
    settings: Settings
    single: dict[tuple[str, str], Estimate] = field(default_factory=dict)
    paired: dict[tuple[str, str, str], Estimate] = field(default_factory=dict)
    methods: dict[str, str] = field(default_factory=dict)


@dataclass
class ScoreOrder:
    """Argsorts of each model's positive-class scores, shared by every grouping (one sort per model)."""

    by_role: dict[str, np.ndarray] = field(default_factory=dict)

    def get(self, role: str, target: Target, pred: Predictions) -> np.ndarray | None:
        if target.positive is None or pred.scores is None:
            return None
        if role in self.by_role:
            return self.by_role[role]
        score = pred.scores[:, target.positive]
        index = np.int32 if score.size < 2**31 - 1 else np.int64
        if score.size == 0 or bool(np.all(score == score[0])):
            return np.arange(score.size, dtype=index)  # a constant (the baseline): already in order, not kept
        self.by_role[role] = np.argsort(score).astype(index)
        return self.by_role[role]


def measure(
    target: Target,
    preds: Mapping[str, Predictions],
    names: Sequence[str],
    grouping: Grouping,
    pairs: Sequence[tuple[str, str]],
    settings: Settings,
    order: ScoreOrder | None = None,
) -> Measurements:
    """Every metric in `names` for every model in `preds` (where its answer allows), and each pair's
    difference a - b, per group of `grouping`."""
    order = order or ScoreOrder()
    size = grouping.size
    rows = np.bincount(grouping.codes, minlength=size).astype(np.int64)
    out = Measurements(grouping, rows, settings)
    summed = [m for m in names if metrics.METRICS[m].family != "rank"]
    boot = _Bootstrap(target, preds, summed, grouping, settings) if summed else None
    for name in summed:
        assert boot is not None
        boot.fill(out, name, [r for r, p in preds.items() if metrics.available(name, p)], pairs)
    ranked = [m for m in names if metrics.METRICS[m].family == "rank"]
    if ranked:
        _rank(out, ranked, target, preds, pairs, order)
    return out


class _Bootstrap:
    """Block sums of every needed row statistic, their resamples, and metric values from them."""

    def __init__(
        self,
        target: Target,
        preds: Mapping[str, Predictions],
        names: Sequence[str],
        grouping: Grouping,
        settings: Settings,
    ) -> None:
        self.target, self.preds, self.settings = target, preds, settings
        self.positive = target.positive
        needed = {
            (role, col)
            for name in names
            for role, pred in preds.items()
            if metrics.available(name, pred)
            for col in metrics.METRICS[name].columns
        }
        width = sum(metrics.width(col, target.k) for _, col in needed) or 1
        blocks = min(settings.blocks, max(_MIN_BLOCKS, _BUDGET // max(1, grouping.size * width)))
        self.plan = intervals.resampling(target.n, settings.resamples, settings.seed, blocks)
        index = np.int32 if grouping.size * self.plan.blocks * max(target.k, 1) ** 2 < 2**31 - 1 else np.int64
        self.keys = grouping.codes.astype(index) * index(self.plan.blocks) + self.plan.block.astype(index)
        self.size = grouping.size
        self.sums: dict[tuple[str, str], np.ndarray] = {}
        self.boot: dict[tuple[str, str], np.ndarray] = {}
        self.values: dict[tuple[str, str], tuple[np.ndarray, np.ndarray]] = {}

    def _sums(self, role: str, col: str) -> tuple[np.ndarray, np.ndarray]:
        if (role, col) not in self.sums:
            codes, weights = metrics.column(col, self.target, self.preds[role])
            cells = self.size * self.plan.blocks
            if codes is None:
                flat = np.bincount(self.keys, weights=weights, minlength=cells).astype(np.float64)
                block = flat.reshape(self.size, self.plan.blocks)
            else:
                k = metrics.width(col, self.target.k)
                keys = self.keys * self.keys.dtype.type(k)
                keys += codes.astype(keys.dtype, copy=False)
                flat = np.bincount(keys, minlength=cells * k).astype(np.float64)
                del keys
                block = flat.reshape(self.size, self.plan.blocks, k)
            self.sums[(role, col)] = block.sum(axis=1)
            self.boot[(role, col)] = intervals.resample(block, self.plan.weights)
        return self.sums[(role, col)], self.boot[(role, col)]

    def _value(self, name: str, role: str) -> tuple[np.ndarray, np.ndarray]:
        if (name, role) not in self.values:
            cols = metrics.METRICS[name].columns
            point = {c: self._sums(role, c)[0] for c in cols}
            resampled = {c: self._sums(role, c)[1] for c in cols}
            avg = self.settings.averaging
            self.values[(name, role)] = (
                metrics.value(name, point, avg, self.positive),
                metrics.value(name, resampled, avg, self.positive),
            )
        return self.values[(name, role)]

    def fill(self, out: Measurements, name: str, roles: Sequence[str], pairs: Sequence[tuple[str, str]]) -> None:
        level = self.settings.confidence
        for role in roles:
            point, samples = self._value(name, role)
            low, high = intervals.percentile(samples, level)
            out.single[(name, role)] = Estimate(point, low, high, intervals.spread(samples))
        for a, b in pairs:
            if a in roles and b in roles:
                (pa, sa), (pb, sb) = self._value(name, a), self._value(name, b)
                low, high = intervals.percentile(sa - sb, level)
                out.paired[(name, a, b)] = Estimate(pa - pb, low, high, intervals.spread(sa - sb))
        out.methods[name] = (
            f"paired Poisson bootstrap over {self.plan.blocks} row blocks, "
            f"{self.settings.resamples} resamples, seed {self.settings.seed}"
        )


def _rank(
    out: Measurements,
    names: Sequence[str],
    target: Target,
    preds: Mapping[str, Predictions],
    pairs: Sequence[tuple[str, str]],
    order: ScoreOrder,
) -> None:
    """Rank metrics model by model (all of one model's share its sorted runs, dropped before the next model),
    keeping only the per-row influence values for the paired differences."""
    level, codes, size = out.settings.confidence, out.grouping.codes, out.grouping.size
    influence: dict[tuple[str, str], np.ndarray] = {}
    values: dict[tuple[str, str], np.ndarray] = {}
    for role, pred in preds.items():
        if pred.scores is None:
            continue
        memo: dict[str, Any] = {}
        for name in names:
            result = ranking.measure(
                name, target, pred.scores, codes, size, out.settings.averaging, order.get(role, target, pred), memo
            )
            se = np.sqrt(_group_sum(codes, result.influence, result.influence, size))
            low, high = intervals.normal(result.value, se, level)
            out.single[(name, role)] = Estimate(result.value, np.clip(low, 0, 1), np.clip(high, 0, 1), se)
            influence[(name, role)], values[(name, role)] = result.influence, result.value
        del memo
    for name in names:
        for a, b in pairs:
            if (name, a) in influence and (name, b) in influence:
                delta = influence[(name, a)] - influence[(name, b)]
                se = np.sqrt(_group_sum(codes, delta, delta, size))
                diff = values[(name, a)] - values[(name, b)]
                low, high = intervals.normal(diff, se, level)
                out.paired[(name, a, b)] = Estimate(diff, low, high, se)
        out.methods[name] = (
            "DeLong (paired, normal)"
            if name == "roc_auc"
            else "influence function of average precision (paired, normal)"
        )


def _group_sum(codes: np.ndarray, a: np.ndarray, b: np.ndarray, size: int) -> np.ndarray:
    """Per group: sum of a*b (in float64)."""
    product = np.multiply(a, b, dtype=np.float64)
    return np.array([product.sum()]) if size == 1 else np.bincount(codes, weights=product, minlength=size)
