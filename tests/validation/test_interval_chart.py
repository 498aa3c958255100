"""The metric-interval charts: each champion or baseline gate's improvement interval against its threshold, one
chart per metric, with numbers taken from the gates themselves."""

from __future__ import annotations

from bot.evidence import GateResult, Status
from bot.policy.gates import BaselineGain, ChampionMargins
from bot.validation import gates, interval_chart


def test_each_metric_gets_a_chart_of_its_gates_intervals_and_thresholds() -> None:
    auc = gates.versus(
        "champion",
        "roc_auc",
        {"value": -0.01, "low": -0.03, "high": 0.01},
        0.95,
        ChampionMargins.of({"non_inferiority": 0.02}),
        0.95,
    )
    # brier: lower is better, so a raw difference of -0.02 [-0.03, -0.01] is an improvement of +0.02 [0.01, 0.03]
    brier = gates.versus(
        "baseline",
        "brier",
        {"value": -0.02, "low": -0.03, "high": -0.01},
        0.25,
        BaselineGain.of({"min_gain": 0.015}),
        0.95,
    )
    skipped = [GateResult("champion.accuracy.non_inferiority", Status.SKIPPED, "no champion", None, 0.02)]
    floor = [GateResult("metric.roc_auc.min", Status.PASS, "ok", {"value": 0.9, "low": 0.8, "high": 0.95}, 0.7)]
    texts = interval_chart.charts([*auc, *brier, *skipped, *floor])
    assert len(texts) == 2
    roc, br = texts
    assert roc.splitlines() == [
        "xychart-beta",
        '    title "ROC AUC: improvement interval (band between the bar tops) vs the gate\'s threshold (line)"',
        '    x-axis ["vs champion: no worse"]',
        '    y-axis "improvement" -0.034 --> 0.014',  # [-0.03, 0.01] and -0.02, padded by a tenth of 0.04
        "    bar [0.01]",
        "    bar [-0.03]",
        "    line [-0.02]",
    ]
    assert auc[0].status == Status.INCONCLUSIVE  # the band [-0.03, 0.01] straddles the line at -0.02
    assert br.splitlines()[2:] == [
        '    x-axis ["vs baseline: gain"]',
        '    y-axis "improvement" 0.008 --> 0.032',
        "    bar [0.03]",
        "    bar [0.01]",
        "    line [0.015]",
    ]


def test_no_gate_with_an_interval_no_chart() -> None:
    none_found = [GateResult("champion.roc_auc.non_inferiority", Status.INCONCLUSIVE, "no pair", None, 0.02)]
    assert interval_chart.charts(none_found) == []
    assert interval_chart.axis([interval_chart.Bar("x", 0.0, 0.0, 0.0)]) == (-1e-4, 1e-4)
