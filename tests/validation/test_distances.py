"""The shared distances (validation's data checks and monitoring) against SciPy's own definitions."""

from __future__ import annotations

import numpy as np
import pytest
from scipy import stats
from scipy.spatial.distance import jensenshannon

from bot.validation import distances


def test_ks_sorted_and_ks_wasserstein_equal_scipy() -> None:
    rng = np.random.default_rng(3)
    a, b = rng.normal(0, 1, 1500).round(1), rng.normal(0.2, 1.1, 900).round(1)
    ks, distance = distances.ks_wasserstein(a, b)
    assert ks == pytest.approx(stats.ks_2samp(a, b).statistic)
    assert distance == pytest.approx(stats.wasserstein_distance(a, b))
    assert distances.ks_sorted(np.sort(a), np.sort(b)) == pytest.approx(stats.ks_2samp(a, b).statistic)


def _merged_gap(a: np.ndarray, b: np.ndarray) -> float:
    """KS by its definition: both empirical CDFs at every value of either sample, the largest difference."""
    at = np.concatenate([a, b])
    return float(np.max(np.abs(np.searchsorted(a, at, "right") / a.size - np.searchsorted(b, at, "right") / b.size)))


def test_ks_sorted_is_the_largest_cdf_gap_with_ties_single_values_and_disjoint_samples() -> None:
    rng = np.random.default_rng(8)
    cases = [
        (rng.integers(0, 4, 300).astype(float), rng.integers(1, 6, 200).astype(float)),  # ties within and across
        (rng.normal(0, 1, 500).round(1), rng.normal(0.4, 1, 70).round(1)),
        (np.array([2.0]), rng.normal(2, 1, 50)),
        (rng.normal(0, 1, 40), rng.normal(9, 1, 30)),  # disjoint: 1
        (np.array([1.0, 1.0, 2.0]), np.array([1.0, 2.0, 2.0])),
    ]
    for a, b in cases:
        a, b = np.sort(a), np.sort(b)
        for x, y in ((a, b), (b, a)):
            assert distances.ks_sorted(x, y) == _merged_gap(x, y)  # the same counts / sizes: equal, not close
            assert distances.ks_sorted(x, y) == pytest.approx(stats.ks_2samp(x, y).statistic)
    assert distances.ks_sorted(np.sort(rng.normal(0, 1, 40)), np.sort(rng.normal(9, 1, 30))) == 1.0


def test_jensen_shannon_is_scipys_squared_distance_in_bits() -> None:
    p, q = np.array([50, 30, 20, 0]), np.array([30, 30, 30, 10])
    expected = jensenshannon(p / p.sum(), q / q.sum(), base=2) ** 2
    assert distances.jensen_shannon(p, q) == pytest.approx(expected)
    assert distances.jensen_shannon(p, p) == pytest.approx(0.0, abs=1e-12)
    assert distances.jensen_shannon(np.array([1, 0]), np.array([0, 1])) == pytest.approx(1.0)


def test_chi_square_equals_scipys_contingency_test() -> None:
    a, b = np.array([120, 60, 20, 0]), np.array([90, 70, 35, 0])
    statistic, p = distances.chi_square(a, b)
    expected = stats.chi2_contingency(np.vstack([a[:3], b[:3]]), correction=False)
    assert statistic == pytest.approx(expected.statistic)
    assert p == pytest.approx(expected.pvalue)
    assert distances.chi_square(np.array([5, 0]), np.array([7, 0])) == (0.0, 1.0)


def test_psi_shares_floors_empty_shares() -> None:
    p, q = np.array([0.5, 0.5, 0.0]), np.array([0.4, 0.4, 0.2])
    floored = np.array([0.5, 0.5, distances.PSI_FLOOR])
    assert distances.psi_shares(p, q) == pytest.approx(float(np.sum((q - floored) * np.log(q / floored))))
