"""The tail probabilities the statistics use instead of importing SciPy, held to scipy.stats over their range."""

from __future__ import annotations

import math
import subprocess
import sys

import numpy as np
import pytest
from scipy import stats

from bot.validation import tails


def test_normal_sf_matches_scipy_in_both_tails() -> None:
    x = np.linspace(-37.0, 37.0, 3001)
    expected = stats.norm.sf(x)
    found = tails.normal_sf(x)
    assert found.shape == x.shape
    assert np.allclose(found, expected, rtol=1e-12, atol=0.0)  # relative: the far tail keeps its digits (2e-13 at 37)
    assert math.isnan(float(tails.normal_sf(float("nan"))))
    assert float(tails.normal_sf(float("inf"))) == 0.0 and float(tails.normal_sf(-float("inf"))) == 1.0


@pytest.mark.parametrize("p", [1e-300, 1e-50, 1e-10, 0.001, 0.025, 0.3, 0.5, 0.7, 0.975, 0.999, 1 - 1e-12])
def test_normal_quantile_matches_scipy(p: float) -> None:
    assert tails.normal_quantile(p) == pytest.approx(stats.norm.ppf(p), rel=1e-13, abs=1e-15)


@pytest.mark.parametrize("df", [1, 2, 3, 4, 5, 8, 9, 30, 31, 200, 201])
def test_chi2_sf_matches_scipy(df: int) -> None:
    for x in (1e-9, 0.01, 0.5, 1.0, 2.0, df / 2, df - 1.0, float(df), df * 1.5, df * 3.0 + 10, 300.0, 1400.0):
        expected = stats.chi2.sf(x, df)
        assert tails.chi2_sf(df, x) == pytest.approx(expected, rel=1e-11, abs=1e-300), (df, x)


def test_chi2_sf_at_many_categories_keeps_ten_digits() -> None:
    for df in (2000, 2001, 20000):
        for x in (df * 0.9, float(df), df * 1.1):
            assert tails.chi2_sf(df, x) == pytest.approx(stats.chi2.sf(x, df), rel=1e-9)


def test_chi2_sf_edges() -> None:
    assert tails.chi2_sf(3, 0.0) == 1.0
    assert tails.chi2_sf(3, float("inf")) == 0.0
    assert math.isnan(tails.chi2_sf(3, float("nan")))
    assert tails.chi2_sf(4, 1e6) == 0.0  # underflows, as SciPy's does
    with pytest.raises(ValueError, match="positive integer"):
        tails.chi2_sf(0, 1.0)


def test_monitoring_and_validation_statistics_do_not_import_scipy() -> None:
    """SciPy's import costs ~0.12 CPU-s; the statistics' modules and their use must not pay it."""
    code = (
        "import sys, numpy as np\n"
        "from bot.validation import distances, intervals\n"
        "from bot.monitor import run, checks, performance\n"
        "distances.chi_square(np.array([10, 20, 30]), np.array([12, 18, 40]))\n"
        "intervals.one_sided_p(np.array([1.0])); intervals.wilson(3, 10, 0.95)\n"
        "print(sorted(m for m in sys.modules if m.split('.')[0] == 'scipy'))\n"
    )
    found = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert found.stdout.strip() == "[]"
