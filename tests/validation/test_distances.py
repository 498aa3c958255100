"""The shared distances (validation's data checks and monitoring) against SciPy's own definitions."""

from __future__ import annotations

import numpy as np
import pytest
from scipy import stats
from scipy.spatial.distance import jensenshannon

from bot.validation import distances


def test_ks_from_cdfs_and_ks_wasserstein_equal_scipy() -> None:
    rng = np.random.default_rng(3)
    a, b = rng.normal(0, 1, 1500).round(1), rng.normal(0.2, 1.1, 900).round(1)
    ks, distance = distances.ks_wasserstein(a, b)
    assert ks == pytest.approx(stats.ks_2samp(a, b).statistic)
    assert distance == pytest.approx(stats.wasserstein_distance(a, b))
    assert distances.ks_sorted(np.sort(a), np.sort(b)) == pytest.approx(stats.ks_2samp(a, b).statistic)


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
