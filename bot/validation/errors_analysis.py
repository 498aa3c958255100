"""Error analysis: confusion-matrix difference to the champion, prediction flip rate, and the weakest segments
found automatically (single-column segments: categories, or quintiles of numbers; each at least
`min_segment_share` of rows), ranked by the candidate's error rate (classification) or mean absolute error.

Segments are searched on a fixed-seed sample of at most SAMPLE rows: a segment holds >= 5 % of rows, so its
error is still measured on thousands of rows, and the search stays cheap on millions.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import TYPE_CHECKING, Any

import numpy as np

from bot.evidence import GateResult, Status
from bot.policy.gates import ErrorAnalysis
from bot.validation import gates, intervals
from bot.validation.gates import fmt, interval_text
from bot.validation.metrics import confusion
from bot.validation.outputs import Predictions, Target
from bot.validation.record import Section, Table

if TYPE_CHECKING:
    import pandas as pd

SAMPLE = 200_000
TOP = 5
MAX_COLUMNS = 50
MAX_CATEGORIES = 50
SEED = 7


def _loss(target: Target, pred: Predictions, rows: np.ndarray | None) -> np.ndarray:
    """Per-row loss of the sampled rows: misclassification (0/1) or absolute error."""
    y = target.y if rows is None else target.y[rows]
    if target.classification:
        labels = pred.labels if rows is None else pred.labels[rows]  # type: ignore[index]  # labels is an array whenever the task is classification
        return (labels != y).astype(np.float64)
    values = pred.values if rows is None else pred.values[rows]  # type: ignore[index]  # values is an array whenever the task is regression
    return np.abs(values - y)


def _bound(x: float) -> str:
    """A segment's edge: the open ends are -inf and inf (never n/a, which reads as a missing value)."""
    return ("-inf" if x < 0 else "inf") if np.isinf(x) else fmt(x)


def _segments(series: pd.Series) -> tuple[np.ndarray, list[str]] | None:
    """Integer codes and labels of a column's segments, or None for a column that cannot be segmented."""
    import pandas as pd

    if (
        pd.api.types.is_numeric_dtype(series)
        and not pd.api.types.is_bool_dtype(series)
        and series.nunique(dropna=True) > 10
    ):
        values = series.to_numpy(dtype=np.float64, na_value=np.nan)
        edges = np.unique(np.nanquantile(values, [0.2, 0.4, 0.6, 0.8]))
        codes = np.searchsorted(edges, values, side="right").astype(np.int64)
        bounds = [-np.inf, *edges.tolist(), np.inf]
        labels = [f"{series.name} in ({_bound(bounds[i])}, {_bound(bounds[i + 1])}]" for i in range(len(bounds) - 1)]
        nan = np.isnan(values)
        if nan.any():
            codes[nan] = len(labels)
            labels.append(f"{series.name} missing")
        return codes, labels
    codes, uniques = pd.factorize(series, use_na_sentinel=True)
    if len(uniques) > MAX_CATEGORIES:
        return None
    labels = [f"{series.name}={v}" for v in uniques]
    codes = np.where(codes < 0, len(labels), codes).astype(np.int64)
    labels.append(f"{series.name} missing")
    return codes, labels


def weakest(
    frame: pd.DataFrame, columns: Sequence[str], target: Target, preds: Mapping[str, Predictions], min_share: float
) -> list[dict[str, Any]]:
    """The TOP segments with the highest candidate error among those holding at least min_share of rows."""
    n = target.n
    rows = np.sort(np.random.default_rng(SEED).choice(n, SAMPLE, replace=False)) if n > SAMPLE else None
    sample = frame.iloc[rows] if rows is not None else frame
    losses = {role: _loss(target, p, rows) for role, p in preds.items() if role in ("candidate", "champion")}
    total = float(sample.shape[0])
    found: list[dict[str, Any]] = []
    for column in list(columns)[:MAX_COLUMNS]:
        segments = _segments(sample[column])
        if segments is None:
            continue
        codes, labels = segments
        counts = np.bincount(codes, minlength=len(labels))
        means = {
            role: np.bincount(codes, weights=loss, minlength=len(labels)) / np.maximum(counts, 1)
            for role, loss in losses.items()
        }
        for i, label in enumerate(labels):
            if counts[i] >= max(1.0, min_share * total):
                found.append(
                    {
                        "segment": label,
                        "share": counts[i] / total,
                        "rows_sampled": int(counts[i]),
                        **{role: float(v[i]) for role, v in means.items()},
                    }
                )
    found.sort(key=lambda s: -s["candidate"])
    return found[:TOP]


