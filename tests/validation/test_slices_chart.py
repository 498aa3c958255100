"""The slices' Mermaid chart, rendered from its template: the worst judged slices, the overall value as a line."""

from __future__ import annotations

from bot.report import render
from bot.validation import slices
from bot.validation.record import Evidence, Section
from bot.validation.slices import Row


def _row(label: str, value: float | None, status: str = "pass") -> Row:
    return Row(label, 50, {"value": value, "low": None, "high": None, "se": None}, None, None, status)


def test_the_chart_lists_judged_slices_with_values_and_the_overall_line() -> None:
    rows = [
        _row('region="north"', 0.61234),
        _row("few", 0.1, slices.INSUFFICIENT),
        _row("one class", None, slices.UNDEFINED),
        _row("segment=" + "x" * 50, 0.00001234),
        _row("region=south", 0.9, "inconclusive"),
    ]
    expected = (
        "xychart-beta\n"
        '    title "Accuracy by slice (worst 3)"\n'
        "    x-axis [\"region='north'\", \"segment=" + "x" * 32 + '", "region=south"]\n'
        '    y-axis "Accuracy"\n'
        "    bar [0.6123, 1.234e-05, 0.9]\n"
        "    line [0.75, 0.75, 0.75]"
    )
    assert slices.chart(rows, "accuracy", 0.75) == expected


def test_at_most_twenty_slices_and_none_without_a_judged_one() -> None:
    many = [_row(f"s={i}", i / 100) for i in range(25)]
    text = slices.chart(many, "mae", 1.5)
    assert '"MAE by slice (worst 20)"' in text and '"s=19"' in text and '"s=20"' not in text
    assert text.splitlines()[-1] == "    line [" + ", ".join(["1.5"] * 20) + "]"
    assert slices.chart([_row("few", 0.2, slices.INSUFFICIENT)], "mae", 1.0) == ""


def test_the_report_shows_the_chart_in_a_mermaid_block_and_drops_it_when_folded() -> None:
    chart = slices.chart([_row("a=1", 0.5)], "accuracy", 0.5)
    ev = Evidence("m", "2", "staging", "binary_classification")
    ev.add("slices", Section("Slices", "one slice", chart=chart))
    text, _ = render.markdown(ev)
    assert f"```mermaid\n{chart}\n```\n" in text
    assert ev.as_dict()["sections"]["slices"]["chart"] == chart
    folded, fitting = render.markdown(ev, limit=len(text) - 1)
    assert fitting["folded"] and "mermaid" not in folded
