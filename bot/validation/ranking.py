"""ROC AUC and PR AUC (average precision) per group, with per-row influence values for their variance.

One sort per model gives, for every group at once, the AUC with DeLong's structural components (DeLong,
DeLong & Clarke-Pearson 1988; the O(n log n) form of Sun & Xu 2014) and the average precision with its
influence function. Each row gets an influence value `phi` such that the variance of a group's estimate is
the sum of phi² over the group's rows, and the variance of a paired difference between two models on the
same rows is the sum of (phi_a - phi_b)²: for binary ROC AUC this is exactly DeLong's S10/m + S01/n.
Multiclass scores are one-vs-rest per class, averaged macro, weighted (by support) or micro, as scikit-learn.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import numpy as np

from bot.validation.outputs import Target


@dataclass(frozen=True)
class RankResult:
    value: np.ndarray  # (groups,), NaN where undefined (one class only)
    influence: np.ndarray  # (rows,)


def measure(
    metric: str,
    target: Target,
    scores: np.ndarray,
    codes: np.ndarray,
    groups: int,
    averaging: str = "macro",
    by_score: np.ndarray | None = None,
    memo: dict[str, Any] | None = None,
) -> RankResult:
    """`metric` ('roc_auc' or 'pr_auc') of (n, K) class scores per group of `codes` in [0, groups);
    `by_score`, an argsort of the positive class's scores (binary only), saves a sort per grouping, and
    `memo` (one dict per model and grouping) lets ROC AUC and PR AUC share their sorted runs."""
    unit_fn = _auc_units if metric == "roc_auc" else _ap_units
    y = target.y
    if target.positive is not None:
        score, positive = scores[:, target.positive], y == target.positive
        memo = {} if memo is None else memo
        if "runs" not in memo:
            memo["runs"] = _runs(score, positive, codes, groups, by_score)
        value, psi = unit_fn(score, positive, codes, groups, by_score, memo["runs"])
        return RankResult(value, psi)
    k = scores.shape[1]
    onehot = y[:, None] == np.arange(k)[None, :]
    if averaging == "micro":
        value, psi = unit_fn(scores.ravel(), onehot.ravel(), np.repeat(codes, k), groups, None)
        return RankResult(value, psi.reshape(-1, k).sum(axis=1))
    units = (codes[:, None] * k + np.arange(k)[None, :]).ravel()
    per_class, psi = unit_fn(scores.ravel(), onehot.ravel(), units, groups * k, None)
    per_class = per_class.reshape(groups, k)
    defined = np.isfinite(per_class)
    if averaging == "weighted":
        support = np.bincount(codes * k + y, minlength=groups * k).reshape(groups, k).astype(np.float64)
        weights = np.where(defined, support, 0.0)
    else:
        weights = defined.astype(np.float64)
    with np.errstate(divide="ignore", invalid="ignore"):
        weights = weights / weights.sum(axis=1, keepdims=True)
        value = np.where(
            weights.sum(axis=1) > 0, np.nansum(np.where(defined, per_class, 0.0) * weights, axis=1), np.nan
        )
    psi = (psi.reshape(-1, k) * weights[codes]).sum(axis=1)
    return RankResult(value, np.nan_to_num(psi))


@dataclass(frozen=True)
class _Runs:
    """Entries sorted by (unit, score), cut into runs of equal unit and score. Run-level arrays have one value
    per run; `unit` is None when there is a single unit (the whole data set), which saves row-sized arrays."""

    order: np.ndarray
    positive: np.ndarray  # positive flag of each sorted entry
    run: np.ndarray  # run index of each sorted entry
    unit: np.ndarray | None  # unit of each run
    pos: np.ndarray  # positives per run
    size: np.ndarray  # entries per run
    pos_before: np.ndarray  # positives of the same unit in earlier (lower-score) runs
    all_before: np.ndarray  # entries of the same unit in earlier runs
    m: np.ndarray  # positives per unit
    total: np.ndarray  # entries per unit

    def per_run(self, per_unit: np.ndarray) -> np.ndarray:
        """A per-unit array spread over runs (a scalar when there is one unit)."""
        return per_unit[0] if self.unit is None else per_unit[self.unit]

    def by_unit(self, weights: np.ndarray, units: int) -> np.ndarray:
        if self.unit is None:
            return np.array([float(np.sum(weights))])
        return np.bincount(self.unit, weights=weights, minlength=units)


def _runs(score: np.ndarray, positive: np.ndarray, unit: np.ndarray, units: int, by_score: np.ndarray | None) -> _Runs:
    """`by_score` (any argsort of `score`) can be shared across groupings; units are then sorted stably.
    Indexes are int32 where they fit: on millions of rows these arrays dominate memory."""
    index = np.int32 if score.shape[0] < 2**31 - 1 else np.int64
    if by_score is None:
        by_score = np.argsort(score).astype(index)
    if units == 1:
        order, u = by_score, None
    else:
        small = unit.astype(np.int16 if units < 2**15 else np.int64)
        order = by_score[np.argsort(small[by_score], kind="stable")]
        u = small[order]
        del small
    s = score[order]
    starts = np.empty(s.shape[0], dtype=bool)
    starts[:1] = True
    np.not_equal(s[1:], s[:-1], out=starts[1:])
    del s
    if u is not None:
        starts[1:] |= u[1:] != u[:-1]
    first = np.flatnonzero(starts).astype(index)
    run = np.cumsum(starts, dtype=index)
    run -= 1
    del starts
    sorted_pos = positive[order]
    pos = np.add.reduceat(sorted_pos.astype(index), first) if first.size else np.zeros(0, index)
    size = np.diff(np.append(first, index(order.shape[0])))
    run_unit = u[first].astype(np.int32) if u is not None else None
    del first, u
    if run_unit is None:
        m, total = np.array([float(pos.sum())]), np.array([float(size.sum())])
    else:
        m = np.bincount(run_unit, weights=pos, minlength=units)
        total = np.bincount(run_unit, weights=size, minlength=units)
    return _Runs(
        order,
        sorted_pos,
        run,
        run_unit,
        pos,
        size,
        _before(pos, run_unit, index),
        _before(size, run_unit, index),
        m,
        total,
    )


def _before(counts: np.ndarray, unit: np.ndarray | None, dtype: type = np.float64) -> np.ndarray:
    """Exclusive cumulative sum of `counts` restarting at each unit (runs are sorted by unit)."""
    exclusive: np.ndarray = np.cumsum(counts, dtype=dtype)
    exclusive -= counts
    if unit is None or not counts.size:
        return exclusive
    unit_start = np.flatnonzero(np.r_[True, unit[1:] != unit[:-1]])
    exclusive -= np.repeat(exclusive[unit_start], np.diff(np.append(unit_start, counts.size)))
    return exclusive


def _finite(x: np.ndarray) -> np.ndarray:
    """Influence values with non-finite ones (empty classes, single rows) as 0, in place."""
    x[~np.isfinite(x)] = 0.0
    return x


def _element(r: _Runs, when_pos: np.ndarray, when_neg: np.ndarray) -> np.ndarray:
    """Per-run values to entries in their original order: `when_pos` for positives, `when_neg` otherwise."""
    sorted_values = when_neg[r.run]
    sorted_values[r.positive] = when_pos[r.run[r.positive]]
    out = np.empty_like(sorted_values)
    out[r.order] = sorted_values
    return out


def _auc_units(
    score: np.ndarray,
    positive: np.ndarray,
    unit: np.ndarray,
    units: int,
    by_score: np.ndarray | None,
    runs: _Runs | None = None,
) -> tuple[np.ndarray, np.ndarray]:
    r = runs or _runs(score, positive, unit, units, by_score)
    m, n = r.m, r.total - r.m
    with np.errstate(divide="ignore", invalid="ignore"):
        v10 = np.subtract(r.all_before, r.pos_before, dtype=np.float64)  # negatives below; then V10
        v10 += 0.5 * (r.size - r.pos)
        v10 /= r.per_run(n)
        weighted = np.multiply(r.pos, v10)
        weighted[~np.isfinite(weighted)] = 0.0
        auc = r.by_unit(weighted, units) / m
        del weighted
        auc = np.where((m > 0) & (n > 0), auc, np.nan)
        centre = r.per_run(auc)
        v10 -= centre
        v10 /= r.per_run(np.sqrt(m * (m - 1)))
        psi_pos = _finite(v10)
        del v10
        v01 = np.subtract(r.per_run(m), r.pos_before, dtype=np.float64)  # positives above; then V01
        v01 -= 0.5 * r.pos
        v01 /= r.per_run(m)
        v01 -= centre
        v01 /= r.per_run(np.sqrt(n * (n - 1)))
        psi_neg = _finite(v01)
        del v01, centre
    return auc, _element(r, psi_pos, psi_neg)


def _ap_units(
    score: np.ndarray,
    positive: np.ndarray,
    unit: np.ndarray,
    units: int,
    by_score: np.ndarray | None,
    runs: _Runs | None = None,
) -> tuple[np.ndarray, np.ndarray]:
    """Average precision = mean over positives of the precision at their score (ties counted in), and its
    influence phi_i = [y_i (g_i - AP) + y_i C_i - D_i] / m, where g is that precision, N the number of entries
    scoring at least as high, C_i = sum of 1/N_j and D_i = sum of g_j/N_j over positives j scoring <= s_i."""
    r = runs or _runs(score, positive, unit, units, by_score)
    m = r.m
    with np.errstate(divide="ignore", invalid="ignore"):
        at_least = np.subtract(r.per_run(r.total), r.all_before, dtype=np.float64)
        g = np.subtract(r.per_run(m), r.pos_before, dtype=np.float64)
        g /= at_least
        ap = r.by_unit(r.pos * g, units) / m
        ap = np.where(m > 0, ap, np.nan)
        step = r.pos / at_least
        c_run = _before(step, r.unit)
        c_run += step
        step *= g
        d_run = _before(step, r.unit)
        d_run += step
        del step, at_least
        m_run = r.per_run(m)
        when_pos = g - r.per_run(ap)
        del g
        when_pos += c_run
        when_pos -= d_run
        when_pos /= m_run
        del c_run
        d_run /= m_run
        np.negative(d_run, out=d_run)
    return ap, _element(r, _finite(when_pos), _finite(d_run))