def run(
    frame: pd.DataFrame,
    columns: Sequence[str],
    target: Target,
    preds: Mapping[str, Predictions],
    spec: ErrorAnalysis,
    level: float,
) -> tuple[list[GateResult], Section]:
    cand, champ = preds["candidate"], preds.get("champion")
    results: list[GateResult] = []
    tables: list[Table] = []
    data: dict[str, Any] = {}
    figures: dict[str, Any] = {}
    if target.classification and champ is not None:
        flips = float(np.count_nonzero(cand.labels != champ.labels))
        rate = flips / target.n
        low, high = intervals.wilson(flips, target.n, level)
        figures["Prediction flip rate vs champion"] = f"{rate:.4g} {interval_text(low, high)}"
        data["flip_rate"] = {"value": rate, "low": low, "high": high, "flips": int(flips)}
        cm_c, cm_h = confusion(target, cand.labels), confusion(target, champ.labels)
        data["confusion"] = {
            "classes": [str(c) for c in target.classes],
            "candidate": cm_c,
            "champion": cm_h,
            "difference": cm_c - cm_h,
        }
        tables.append(_confusion_table(target, cm_c, cm_h))
        if spec.max_flip_rate is not None:
            limit = float(spec.max_flip_rate)
            status = gates.judge(low, high, limit, higher_is_good=False)
            results.append(
                GateResult(
                    "error_analysis.flip_rate",
                    status,
                    f"candidate and champion disagree on {rate:.2%} of rows "
                    f"{interval_text(low, high)}; the interval {gates.WHAT[status]} the "
                    f"maximum {limit:g}",
                    data["flip_rate"],
                    limit,
                )
            )
    elif target.classification:
        cm_c = confusion(target, cand.labels)
        data["confusion"] = {"classes": [str(c) for c in target.classes], "candidate": cm_c}
        if spec.max_flip_rate is not None:
            results.append(
                GateResult(
                    "error_analysis.flip_rate",
                    Status.SKIPPED,
                    "no champion: first deployment",
                    None,
                    spec.max_flip_rate,
                )
            )
    segments = weakest(frame, columns, target, preds, float(spec.min_segment_share))
    data["weakest_segments"] = segments
    what = "error rate" if target.classification else "mean absolute error"
    tables.append(
        Table(
            f"Weakest segments (candidate {what}, each >= {spec.min_segment_share:.0%} of rows)",
            ["Segment", "Share", f"Candidate {what}", f"Champion {what}"],
            [[s["segment"], f"{s['share']:.1%}", fmt(s["candidate"]), fmt(s.get("champion"))] for s in segments],
        )
    )
    summary = (
        f"Weakest segment: {segments[0]['segment']} ({what} {fmt(segments[0]['candidate'])})."
        if segments
        else "No segment found."
    )
    return results, Section("Error analysis", summary, figures, tables, data=data)


def _confusion_table(target: Target, cm_c: np.ndarray, cm_h: np.ndarray) -> Table:
    labels = [str(c) for c in target.classes]
    rows = [
        [f"true {labels[i]}", *[f"{int(cm_c[i, j])} ({int(cm_c[i, j] - cm_h[i, j]):+d})" for j in range(len(labels))]]
        for i in range(len(labels))
    ]
    return Table(
        "Confusion matrix: candidate (difference to champion)",
        ["", *[f"pred {x}" for x in labels]],
        rows,
        fold=len(labels) > 6,
    )
