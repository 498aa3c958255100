"""The monitoring report: Markdown with Mermaid `xychart-beta` charts (GitHub renders them, no images), and JSON.

Charts: for each check breached in some window, each of its statistics over the windows (the worst subject per
window, with the limit as a second line); for drift, the current window's distance per feature.
"""

from __future__ import annotations

import json
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

from bot.monitor.checks import STAT_TITLES
from bot.monitor.results import CheckSeries, Verdict
from bot.monitor.run import Report

ICONS = {Verdict.PASS: "✅", Verdict.FAIL: "❌", Verdict.INCONCLUSIVE: "⚠️", Verdict.NO_DATA: "⬜"}
MARKER = "<!-- modelbot:monitor model={model} stage={stage} -->"
CHART_FEATURES = 30


@dataclass(frozen=True)
class Chart:
    title: str
    x: tuple[str, ...]
    y_title: str
    series: tuple[tuple[str, tuple[float, ...]], ...]  # (name, values); the first is drawn as bars when `bars`
    bars: bool = False

    def mermaid(self) -> str:
        top = max((v for _, values in self.series for v in values), default=0.0)
        lines = [
            "xychart-beta",
            f'    title "{_q(self.title)}"',
            "    x-axis [" + ", ".join(f'"{_q(x)}"' for x in self.x) + "]",
            f'    y-axis "{_q(self.y_title)}" 0 --> {_nice(top)}',
        ]
        for i, (_, values) in enumerate(self.series):
            kind = "bar" if self.bars and i == 0 else "line"
            lines.append(f"    {kind} [" + ", ".join(f"{v:.4g}" for v in values) + "]")
        return "\n".join(lines)

    def as_dict(self) -> dict[str, Any]:
        return {"title": self.title, "x": list(self.x), "y": self.y_title, "series": [list(s) for s in self.series]}


def _q(text: str) -> str:
    return str(text).replace('"', "'").replace("\n", " ")


def _nice(top: float) -> str:
    return f"{max(top * 1.1, 1e-9):.3g}"


def over_windows(check: CheckSeries) -> list[Chart]:
    """Each statistic of a breached check over the windows: the worst subject's value, and the limit."""
    if check.breached_windows == 0:
        return []
    labels = tuple(w.window.label for w in check.windows)
    charts = []
    for stat in check.stats:
        worst: list[float] = []
        limit: float | None = None
        for w in check.windows:
            values = [m.value for m in w.measures if m.stat == stat and m.value is not None]
            limits = [m.limit for m in w.measures if m.stat == stat and m.limit is not None]
            worst.append(max(values) if values else 0.0)
            limit = limits[0] if limits else limit
        if not any(m.stat == stat and m.breached for w in check.windows for m in w.measures):
            continue
        title = STAT_TITLES.get(stat, stat)
        series: list[tuple[str, tuple[float, ...]]] = [(f"worst {title}", tuple(worst))]
        if limit is not None:
            series.append(("limit", (limit,) * len(worst)))
        charts.append(Chart(f"{check.title}: {title}, worst per window", labels, title, tuple(series)))
    return charts


def per_feature(check: CheckSeries) -> list[Chart]:
    """Drift per feature in the latest window with data, one bar chart per statistic that has a limit."""
    current = next((w for w in reversed(check.windows) if w.measures), None)
    if current is None:
        return []
    charts = []
    for stat in check.stats:
        measured = [m for m in current.measures if m.stat == stat and m.value is not None]
        if not measured:
            continue
        measured = sorted(measured, key=lambda m: -(m.value or 0.0))[:CHART_FEATURES]
        title = STAT_TITLES.get(stat, stat)
        series: list[tuple[str, tuple[float, ...]]] = [(title, tuple(m.value or 0.0 for m in measured))]
        if measured[0].limit is not None:
            series.append(("limit", (measured[0].limit,) * len(measured)))
        charts.append(
            Chart(
                f"{title} per feature, window from {current.window.label}",
                tuple(m.subject for m in measured),
                title,
                tuple(series),
                bars=True,
            )
        )
    return charts


def charts(report: Report) -> dict[str, list[Chart]]:
    found: dict[str, list[Chart]] = {}
    for check in report.checks:
        items = over_windows(check)
        if check.kind == "drift" and check.current.verdict is Verdict.FAIL:
            items += per_feature(check)
        if items:
            found[check.kind] = items
    return found


def headline(report: Report) -> str:
    if report.breaches:
        kinds = ", ".join(c.title for c in report.breaches)
        return f"❌ {report.model} / {report.stage}: breached in the current window: {kinds}"
    if all(c.current.verdict is Verdict.PASS for c in report.checks) and report.checks:
        return f"✅ {report.model} / {report.stage}: every check passes in the current window"
    open_ = ", ".join(
        f"{c.title} ({c.current.verdict.value})" for c in report.checks if c.current.verdict is not Verdict.PASS
    )
    return f"⚠️ {report.model} / {report.stage}: no breach, but not every check could pass: {open_ or 'no check ran'}"


def markdown(report: Report, checks: Sequence[str] | None = None) -> str:
    from bot import texts

    shown = [c for c in report.checks if checks is None or c.kind in checks]
    return texts.render(
        "monitor_report.md.j2",
        report=report,
        checks=shown,
        charts=charts(report),
        headline=headline(report),
        icons=ICONS,
        marker=MARKER.format(model=report.model, stage=report.stage),
    )


def as_json(report: Report) -> dict[str, Any]:
    return {
        **report.as_dict(),
        "headline": headline(report),
        "charts": {k: [c.as_dict() for c in v] for k, v in charts(report).items()},
    }


def files(report: Report) -> dict[str, str]:
    """The report's files by name: monitor.md and monitor.json (the caller writes them)."""
    return {
        "monitor.md": markdown(report),
        "monitor.json": json.dumps(as_json(report), indent=2, default=str) + "\n",
    }
