"""The rows to look at when a validation fails or is inconclusive: the worst slices (failing and unclear ones
first) and the flipped predictions, named by row id, so that whoever debugs the candidate starts from data
rows rather than from a summary. Pure: it reads the arrays the engine already holds.

A row id is the 0-based position of the data row in the evaluation file (its header not counted): the same
number `pandas.read_csv(...).iloc[id]` or `sed -n "$((id + 2))p"` finds. The report's table shows the first
rows; report.json holds up to MAX_ROWS of them (and how many there were).
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import TYPE_CHECKING, Any

import numpy as np

from bot.validation.gates import fmt
from bot.validation.outputs import Predictions, Target
from bot.validation.record import Section, Table

if TYPE_CHECKING:
    import pandas as pd

MAX_ROWS = 1_000  # row ids kept in report.json per list
SHOWN = 20  # rows in the report's table
WORST_SLICES = 5
UNCLEAR = ("fail", "inconclusive")


def worst_slices(slices: Sequence[Mapping[str, Any]], limit: int = WORST_SLICES) -> list[dict[str, Any]]:
    """The slices to look at: every failing or inconclusive one, then the worst judged ones, up to `limit`
    beyond the failing and unclear ones (`slices` is the slices section's list, already worst first)."""
    unclear = [dict(s) for s in slices if s.get("status") in UNCLEAR]
    rest = [dict(s) for s in slices if s.get("status") not in UNCLEAR and s.get("status") != "insufficient data"]
    return unclear + rest[: max(0, limit - len(unclear))]


def _label(target: Target, code: int) -> Any:
    return target.classes[code] if 0 <= code < len(target.classes) else code


def flipped(
    target: Target, candidate: Predictions, champion: Predictions, limit: int = MAX_ROWS
) -> tuple[list[dict[str, Any]], dict[str, int]]:
    """Rows where the candidate's label differs from the champion's, those the candidate now gets wrong
    first (`worse`), then those it now gets right (`better`), then the rest (`changed`: both wrong); and the
    count of each kind over all rows."""
    assert candidate.labels is not None and champion.labels is not None
    y = target.y
    rows = np.flatnonzero(candidate.labels != champion.labels)
    cand_ok, champ_ok = candidate.labels[rows] == y[rows], champion.labels[rows] == y[rows]
    kinds = np.where(~cand_ok & champ_ok, 0, np.where(cand_ok & ~champ_ok, 1, 2))
    order = np.argsort(kinds, kind="stable")[:limit]
    names = ("worse", "better", "changed")
    found = []
    for i in order:
        row = int(rows[i])
        entry: dict[str, Any] = {
            "row": row,
            "kind": names[int(kinds[i])],
            "label": _label(target, int(y[row])),
            "candidate": _label(target, int(candidate.labels[row])),
            "champion": _label(target, int(champion.labels[row])),
        }
        if candidate.scores is not None:
            entry["candidate_score"] = float(candidate.scores[row, int(candidate.labels[row])])
        found.append(entry)
    counts = {name: int(np.count_nonzero(kinds == k)) for k, name in enumerate(names)}
    return found, counts


def largest_regressions(
    target: Target, candidate: Predictions, champion: Predictions, limit: int = MAX_ROWS
) -> tuple[list[dict[str, Any]], int]:
    """Regression: rows whose absolute error grew, largest growth first, and how many rows it grew on."""
    assert candidate.values is not None and champion.values is not None
    growth = np.abs(candidate.values - target.y) - np.abs(champion.values - target.y)
    grew = np.flatnonzero(growth > 0)
    order = grew[np.argsort(-growth[grew], kind="stable")][:limit]
    found = [
        {
            "row": int(r),
            "label": float(target.y[r]),
            "candidate": float(candidate.values[r]),
            "champion": float(champion.values[r]),
            "error_growth": float(growth[r]),
        }
        for r in order
    ]
    return found, int(grew.shape[0])


def _with_slices(entries: list[dict[str, Any]], frame: pd.DataFrame, columns: Sequence[str]) -> None:
    """Each listed row's slice values (which slice it sits in), read for the listed rows only."""
    present = [c for c in columns if c in frame.columns]
    if not entries or not present:
        return
    rows = [e["row"] for e in entries]
    values = frame.iloc[rows][present].astype(str).to_numpy()
    for entry, found in zip(entries, values, strict=True):
        entry["slice"] = ", ".join(f"{c}={v}" for c, v in zip(present, found, strict=True))


def section(
    frame: pd.DataFrame,
    target: Target,
    preds: Mapping[str, Predictions],
    slices: Sequence[Mapping[str, Any]],
    slice_columns: Sequence[str],
    unclear_gates: Sequence[str],
    data_file: str,
) -> Section:
    """The "Rows to look at" section: the worst slices, and the flipped (classification) or worsened
    (regression) rows against the champion, when there is one."""
    tables: list[Table] = []
    data: dict[str, Any] = {"gates": list(unclear_gates), "row_id": f"0-based data row of {data_file}"}
    worst = worst_slices(slices)
    data["worst_slices"] = worst
    if worst:
        tables.append(
            Table(
                "Worst slices",
                ["Slice", "Rows", "Candidate", "Champion", "Status"],
                [
                    [
                        s["slice"],
                        s["rows"],
                        fmt((s.get("candidate") or {}).get("value")),
                        fmt(s.get("champion")),
                        s["status"],
                    ]
                    for s in worst
                ],
            )
        )
    cand, champ = preds.get("candidate"), preds.get("champion")
    summary = f"Failing or unclear: {', '.join(unclear_gates) or 'none'}."
    if cand is not None and champ is not None and target.classification:
        rows, counts = flipped(target, cand, champ)
        _with_slices(rows, frame, slice_columns)
        total = sum(counts.values())
        data["flipped"] = {"total": total, **counts, "listed": len(rows), "rows": rows}
        summary += (
            f" {total} prediction(s) flipped against the champion: {counts['worse']} now wrong, "
            f"{counts['better']} now right, {counts['changed']} wrong either way."
        )
        tables.append(
            Table(
                f"Flipped predictions, now-wrong first (row ids of {data_file})",
                ["Row", "Kind", "Label", "Candidate", "Champion", "Slice"],
                [
                    [r["row"], r["kind"], r["label"], r["candidate"], r["champion"], r.get("slice", "")]
                    for r in rows[:SHOWN]
                ],
                note=f"{len(rows)} of {total} listed in report.json (sections.attention.data.flipped)."
                if total > SHOWN
                else "",
                fold=True,
            )
        )
    elif cand is not None and champ is not None:
        rows, grew = largest_regressions(target, cand, champ)
        _with_slices(rows, frame, slice_columns)
        data["worsened"] = {"total": grew, "listed": len(rows), "rows": rows}
        summary += f" The candidate's absolute error grew on {grew} row(s) against the champion."
        tables.append(
            Table(
                f"Rows whose error grew most (row ids of {data_file})",
                ["Row", "Label", "Candidate", "Champion", "Error growth", "Slice"],
                [
                    [
                        r["row"],
                        fmt(r["label"]),
                        fmt(r["candidate"]),
                        fmt(r["champion"]),
                        fmt(r["error_growth"]),
                        r.get("slice", ""),
                    ]
                    for r in rows[:SHOWN]
                ],
                note=f"{len(rows)} of {grew} listed in report.json (sections.attention.data.worsened)."
                if grew > SHOWN
                else "",
                fold=True,
            )
        )
    return Section("Rows to look at", summary, tables=tables, data=data)
