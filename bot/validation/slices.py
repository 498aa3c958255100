"""Per-slice evidence: each value of each slice column and each declared cross of two, with row counts, the
candidate's metric and interval, the difference to the champion, worst first.

Slices under `min_rows` are "insufficient data": listed, never judged, never a pass. The worst-slice and
per-slice-regression gates test every judged slice; with many slices the family-wise error is controlled
(Holm by default) on one-sided normal tests built from each slice's standard error, so a slice is declared
failing (or passing) only when that holds after correction, and is inconclusive otherwise.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

import numpy as np

from bot import texts
from bot.evidence import GateResult, Status
from bot.policy.gates import Slices
from bot.validation import compare, intervals
from bot.validation.gates import fmt, interval_text
from bot.validation.metrics import METRICS
from bot.validation.outputs import Predictions, Target
from bot.validation.record import Section, Table

if TYPE_CHECKING:
    import pandas as pd

MISSING = "(missing)"
CHART_SLICES = 20
CHART_TEMPLATE = "slices_chart.mmd.j2"
INSUFFICIENT = "insufficient data"
UNDEFINED = "undefined"  # e.g. ROC AUC in a slice holding one class only
UNJUDGED = (INSUFFICIENT, UNDEFINED)


@dataclass(frozen=True)
class Row:
    """One slice's numbers, ready for gates and the report."""

    label: str
    rows: int
    candidate: dict[str, float | None]
    champion: float | None
    diff: dict[str, float | None] | None
    status: str = "measured"


def _codes(series: pd.Series) -> tuple[np.ndarray, list[str]]:
    import pandas as pd

    codes, uniques = pd.factorize(series, use_na_sentinel=True)
    labels = [str(v) for v in uniques]
    codes = np.asarray(codes, dtype=np.int32)
    if (codes < 0).any():
        codes = np.where(codes < 0, len(labels), codes)
        labels.append(MISSING)
    return codes, labels


def groupings(
    frame: pd.DataFrame, columns: Sequence[str], crosses: Sequence[tuple[str, str]]
) -> tuple[list[compare.Grouping], list[str]]:
    """Groupings for the declared slice columns and crosses present in the data, and the missing columns."""
    missing = [c for c in columns if c not in frame.columns]
    coded = {c: _codes(frame[c]) for c in columns if c in frame.columns}
    found = [compare.Grouping(c, codes, tuple(f"{c}={v}" for v in labels)) for c, (codes, labels) in coded.items()]
    for a, b in crosses:
        if a in coded and b in coded:
            found.append(_cross(a, b, coded[a], coded[b]))
    return found, missing


def _cross(a: str, b: str, left: tuple[np.ndarray, list[str]], right: tuple[np.ndarray, list[str]]) -> compare.Grouping:
    width = len(right[1])
    combined = left[0].astype(np.int64) * width + right[0]
    counts = np.bincount(combined, minlength=len(left[1]) * width)
    present = np.flatnonzero(counts)
    remap = np.full(counts.shape[0], -1, dtype=np.int32)
    remap[present] = np.arange(present.shape[0])
    labels = tuple(f"{a}={left[1][p // width]} × {b}={right[1][p % width]}" for p in present)
    return compare.Grouping(f"{a} × {b}", remap[combined], labels)


def measure(
    frame: pd.DataFrame,
    columns: Sequence[str],
    crosses: Sequence[tuple[str, str]],
    metric: str,
    target: Target,
    preds: Mapping[str, Predictions],
    settings: compare.Settings,
    order: compare.ScoreOrder,
) -> tuple[list[Row], list[str]]:
    """Every slice's row for `metric` (candidate, and champion when present), and missing slice columns."""
    roles = {r: p for r, p in preds.items() if r in ("candidate", "champion")}
    found, missing = groupings(frame, columns, crosses)
    rows: list[Row] = []
    for grouping in found:
        m = compare.measure(target, roles, [metric], grouping, [("candidate", "champion")], settings, order)
        cand, champ = m.single.get((metric, "candidate")), m.single.get((metric, "champion"))
        diff = m.paired.get((metric, "candidate", "champion"))
        for g, label in enumerate(grouping.labels):
            if m.rows[g] == 0 or cand is None:
                continue
            rows.append(
                Row(
                    label,
                    int(m.rows[g]),
                    cand.at(g),
                    None if champ is None else champ.at(g)["value"],
                    None if diff is None else diff.at(g),
                )
            )
    return rows, missing


