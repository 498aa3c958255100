"""Confidence intervals: a paired Poisson bootstrap over random row blocks, normal intervals from standard
errors, and multiple-comparison adjustment.

The bootstrap draws one Poisson(1) weight per block of rows (rows are dealt into at most `blocks` blocks at
random with a fixed seed; with fewer rows, one row per block: the classic Poisson bootstrap). Every model is
resampled with the same weights, so a difference between two models is paired by construction, and a
resample costs one weighted sum of block sums instead of a pass over the rows. Statistics are ratios of sums
that include the row count, so varying block sizes are accounted for.
"""

from __future__ import annotations

import functools
from dataclasses import dataclass

import numpy as np

from bot.validation import tails

BLOCKS = 1000


@dataclass(frozen=True)
class Resampling:
    """Block of each row, block count, and the (resamples, blocks) Poisson weights."""

    block: np.ndarray
    blocks: int
    weights: np.ndarray


def resampling(rows: int, resamples: int, seed: int, blocks: int = BLOCKS) -> Resampling:
    if rows <= blocks:
        block, count = np.arange(rows, dtype=np.int64), max(rows, 1)
    else:
        block, count = np.random.default_rng(seed).integers(0, blocks, rows, dtype=np.int32), blocks
    return Resampling(block, count, _weights(resamples, count, seed))


@functools.lru_cache(maxsize=4)
def _weights(resamples: int, blocks: int, seed: int) -> np.ndarray:
    """The Poisson weights, drawn from their own stream: they depend on nothing but their shape and the seed, so
    measurements of the same shape share them (a monitoring run's windows, a validation's metrics), and ~10 ms of
    draws per 200k weights is paid once. Read-only, as it is shared."""
    weights = np.random.default_rng([seed, 1]).poisson(1.0, (resamples, blocks)).astype(np.float64)
    weights.flags.writeable = False
    return weights


def resample(block_sums: np.ndarray, weights: np.ndarray) -> np.ndarray:
    """(groups, blocks, ...) block sums to (resamples, groups, ...) resampled sums."""
    groups, blocks = block_sums.shape[:2]
    rest = block_sums.shape[2:]
    flat = np.moveaxis(block_sums, 1, 0).reshape(blocks, -1)
    return np.asarray(weights @ flat).reshape((weights.shape[0], groups, *rest))


def percentile(samples: np.ndarray, level: float) -> tuple[np.ndarray, np.ndarray]:
    """Two-sided percentile interval along axis 0, ignoring resamples where the statistic is undefined."""
    tail = (1.0 - level) / 2.0
    with np.errstate(invalid="ignore"):
        finite = np.isfinite(samples).any(axis=0)
        safe = np.where(np.isfinite(samples), samples, np.nan)
        if not finite.any():
            nan = np.full(samples.shape[1:], np.nan)
            return nan, nan.copy()
        low, high = np.nanquantile(safe[:, finite], [tail, 1.0 - tail], axis=0)
    out_low, out_high = np.full(samples.shape[1:], np.nan), np.full(samples.shape[1:], np.nan)
    out_low[finite], out_high[finite] = low, high
    return out_low, out_high


def spread(samples: np.ndarray) -> np.ndarray:
    """Bootstrap standard error along axis 0."""
    with np.errstate(invalid="ignore"):
        finite = np.where(np.isfinite(samples), samples, np.nan)
        count = np.isfinite(finite).sum(axis=0)
        out = np.full(samples.shape[1:], np.nan)
        ok = count > 1
        out[ok] = np.nanstd(finite[:, ok], axis=0, ddof=1)
    return out


def z_value(level: float) -> float:
    """The two-sided normal quantile of a confidence level (1.96 for 0.95)."""
    return tails.normal_quantile(0.5 + level / 2.0)


def normal(estimate: np.ndarray, se: np.ndarray, level: float) -> tuple[np.ndarray, np.ndarray]:
    half = z_value(level) * se
    return estimate - half, estimate + half


def one_sided_p(statistic: np.ndarray) -> np.ndarray:
    """P(Z >= z) for standard normal Z."""
    return tails.normal_sf(statistic)


def adjust(pvalues: np.ndarray, method: str) -> np.ndarray:
    """Family-wise adjusted p-values: 'holm' (step-down), 'bonferroni' or 'none'. NaN stays NaN."""
    p = np.asarray(pvalues, dtype=np.float64)
    valid = np.isfinite(p)
    m = int(valid.sum())
    if method == "none" or m == 0:
        return p.copy()
    out = p.copy()
    if method == "bonferroni":
        out[valid] = np.minimum(1.0, p[valid] * m)
        return out
    values = p[valid]
    order = np.argsort(values, kind="stable")
    stepped = np.maximum.accumulate(np.minimum(1.0, values[order] * (m - np.arange(m))))
    adjusted = np.empty(m)
    adjusted[order] = stepped
    out[valid] = adjusted
    return out


def wilson(successes: float, trials: float, level: float) -> tuple[float, float]:
    """Wilson score interval of a proportion."""
    if trials <= 0:
        return float("nan"), float("nan")
    z = z_value(level)
    p = successes / trials
    centre = (p + z * z / (2 * trials)) / (1 + z * z / trials)
    half = z * np.sqrt(p * (1 - p) / trials + z * z / (4 * trials * trials)) / (1 + z * z / trials)
    return float(max(0.0, centre - half)), float(min(1.0, centre + half))
