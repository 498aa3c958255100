"""Render Evidence as report.md (a PR comment) and report.json (the evidence record).

GitHub refuses comments over 65,536 characters, so the Markdown is fitted: first rendered whole; then folded
(tables collapsed and shortened, charts dropped only at the last steps, the rest pointed to the full record);
and only if still too long, cut at a line boundary with open blocks closed and a pointer to the full artifact
appended.
"""

from __future__ import annotations

import json
from functools import cache
from pathlib import Path
from typing import TYPE_CHECKING, Any

from bot.evidence import Status
from bot.validation.record import Evidence, clean

if TYPE_CHECKING:
    import jinja2

LIMIT = 65_536
POINTER = "report.json"
TEMPLATE = "validation_report.md.j2"
ICONS = {"pass": "✅", "fail": "❌", "inconclusive": "⚠️", "skipped": "➖"}
ORDER = {Status.FAIL: 0, Status.INCONCLUSIVE: 1, Status.PASS: 2, Status.SKIPPED: 3}
FOLD_STEPS = (50, 20, 10, 5, 0)
CHARTS_UNTIL = 10  # charts (a few hundred characters each, the picture a reviewer reads first) stay while tables
# fold down to this many rows; only the last steps drop them
_CELL_MAX = 600


def verdict(ev: Evidence) -> str:
    """The report's first line."""
    counts = ev.counts()
    subject = f"{ev.model} {ev.version} → {ev.stage}"
    if ev.status == Status.FAIL:
        unclear = f", {counts['inconclusive']} inconclusive," if counts["inconclusive"] else ""
        return f"## ❌ Validation failed: {counts['fail']} gate(s) fail{unclear} for {subject}"
    if ev.status == Status.INCONCLUSIVE:
        return (
            f"## ⚠️ Validation inconclusive: {counts['inconclusive']} gate(s) cannot be decided from this "
            f"data for {subject} (not a pass)"
        )
    if not ev.gates:
        return f"## ✅ Validation passed: no gate is configured for {subject}"
    return f"## ✅ Validation passed: all {counts['pass']} gate(s) pass for {subject}"


def cell(value: Any) -> str:
    """Text safe inside a Markdown table cell: one line, pipes escaped, bounded length."""
    if isinstance(value, float):
        text = f"{value:.4g}"
    elif isinstance(value, dict | list):
        text = json.dumps(clean(value), separators=(",", ":"))
    else:
        text = str(value)
    text = text.replace("\r", " ").replace("\n", " ").replace("|", "\\|")
    return text if len(text) <= _CELL_MAX else text[: _CELL_MAX - 1] + "…"


@cache
def _environment() -> jinja2.Environment:
    import jinja2

    env = jinja2.Environment(
        loader=jinja2.PackageLoader("bot", "templates"),
        autoescape=False,
        trim_blocks=True,
        lstrip_blocks=True,
        keep_trailing_newline=True,
        undefined=jinja2.StrictUndefined,
    )
    env.filters["cell"] = cell
    return env


def _flatten(value: Any, prefix: str = "") -> list[tuple[str, Any]]:
    if isinstance(value, dict):
        out: list[tuple[str, Any]] = []
        for key, item in value.items():
            out.extend(_flatten(item, f"{prefix}.{key}" if prefix else str(key)))
        return out
    return [(prefix, "none" if value is None else value)]


def _render(ev: Evidence, max_rows: int | None, pointer: str) -> str:
    folded = max_rows is not None
    counts = ev.counts()
    return (
        _environment()
        .get_template(TEMPLATE)
        .render(
            ev=ev,
            verdict=verdict(ev),
            icons=ICONS,
            pointer=pointer,
            counts=", ".join(f"{n} {status}" for status, n in counts.items() if n),
            max_rows=10**9 if max_rows is None else max_rows,
            fold_all=folded,
            show_charts=max_rows is None or max_rows >= CHARTS_UNTIL,
            inputs=_flatten(ev.inputs),
            gates=sorted(ev.gates, key=lambda g: ORDER[g.status]),
        )
    )


def markdown(ev: Evidence, limit: int = LIMIT, pointer: str = POINTER) -> tuple[str, dict[str, Any]]:
    """report.md text within `limit` characters, and how it was fitted (folded, truncated, chars)."""
    text = _render(ev, None, pointer)
    folded = False
    for rows in FOLD_STEPS:
        if len(text) <= limit:
            break
        folded = True
        text = _render(ev, rows, pointer)
    truncated = len(text) > limit
    if truncated:
        text = truncate(text, limit, pointer)
    return text, {"chars": len(text), "limit": limit, "folded": folded, "truncated": truncated}


def truncate(text: str, limit: int, pointer: str) -> str:
    """Cut at a line boundary, close what the cut left open, and point to the full report."""
    tail = (
        f"\n\n---\n**Report truncated** at GitHub's {limit:,}-character comment limit; "
        f"the full evidence is in {pointer}.\n"
    )
    budget = limit - len(tail) - 64
    head = text[:budget]
    head = head[: head.rfind("\n") + 1] if "\n" in head else head
    closers = ""
    if head.count("```") % 2:
        closers += "\n```\n"
    closers += "\n</details>\n" * max(0, head.count("<details>") - head.count("</details>"))
    return (head + closers + tail)[:limit]


def write(ev: Evidence, out: Path, pointer: str | None = None, limit: int = LIMIT) -> tuple[Path, Path]:
    """Write report.md and report.json into `out` (created if needed); the JSON records how the Markdown
    was fitted."""
    out.mkdir(parents=True, exist_ok=True)
    md_path, json_path = out / "report.md", out / "report.json"
    text, fitting = markdown(ev, limit, pointer or str(json_path))
    record = ev.as_dict()
    record["report"] = fitting
    md_path.write_text(text, encoding="utf-8")
    json_path.write_text(json.dumps(record, indent=2, allow_nan=False) + "\n", encoding="utf-8")
    return md_path, json_path