def _f(x: float | None) -> float:
    return np.nan if x is None else float(x)


def worst_first(rows: list[Row], metric: str) -> list[Row]:
    """Judged slices first, worst metric first; slices without a value last."""
    sign = 1.0 if METRICS[metric].greater_is_better else -1.0
    return sorted(
        rows,
        key=lambda r: (
            r.status in UNJUDGED,
            r.candidate["value"] is None,
            sign * np.nan_to_num(_f(r.candidate["value"])),
        ),
    )


def _decide(distance: np.ndarray, se: np.ndarray, method: str, level: float) -> list[Status]:
    """Per slice: PASS when significantly on the good side of its threshold (distance > 0), FAIL when
    significantly on the bad side, after family-wise adjustment; INCONCLUSIVE otherwise."""
    with np.errstate(divide="ignore", invalid="ignore"):
        z = np.where(se > 0, distance / se, np.where(distance >= 0, np.inf, -np.inf))
    alpha = (1.0 - level) / 2.0
    good = intervals.adjust(intervals.one_sided_p(z), method)
    bad = intervals.adjust(intervals.one_sided_p(-z), method)
    return [
        Status.PASS if g <= alpha else Status.FAIL if b <= alpha else Status.INCONCLUSIVE
        for g, b in zip(good, bad, strict=True)
    ]


def _family_gate(
    gate: str, what: str, judged: list[tuple[Row, Status]], insufficient: int, threshold: Any, details: dict[str, Any]
) -> GateResult:
    statuses = [s for _, s in judged]
    failing = [r.label for r, s in judged if s == Status.FAIL]
    unclear = [r.label for r, s in judged if s == Status.INCONCLUSIVE]
    note = f"; {insufficient} slice(s) with insufficient data or an undefined metric not judged" if insufficient else ""
    if not judged:
        return GateResult(
            gate, Status.INCONCLUSIVE, f"{what}: no slice has enough rows to judge{note}", None, threshold, details
        )
    if Status.FAIL in statuses:
        status, reason = Status.FAIL, f"{what}: {len(failing)} slice(s) fail: {', '.join(failing[:5])}"
    elif Status.INCONCLUSIVE in statuses:
        status, reason = Status.INCONCLUSIVE, f"{what}: {len(unclear)} slice(s) inconclusive: {', '.join(unclear[:5])}"
    else:
        status, reason = Status.PASS, f"{what}: all {len(judged)} judged slices pass"
    return GateResult(gate, status, reason + note, {"failing": failing, "inconclusive": unclear}, threshold, details)


def judge(
    rows: list[Row],
    metric: str,
    overall: float,
    spec: Slices,
    level: float,
    has_champion: bool,
    champion_problem: str | None = None,
) -> tuple[list[Row], list[GateResult]]:
    """Mark insufficient slices and run the worst-ratio and per-slice-regression gates; with a champion the
    stage holds but that could not answer (`champion_problem`), the regression gate is inconclusive."""
    min_rows, method = spec.min_rows, spec.correction
    sign = 1.0 if METRICS[metric].greater_is_better else -1.0
    marked = [
        Row(
            r.label,
            r.rows,
            r.candidate,
            r.champion,
            r.diff,
            INSUFFICIENT if r.rows < min_rows else UNDEFINED if r.candidate["value"] is None else "pass",
        )
        for r in rows
    ]
    judged = [r for r in marked if r.status not in UNJUDGED]
    insufficient = len(marked) - len(judged)
    results: list[GateResult] = []
    verdicts: dict[str, list[Status]] = {}
    if spec.worst_ratio is not None:
        ratio = float(spec.worst_ratio)
        threshold = ratio * overall if sign > 0 else (overall / ratio if ratio > 0 else np.inf)
        distance = np.array([sign * (_f(r.candidate["value"]) - threshold) for r in judged])
        se = np.array([_f(r.candidate["se"]) for r in judged])
        statuses = _decide(distance, se, method, level)
        verdicts["worst_ratio"] = statuses
        results.append(
            _family_gate(
                "slices.worst_ratio",
                f"every slice's {METRICS[metric].title} {'>=' if sign > 0 else '<='} "
                f"{fmt(threshold)} ({ratio:g} x overall {fmt(overall)})",
                list(zip(judged, statuses, strict=True)),
                insufficient,
                threshold,
                {"metric": metric, "correction": method, "min_rows": min_rows},
            )
        )
    if spec.max_regression is not None and has_champion:
        limit = float(spec.max_regression)
        usable = [r for r in judged if r.diff is not None]
        distance = np.array([sign * _f(r.diff["value"]) + limit for r in usable])  # type: ignore[index]  # usable rows all have a diff (filtered above)
        se = np.array([_f(r.diff["se"]) for r in usable])  # type: ignore[index]  # usable rows all have a diff (filtered above)
        statuses = _decide(distance, se, method, level)
        verdicts["max_regression"] = statuses
        results.append(
            _family_gate(
                "slices.max_regression",
                f"no slice regresses against the champion by more than {fmt(limit)}",
                list(zip(usable, statuses, strict=True)),
                insufficient,
                limit,
                {"metric": metric, "correction": method, "min_rows": min_rows},
            )
        )
    elif spec.max_regression is not None and champion_problem:
        results.append(
            GateResult("slices.max_regression", Status.INCONCLUSIVE, champion_problem, None, spec.max_regression)
        )
    elif spec.max_regression is not None:
        results.append(
            GateResult(
                "slices.max_regression", Status.SKIPPED, "no champion: first deployment", None, spec.max_regression
            )
        )
    return _with_status(marked, judged, verdicts), results


