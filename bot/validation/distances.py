"""Distances between two distributions, shared by validation's data checks and production monitoring.

One implementation of each statistic, on the forms both callers hold: sorted samples (KS, and Wasserstein from
their CDFs on the merged values), category or bin shares over the same keys (PSI, Jensen-Shannon) and counts over
the same cells (chi-square). Tests hold them to SciPy (`ks_2samp`, `wasserstein_distance`, `jensenshannon`,
`chi2_contingency`).
"""

from __future__ import annotations

import numpy as np

from bot.validation import tails

PSI_FLOOR = 1e-4  # a share of 0 would make PSI infinite; 1e-4 is the usual floor


def cdfs_sorted(a: np.ndarray, b: np.ndarray) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """For two sorted samples: their distinct merged values and both empirical CDFs there. The merge is a stable
    sort of two sorted runs (linear), and each CDF a running count, so no value is searched for."""
    merged = np.concatenate([a, b])
    order = np.argsort(merged, kind="stable")
    values = merged[order]
    from_a = order < a.size
    last = np.append(values[1:] != values[:-1], True)  # the CDF steps once past a run of equal values
    cdf_a = np.cumsum(from_a)[last] / a.size
    cdf_b = np.cumsum(~from_a)[last] / b.size
    return values[last], cdf_a, cdf_b


def ks_sorted(a: np.ndarray, b: np.ndarray) -> float:
    """Two-sample KS statistic of two sorted samples (SciPy's `ks_2samp` statistic): the largest gap between their
    empirical CDFs. It is looked for only where it can be largest: at each distinct value of `a`, and just below it
    (past the last value of `b` under it): between two values of `a` the CDF of `a` is flat and that of `b` only
    rises, so the gap there is largest at an end. A search of `a`'s distinct values in `b` counts it all, on
    arrays the size of `a` (no merge of both samples), with a second search for the values `b` also holds (from
    below); each CDF value is the same count / size as on the merge."""
    if a.size == 0 or b.size == 0:
        return float("nan")
    last = np.empty(a.shape[0], dtype=bool)  # each distinct value's last copy
    last[-1] = True
    np.not_equal(a[1:], a[:-1], out=last[:-1])
    values = a[last]
    cdf_a = (np.flatnonzero(last) + 1) / a.size
    right = np.searchsorted(b, values, side="right")
    left = right
    tied = right > 0
    tied[tied] = b[right[tied] - 1] == values[tied]  # values `b` also holds: only there does "below" differ
    if tied.any():
        left = right.copy()
        left[tied] = np.searchsorted(b, values[tied], side="left")
    at, below = right / b.size, left / b.size
    before = np.concatenate([[0.0], cdf_a[:-1]])  # the CDF of `a` just below each of its values
    return float(max(np.max(np.abs(cdf_a - at)), np.max(np.abs(before - below))))


def ks_wasserstein(a: np.ndarray, b: np.ndarray) -> tuple[float, float]:
    """Two-sample KS statistic and 1-Wasserstein distance (the area between the two empirical CDFs)."""
    a, b = np.sort(a), np.sort(b)
    values, cdf_a, cdf_b = cdfs_sorted(a, b)
    return ks_sorted(a, b), float(np.sum(np.abs(cdf_a - cdf_b)[:-1] * np.diff(values)))


def psi_shares(expected: np.ndarray, actual: np.ndarray) -> float:
    """Population stability index between two share vectors over the same keys (shares floored at PSI_FLOOR)."""
    p = np.maximum(np.asarray(expected, dtype=np.float64), PSI_FLOOR)
    q = np.maximum(np.asarray(actual, dtype=np.float64), PSI_FLOOR)
    return float(np.sum((q - p) * np.log(q / p)))


def shares(counts: np.ndarray) -> np.ndarray:
    """Counts to shares (all zeros when there is nothing to count)."""
    counts = np.asarray(counts, dtype=np.float64)
    total = counts.sum()
    return counts / total if total > 0 else np.zeros_like(counts)


def jensen_shannon(expected: np.ndarray, actual: np.ndarray) -> float:
    """Jensen-Shannon divergence in bits (0 = same, 1 = disjoint) between two share vectors over the same keys;
    SciPy's `jensenshannon(p, q, base=2)` is its square root."""
    p, q = shares(expected), shares(actual)
    m = (p + q) / 2.0

    def kl(x: np.ndarray) -> float:
        mask = x > 0
        return float(np.sum(x[mask] * np.log2(x[mask] / m[mask])))

    return max(0.0, (kl(p) + kl(q)) / 2.0)


def chi_square(expected_counts: np.ndarray, actual_counts: np.ndarray) -> tuple[float, float]:
    """Chi-square test of homogeneity of two count vectors over the same categories: (statistic, p-value).
    Categories empty in both are dropped; with fewer than two left there is nothing to test (0, 1)."""
    table = np.vstack([np.asarray(expected_counts, dtype=np.float64), np.asarray(actual_counts, dtype=np.float64)])
    table = table[:, table.sum(axis=0) > 0]
    if table.shape[1] < 2 or (table.sum(axis=1) == 0).any():
        return 0.0, 1.0
    expected = np.outer(table.sum(axis=1), table.sum(axis=0)) / table.sum()
    statistic = float(np.sum((table - expected) ** 2 / expected))
    return statistic, tails.chi2_sf(table.shape[1] - 1, statistic)
