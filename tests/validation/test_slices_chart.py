"""The slices' Mermaid chart, rendered from its template: the worst judged slices' candidate values as bars, the
champion's on the same slices as a line (the overall value when the champion lacks one)."""

from __future__ import annotations

from bot.report import render
from bot.validation import slices
from bot.validation.record import Evidence, Section, Table
from bot.validation.slices import Row


def _row(label: str, value: float | None, status: str = "pass", champion: float | None = None) -> Row:
    return Row(label, 50, {"value": value, "low": None, "high": None, "se": None}, champion, None, status)


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
        '    title "Accuracy by slice (worst 3): bars candidate, line overall"\n'
        '    x-axis ["region=\'north\'", "segment=' + "x" * 32 + '", "region=south"]\n'
        '    y-axis "Accuracy"\n'
        "    bar [0.6123, 1.234e-05, 0.9]\n"
        "    line [0.75, 0.75, 0.75]"
    )
    assert slices.chart(rows, "accuracy", 0.75) == expected


def test_at_most_twenty_slices_and_none_without_a_judged_one() -> None:
    many = [_row(f"s={i}", i / 100) for i in range(25)]
    text = slices.chart(many, "mae", 1.5)
    assert (
        '"MAE by slice (worst 20): bars candidate, line overall"' in text and '"s=19"' in text and '"s=20"' not in text
    )
    assert text.splitlines()[-1] == "    line [" + ", ".join(["1.5"] * 20) + "]"
    assert slices.chart([_row("few", 0.2, slices.INSUFFICIENT)], "mae", 1.0) == ""


def test_the_champion_is_the_line_when_it_has_a_value_on_every_slice_shown() -> None:
    rows = [_row("a=1", 0.5, champion=0.75), _row("a=2", 0.625, champion=0.5), _row("few", 0.1, slices.INSUFFICIENT)]
    text = slices.chart(rows, "accuracy", 0.6)
    assert text.splitlines()[1] == '    title "Accuracy by slice (worst 2): bars candidate, line champion"'
    assert text.splitlines()[-2:] == ["    bar [0.5, 0.625]", "    line [0.75, 0.5]"]
    gap = slices.chart([_row("a=1", 0.5, champion=0.75), _row("a=2", 0.625)], "accuracy", 0.6)
    assert gap.splitlines()[-1] == "    line [0.6, 0.6]" and "line overall" in gap


def test_the_report_shows_the_charts_in_mermaid_blocks_and_drops_them_only_at_the_last_folds() -> None:
    chart = slices.chart([_row("a=1", 0.5)], "accuracy", 0.5)
    ev = Evidence("m", "2", "staging", "binary_classification")
    ev.add("slices", Section("Slices", "one slice", chart=chart, charts=["xychart-beta\n    bar [1]"]))
    text, _ = render.markdown(ev)
    assert f"```mermaid\n{chart}\n```\n\n```mermaid\nxychart-beta\n    bar [1]\n```\n" in text
    assert ev.as_dict()["sections"]["slices"]["chart"] == chart
    assert ev.as_dict()["sections"]["slices"]["charts"] == ["xychart-beta\n    bar [1]"]
    ev.add("big", Section("Big", tables=[Table("t", ["a"], [[i] for i in range(30)])]))
    whole, _ = render.markdown(ev)
    folded, fitting = render.markdown(ev, limit=len(whole) - 1)  # folds to 50 rows: charts stay
    assert fitting["folded"] and folded.count("```mermaid") == 2
    rows_10 = render._render(ev, 10, "p")
    rows_5 = render._render(ev, 5, "p")
    assert rows_10.count("```mermaid") == 2 and "mermaid" not in rows_5
