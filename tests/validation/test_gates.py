"""Gate decisions as a table: pass, fail or inconclusive from an interval and a threshold."""

from __future__ import annotations

import pytest

from bot.evidence import Status
from bot.policy.gates import BaselineGain, Bounds, ChampionMargins
from bot.validation import gates


@pytest.mark.parametrize(
    "low,high,threshold,higher_is_good,expected",
    [
        (0.90, 0.95, 0.85, True, Status.PASS),
        (0.80, 0.84, 0.85, True, Status.FAIL),
        (0.83, 0.88, 0.85, True, Status.INCONCLUSIVE),
        (0.85, 0.90, 0.85, True, Status.PASS),  # the bound itself clears a floor
        (0.10, 0.12, 0.15, False, Status.PASS),
        (0.16, 0.20, 0.15, False, Status.FAIL),
        (0.14, 0.16, 0.15, False, Status.INCONCLUSIVE),
        (None, 0.9, 0.5, True, Status.INCONCLUSIVE),
        (float("nan"), 0.9, 0.5, True, Status.INCONCLUSIVE),
    ],
)
def test_an_interval_is_judged_against_a_threshold(low, high, threshold, higher_is_good, expected) -> None:  # type: ignore[no-untyped-def]
    assert gates.judge(low, high, threshold, higher_is_good) is expected


def test_floor_and_ceiling_give_one_gate_each() -> None:
    results = gates.floors("roc_auc", {"value": 0.9, "low": 0.88, "high": 0.92}, Bounds(0.85, 0.91), 0.95)
    assert [(r.gate, r.status) for r in results] == [
        ("metric.roc_auc.min", Status.PASS),
        ("metric.roc_auc.max", Status.INCONCLUSIVE),
    ]
    assert "0.88" in results[0].reason and ">= 0.85" in results[0].reason


@pytest.mark.parametrize(
    "metric,diff,spec,expected",
    [
        # ROC AUC (greater is better): candidate - champion in [-0.005, +0.01]
        ("roc_auc", (0.002, -0.005, 0.01), {"non_inferiority": 0.01}, Status.PASS),
        ("roc_auc", (0.002, -0.005, 0.01), {"non_inferiority": 0.001}, Status.INCONCLUSIVE),
        ("roc_auc", (-0.05, -0.07, -0.03), {"non_inferiority": 0.01}, Status.FAIL),
        ("roc_auc", (0.03, 0.02, 0.04), {"min_improvement": 0.01}, Status.PASS),
        ("roc_auc", (0.03, 0.02, 0.04), {"min_improvement": 0.05}, Status.FAIL),
        # Log loss (lower is better): a negative difference is an improvement
        ("log_loss", (-0.03, -0.04, -0.02), {"min_improvement": 0.01}, Status.PASS),
        ("log_loss", (0.03, 0.02, 0.04), {"non_inferiority": 0.01}, Status.FAIL),
        # relative margin: 10 % of the champion's 0.5 = 0.05
        ("mae", (0.04, 0.03, 0.045), {"non_inferiority": 0.1, "relative": True}, Status.PASS),
        ("mae", (0.04, 0.03, 0.06), {"non_inferiority": 0.1, "relative": True}, Status.INCONCLUSIVE),
    ],
)
def test_champion_comparison_is_judged_on_the_oriented_paired_interval(metric, diff, spec, expected) -> None:  # type: ignore[no-untyped-def]
    estimate = dict(zip(("value", "low", "high"), diff, strict=True))
    (result,) = gates.versus("champion", metric, estimate, 0.5, ChampionMargins.of(spec), 0.95)
    assert result.status is expected


def test_baseline_gain_and_missing_difference() -> None:
    estimate = {"value": 0.3, "low": 0.25, "high": 0.35}
    (gain,) = gates.versus("baseline", "accuracy", estimate, 0.6, BaselineGain(0.1), 0.95)
    assert gain.status is Status.PASS and gain.gate == "baseline.accuracy.min_gain"
    (missing,) = gates.versus("champion", "roc_auc", None, None, ChampionMargins(0.01), 0.95)
    assert missing.status is Status.INCONCLUSIVE


def test_a_first_deployment_skips_champion_gates_and_says_so() -> None:
    results = gates.no_champion(
        "production", {"roc_auc": ChampionMargins(non_inferiority=0.01), "f1": ChampionMargins(min_improvement=0)}
    )
    assert {r.gate for r in results} == {"champion.roc_auc.non_inferiority", "champion.f1.min_improvement"}
    assert all(r.status is Status.SKIPPED and "first deployment to production" in r.reason for r in results)