def _with_status(marked: list[Row], judged: list[Row], verdicts: dict[str, list[Status]]) -> list[Row]:
    by_label: dict[str, Status] = {}
    for name, statuses in verdicts.items():
        pool = judged if name == "worst_ratio" else [r for r in judged if r.diff is not None]
        for row, status in zip(pool, statuses, strict=True):
            current = by_label.get(row.label, Status.PASS)
            rank = {Status.PASS: 0, Status.INCONCLUSIVE: 1, Status.FAIL: 2}
            by_label[row.label] = status if rank[status] > rank[current] else current
    out = []
    for r in marked:
        said = r.status if r.status in UNJUDGED else (by_label[r.label].value if verdicts else "measured")
        out.append(Row(r.label, r.rows, r.candidate, r.champion, r.diff, said))
    return out


def section(rows: list[Row], metric: str, overall: float, missing: list[str], level: float) -> Section:
    title = METRICS[metric].title
    ordered = worst_first(rows, metric)
    table = Table(
        f"{title} by slice, worst first",
        ["Slice", "Rows", "Candidate", f"Interval ({level:.0%})", "Champion", "Δ vs champion", "Δ interval", "Status"],
        [
            [
                r.label,
                r.rows,
                fmt(r.candidate["value"]),
                interval_text(r.candidate["low"], r.candidate["high"]),
                fmt(r.champion),
                fmt(r.diff["value"], True) if r.diff else "n/a",
                interval_text(r.diff["low"], r.diff["high"], True) if r.diff else "n/a",
                r.status,
            ]
            for r in ordered
        ],
    )
    insufficient = [f"{r.label} ({r.status})" for r in ordered if r.status in UNJUDGED]
    summary = f"{len(rows)} slices on {title}; overall candidate {fmt(overall)}."
    if insufficient:
        summary += f" Not judged: {', '.join(insufficient[:10])}."
    if missing:
        summary += f" Declared slice columns missing from the data: {', '.join(missing)}."
    data = {
        "metric": metric,
        "overall": overall,
        "missing_columns": missing,
        "slices": [
            {
                "slice": r.label,
                "rows": r.rows,
                "candidate": r.candidate,
                "champion": r.champion,
                "difference": r.diff,
                "status": r.status,
            }
            for r in ordered
        ],
    }
    return Section("Slices", summary, tables=[table], chart=chart(ordered, metric, overall), data=data)


def chart(rows: list[Row], metric: str, overall: float) -> str:
    """A Mermaid bar chart of the worst slices, candidate against champion (GitHub renders it): the candidate
    as bars, the champion on the same slices as a line, or the overall value when the champion lacks a slice's
    value; its text is the template CHART_TEMPLATE, without a final newline (the report closes the code block
    after it)."""
    shown = [r for r in rows if r.status not in UNJUDGED and r.candidate["value"] is not None][:CHART_SLICES]
    if not shown:
        return ""
    champion = all(r.champion is not None and np.isfinite(r.champion) for r in shown)
    return texts.render(
        CHART_TEMPLATE, rows=shown, title=METRICS[metric].title, overall=overall, champion=champion
    ).rstrip("\n")
