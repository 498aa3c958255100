"""Intervals: DeLong against its textbook O(m·n) form, the block bootstrap against SciPy's bootstrap, the
average-precision influence function against a bootstrap, and nominal 95 % coverage by simulation."""

from __future__ import annotations

import numpy as np
import pytest
from scipy import stats
from sklearn import metrics as skm

from bot.validation import compare, intervals
from bot.validation.outputs import Predictions, Target

SETTINGS = compare.Settings(confidence=0.95, resamples=1000, seed=3)


def _binary_pair(rng: np.random.Generator, n: int, shift_a: float = 1.0, shift_b: float = 0.7):  # type: ignore[no-untyped-def]
    y = rng.integers(0, 2, n)
    a, b = rng.normal(shift_a * y, 1.0), rng.normal(shift_b * y, 1.0)
    sig_a, sig_b = 1 / (1 + np.exp(-a)), 1 / (1 + np.exp(-b))
    target = Target("binary_classification", y, (0, 1), 1)
    preds = {
        "a": Predictions((sig_a > 0.5).astype(int), np.c_[1 - sig_a, sig_a]),
        "b": Predictions((sig_b > 0.5).astype(int), np.c_[1 - sig_b, sig_b]),
    }
    return target, preds, a, b


def _measure(
    target: Target, preds: dict[str, Predictions], name: str, settings: compare.Settings = SETTINGS
) -> compare.Measurements:
    return compare.measure(target, preds, (name,), compare.Grouping.whole(target.n), [("a", "b")], settings)


