"""Robustness probes: the candidate answers rows it will meet in production but not in a clean evaluation set.

Each probe perturbs a real evaluation row (nulls in each nullable column, unseen categories, numbers far
outside the observed range, empty strings, an extra column, reordered columns). The model must answer with
one prediction per row of the right type, without NaN; otherwise the probe fails and names the row that broke
it (found by asking again row by row).
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from typing import TYPE_CHECKING, Any

from bot.evidence import GateResult, Status
from bot.validation import models, outputs
from bot.validation.record import Section, Table

if TYPE_CHECKING:
    import pandas as pd

PROBES = ("nulls", "unseen_categories", "out_of_range", "empty_strings", "extra_columns", "reordered_columns")
UNSEEN = "__modelbot_unseen__"
EXTRA = "__modelbot_extra__"
MAX_ROW_CHECKS = 50
_ROW_TEXT = 300


def _base(frame: pd.DataFrame) -> pd.DataFrame:
    """The first complete row among the first thousand (or the first row)."""
    head = frame.head(1000)
    complete = head.notna().all(axis=1).to_numpy()
    index = int(complete.argmax()) if complete.any() else 0
    return head.iloc[[index]].reset_index(drop=True)


def _text_columns(frame: pd.DataFrame) -> list[str]:
    import pandas as pd

    return [
        c
        for c in frame.columns
        if pd.api.types.is_string_dtype(frame[c])
        or isinstance(frame[c].dtype, pd.CategoricalDtype)
        or frame[c].dtype == object
    ]


def _numeric_columns(frame: pd.DataFrame) -> list[str]:
    import pandas as pd

    return [
        c for c in frame.columns if pd.api.types.is_numeric_dtype(frame[c]) and not pd.api.types.is_bool_dtype(frame[c])
    ]


def _variants(base: pd.DataFrame, column: str, values: Sequence[Any]) -> pd.DataFrame:
    import pandas as pd

    rows = []
    for value in values:
        row = base.copy()
        if isinstance(row[column].dtype, pd.CategoricalDtype):
            row[column] = row[column].astype(object)
        if value is None and pd.api.types.is_integer_dtype(row[column]):
            row[column] = row[column].astype("float64")
        row.loc[0, column] = value
        rows.append(row)
    return pd.concat(rows, ignore_index=True)


def probe_frame(name: str, features: pd.DataFrame, nullable: Sequence[str]) -> pd.DataFrame | None:
    """The rows of one probe, or None when no column applies (e.g. no text column for empty strings)."""
    import pandas as pd

    base = _base(features)
    parts: list[pd.DataFrame] = []
    if name == "nulls":
        parts = [_variants(base, c, [None]) for c in nullable]
    elif name == "unseen_categories":
        parts = [_variants(base, c, [UNSEEN]) for c in _text_columns(features)]
    elif name == "empty_strings":
        parts = [_variants(base, c, [""]) for c in _text_columns(features)]
    elif name == "out_of_range":
        for c in _numeric_columns(features):
            low, high = features[c].min(), features[c].max()
            span = (float(high) - float(low)) if pd.notna(low) and pd.notna(high) else 1.0
            far = 10.0 * (span + 1.0)
            outside = [float(low) - far, float(high) + far] if pd.notna(low) else [-1e9, 1e9]
            if pd.api.types.is_integer_dtype(features[c]):
                outside = [int(v) for v in outside]
            parts.append(_variants(base, c, outside))
    elif name == "extra_columns":
        return base.assign(**{EXTRA: 1})
    elif name == "reordered_columns":
        return base[list(reversed(base.columns))]
    return pd.concat(parts, ignore_index=True) if parts else None


def _answers(model: models.LoadedModel, rows: pd.DataFrame, task: str) -> str | None:
    """None when the model answers every row properly, else the reason."""
    try:
        outputs.parse(models.predict(model, rows), task, rows.shape[0])
    except (models.ModelProblem, outputs.OutputProblem) as exc:
        return str(exc)
    return None


def _culprit(model: models.LoadedModel, rows: pd.DataFrame, task: str) -> tuple[dict[str, Any], str] | None:
    for i in range(min(rows.shape[0], MAX_ROW_CHECKS)):
        reason = _answers(model, rows.iloc[[i]], task)
        if reason is not None:
            return {str(k): v for k, v in rows.iloc[i].to_dict().items()}, reason
    return None


def _combined(frames: dict[str, pd.DataFrame]) -> pd.DataFrame | None:
    """Every value probe's rows at once, with an extra column and the columns reversed: one call to the
    model when it copes with everything (the usual case); otherwise each probe is asked on its own."""
    import pandas as pd

    rows = [f for name, f in frames.items() if name not in ("extra_columns", "reordered_columns")]
    if not rows:
        return None
    together = pd.concat(rows, ignore_index=True)
    if "extra_columns" in frames:
        together = together.assign(**{EXTRA: 1})
    if "reordered_columns" in frames:
        together = together[list(reversed(together.columns))]
    return together


def run(
    model: models.LoadedModel,
    features: pd.DataFrame,
    task: str,
    probes: Sequence[str],
    nullable: Sequence[str],
    progress: Callable[[str], None] = lambda _: None,
) -> tuple[list[GateResult], Section]:
    progress(f"robustness probes: {', '.join(probes)}")
    frames = {name: probe_frame(name, features, nullable) for name in probes}
    present = {name: f for name, f in frames.items() if f is not None}
    together = _combined(present)
    all_clean = together is not None and _answers(model, together, task) is None
    results: list[GateResult] = []
    table_rows: list[list[Any]] = []
    for name in probes:
        rows = frames[name]
        gate = f"robustness.{name}"
        if rows is None:
            results.append(GateResult(gate, Status.SKIPPED, f"{name}: no column to probe", 0))
            table_rows.append([name, 0, "skipped", "no applicable column"])
            continue
        reason = None if all_clean else _answers(model, rows, task)
        if reason is None:
            results.append(GateResult(gate, Status.PASS, f"{name}: {rows.shape[0]} probe rows answered", rows.shape[0]))
            table_rows.append([name, rows.shape[0], "pass", "answered"])
            continue
        found = _culprit(model, rows, task)
        row, why = found if found else ({}, reason)
        shown = repr(row)[:_ROW_TEXT]
        results.append(
            GateResult(
                gate, Status.FAIL, f"{name}: {why}; row {shown}", rows.shape[0], details={"row": row, "error": why}
            )
        )
        table_rows.append([name, rows.shape[0], "fail", f"{why} — row {shown}"])
    failed = sum(r.status == Status.FAIL for r in results)
    skipped = sum(r.status == Status.SKIPPED for r in results)
    tested = len(results) - skipped
    summary = f"{tested - failed} of {tested} probes answered cleanly" + (
        f"; {skipped} skipped (no column to probe)." if skipped else "."
    )
    return results, Section(
        "Robustness", summary, tables=[Table("Probes", ["Probe", "Rows", "Status", "Detail"], table_rows)]
    )