def _delong_textbook(y: np.ndarray, a: np.ndarray, b: np.ndarray) -> tuple[float, float]:
    """DeLong et al. (1988) with explicit structural components: AUC_a - AUC_b and its variance."""

    def components(s: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        pos, neg = s[y == 1], s[y == 0]
        psi = (pos[:, None] > neg[None, :]) + 0.5 * (pos[:, None] == neg[None, :])
        return psi.mean(axis=1), psi.mean(axis=0)

    (a10, a01), (b10, b01) = components(a), components(b)
    s10, s01 = np.cov(np.vstack([a10, b10])), np.cov(np.vstack([a01, b01]))
    variance = (s10[0, 0] + s10[1, 1] - 2 * s10[0, 1]) / a10.size + (s01[0, 0] + s01[1, 1] - 2 * s01[0, 1]) / a01.size
    return float(a10.mean() - b10.mean()), float(variance)


def test_delong_difference_and_variance_equal_the_textbook_form_with_ties() -> None:
    rng = np.random.default_rng(1)
    target, preds, _, _ = _binary_pair(rng, 500)
    for p in preds.values():
        assert p.scores is not None
        p.scores[:] = np.round(p.scores, 2)  # ties between and within classes
    a, b = preds["a"].scores[:, 1], preds["b"].scores[:, 1]  # type: ignore[index, unused-ignore]
    diff, variance = _delong_textbook(target.y, a, b)
    paired = _measure(target, preds, "roc_auc").paired[("roc_auc", "a", "b")]
    assert paired.value[0] == pytest.approx(diff, abs=1e-12)
    assert paired.se[0] ** 2 == pytest.approx(variance, rel=1e-9)
    z = stats.norm.ppf(0.975)
    assert (paired.low[0], paired.high[0]) == pytest.approx((diff - z * variance**0.5, diff + z * variance**0.5))


def test_block_bootstrap_agrees_with_scipy_paired_bootstrap() -> None:
    rng = np.random.default_rng(2)
    target, preds, _, _ = _binary_pair(rng, 800)
    ours = _measure(target, preds, "accuracy").paired[("accuracy", "a", "b")]
    la, lb = preds["a"].labels, preds["b"].labels
    scipy_ci = stats.bootstrap(
        (target.y, la, lb),
        lambda y, x1, x2: skm.accuracy_score(y, x1) - skm.accuracy_score(y, x2),
        paired=True,
        vectorized=False,
        n_resamples=2000,
        method="percentile",
        random_state=0,
    ).confidence_interval
    width = scipy_ci.high - scipy_ci.low
    assert abs(ours.low[0] - scipy_ci.low) < 0.15 * width
    assert abs(ours.high[0] - scipy_ci.high) < 0.15 * width


def test_blocks_on_large_data_match_the_normal_theory_interval_of_a_mean_difference() -> None:
    rng = np.random.default_rng(4)
    n = 200_000
    y = rng.normal(0.0, 1.0, n)
    a, b = y + rng.normal(0, 1.0, n), y + rng.normal(0, 1.1, n)
    target = Target("regression", y)
    preds = {"a": Predictions(values=a), "b": Predictions(values=b)}
    ours = _measure(target, preds, "mae").paired[("mae", "a", "b")]
    d = np.abs(a - y) - np.abs(b - y)
    half = stats.norm.ppf(0.975) * d.std(ddof=1) / np.sqrt(n)
    assert ours.value[0] == pytest.approx(d.mean())
    assert (ours.high[0] - ours.low[0]) / 2 == pytest.approx(half, rel=0.1)


def test_average_precision_standard_error_agrees_with_a_bootstrap() -> None:
    rng = np.random.default_rng(5)
    target, preds, _, _ = _binary_pair(rng, 400)
    a, b = preds["a"].scores[:, 1], preds["b"].scores[:, 1]  # type: ignore[index, unused-ignore]
    draws = []
    for _ in range(1500):
        i = rng.integers(0, target.n, target.n)
        draws.append(skm.average_precision_score(target.y[i], a[i]) - skm.average_precision_score(target.y[i], b[i]))
    se = _measure(target, preds, "pr_auc").paired[("pr_auc", "a", "b")].se[0]
    assert se == pytest.approx(np.std(draws), rel=0.15)


def _truth_accuracy(rng: np.random.Generator, n: int) -> tuple[Target, dict[str, Predictions]]:
    y = rng.integers(0, 2, n)
    right_a, right_b = rng.random(n) < 0.85, rng.random(n) < 0.80  # true difference 0.05
    return Target("binary_classification", y, (0, 1), 1), {
        "a": Predictions(np.where(right_a, y, 1 - y)),
        "b": Predictions(np.where(right_b, y, 1 - y)),
    }


def _coverage(draw, name: str, truth: float, repeats: int = 200) -> float:  # type: ignore[no-untyped-def]
    rng = np.random.default_rng(99)
    settings = compare.Settings(confidence=0.95, resamples=400, seed=1)
    hits = 0
    for _ in range(repeats):
        target, preds = draw(rng)
        paired = _measure(target, preds, name, settings).paired[(name, "a", "b")]
        hits += paired.low[0] <= truth <= paired.high[0]
    return hits / repeats


def test_bootstrap_interval_covers_the_true_accuracy_difference_at_nominal_rate() -> None:
    assert _coverage(lambda rng: _truth_accuracy(rng, 400), "accuracy", 0.05) >= 0.90


def test_delong_interval_covers_the_true_auc_difference_at_nominal_rate() -> None:
    # Binormal scores: AUC = Phi(d / sqrt(2)) for a mean shift d between classes.
    truth = stats.norm.cdf(1.0 / np.sqrt(2)) - stats.norm.cdf(0.7 / np.sqrt(2))

    def draw(rng: np.random.Generator) -> tuple[Target, dict[str, Predictions]]:
        target, preds, _, _ = _binary_pair(rng, 300)
        return target, preds

    assert _coverage(draw, "roc_auc", truth) >= 0.90


def test_bootstrap_interval_covers_the_true_rmse_difference_at_nominal_rate() -> None:
    def draw(rng: np.random.Generator) -> tuple[Target, dict[str, Predictions]]:
        y = rng.normal(0, 1, 300)
        return Target("regression", y), {
            "a": Predictions(values=y + rng.normal(0, 1.0, 300)),
            "b": Predictions(values=y + rng.normal(0, 1.2, 300)),
        }

    assert _coverage(draw, "rmse", 1.0 - 1.2) >= 0.90


def test_same_seed_same_interval_and_another_seed_another() -> None:
    rng = np.random.default_rng(6)
    target, preds, _, _ = _binary_pair(rng, 300)
    first = _measure(target, preds, "f1").paired[("f1", "a", "b")]
    again = _measure(target, preds, "f1").paired[("f1", "a", "b")]
    other = _measure(target, preds, "f1", compare.Settings(seed=4)).paired[("f1", "a", "b")]
    assert (first.low[0], first.high[0]) == (again.low[0], again.high[0])
    assert (first.low[0], first.high[0]) != (other.low[0], other.high[0])


@pytest.mark.parametrize(
    "method,expected",
    [
        ("none", [0.01, 0.04, 0.03, 0.005]),
        ("bonferroni", [0.04, 0.16, 0.12, 0.02]),
        ("holm", [0.03, 0.06, 0.06, 0.02]),  # sorted 0.005*4, 0.01*3, 0.03*2 (max so far), 0.04*1 -> max 0.06
    ],
)
def test_multiple_comparison_adjustment(method: str, expected: list[float]) -> None:
    assert intervals.adjust(np.array([0.01, 0.04, 0.03, 0.005]), method) == pytest.approx(expected)


def test_wilson_interval_matches_its_closed_form() -> None:
    low, high = intervals.wilson(30, 200, 0.95)
    z = stats.norm.ppf(0.975)
    p, n = 0.15, 200
    centre = (p + z * z / (2 * n)) / (1 + z * z / n)
    half = z / (1 + z * z / n) * np.sqrt(p * (1 - p) / n + z * z / (4 * n * n))
    assert (low, high) == pytest.approx((centre - half, centre + half))


def test_normal_quantiles_and_tails_are_scipy_stats_to_the_last_digits() -> None:
    """z values and one-sided p-values come from the standard library (see `tails`: SciPy costs an import); they
    are what scipy.stats.norm gives to within a few units in the last place, tails, infinities and NaN included."""
    for level in (0.5, 0.8, 0.9, 0.95, 0.975, 0.99, 0.999):
        assert intervals.z_value(level) == pytest.approx(float(stats.norm.ppf(0.5 + level / 2.0)), rel=1e-15)
    statistic = np.concatenate([np.linspace(-37.0, 37.0, 20_001), [np.inf, -np.inf, np.nan]])
    ours, theirs = intervals.one_sided_p(statistic), stats.norm.sf(statistic)
    assert ours.dtype == np.float64
    assert np.allclose(ours, theirs, rtol=1e-12, atol=0.0, equal_nan=True)  # 2e-13 at z = 37
    assert intervals.one_sided_p(np.array([3, -1])) == pytest.approx(stats.norm.sf([3, -1]), rel=1e-15)  # integers
