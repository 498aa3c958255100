"""Data checks: the evaluation data against the model's signature (columns, types), the target, null rates and
ranges, drift of each feature against the reference data (PSI for categories; KS and Wasserstein for numbers,
Wasserstein divided by the reference's standard deviation so one threshold fits every feature), and the gap
between training and evaluation metrics when the version records training metrics.

Drift statistics are computed on fixed-seed samples of at most SAMPLE rows of each data set; at that size
the sampling error of the KS statistic is about 0.005. KS and Wasserstein come from one merged sort, with
SciPy's definitions (`ks_2samp` statistic, `wasserstein_distance`); tests hold them to SciPy.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

import numpy as np

from bot.evidence import GateResult, Status
from bot.policy.gates import DataChecks, Drift
from bot.validation.distances import ks_wasserstein, psi_shares
from bot.validation.gates import fmt
from bot.validation.metrics import METRICS
from bot.validation.models import InputColumn
from bot.validation.record import Section, Table

if TYPE_CHECKING:
    import pandas as pd

SAMPLE = 100_000
SEED = 11
_NUMERIC = ("double", "float")
_INTEGER = ("long", "integer")


@dataclass(frozen=True)
class Structure:
    """The outcome of the structural check: model input columns, and whether validation can go on."""

    features: list[str]
    gate: GateResult
    usable: bool


def _type_problem(series: pd.Series, expected: str) -> str | None:
    import pandas as pd

    kind = expected.lower()
    dtype = series.dtype
    numeric = pd.api.types.is_numeric_dtype(dtype) and not pd.api.types.is_bool_dtype(dtype)
    ok = {
        "double": numeric,
        "float": numeric,
        "long": pd.api.types.is_integer_dtype(dtype),
        "integer": pd.api.types.is_integer_dtype(dtype),
        "string": pd.api.types.is_string_dtype(dtype)
        or pd.api.types.is_object_dtype(dtype)
        or isinstance(dtype, pd.CategoricalDtype),
        "boolean": pd.api.types.is_bool_dtype(dtype),
    }.get(kind, True)
    return None if ok else f"column '{series.name}' holds {dtype}; the model signature expects {expected}"


def structure(frame: pd.DataFrame, target: str, inputs: Sequence[InputColumn] | None, task: str) -> Structure:
    """Target present and usable, signature columns present with compatible types."""
    import pandas as pd

    problems: list[str] = []
    if target not in frame.columns:
        columns = ", ".join(map(str, frame.columns[:20]))
        problems.append(f"the target column '{target}' is missing; columns are: {columns}")
    elif frame[target].isna().any():
        problems.append(
            f"the target column '{target}' has {int(frame[target].isna().sum())} missing values "
            f"(first in row {int(np.flatnonzero(frame[target].isna().to_numpy())[0])})"
        )
    elif task == "regression" and not pd.api.types.is_numeric_dtype(frame[target]):
        problems.append(
            f"the target column '{target}' holds {frame[target].dtype}; a regression target must be numeric"
        )
    if inputs:
        features = [c.name for c in inputs]
        absent = [c.name for c in inputs if c.name not in frame.columns and c.required]
        if absent:
            problems.append(f"the model's signature needs columns missing from the data: {', '.join(absent)}")
        for spec in inputs:
            if spec.name in frame.columns and (why := _type_problem(frame[spec.name], spec.type)):
                problems.append(why)
        features = [c for c in features if c in frame.columns]
    else:
        features = [c for c in frame.columns if c != target]
        if not features:
            problems.append("the data has no column besides the target")
    if problems:
        return Structure(
            features, GateResult("data.schema", Status.FAIL, "; ".join(problems), details={"problems": problems}), False
        )
    source = "the model signature" if inputs else "every column but the target (the model has no signature)"
    return Structure(
        features,
        GateResult(
            "data.schema",
            Status.PASS,
            f"{frame.shape[0]} rows; {len(features)} input columns from {source}, present with compatible types",
            frame.shape[0],
        ),
        True,
    )


def _sample(series: pd.Series) -> np.ndarray:
    """Non-null values as floats; at most SAMPLE of them, drawn with a fixed seed."""
    values = series.to_numpy(dtype=np.float64, na_value=np.nan)
    if values.shape[0] > SAMPLE:
        values = values[np.random.default_rng(SEED).integers(0, values.shape[0], SAMPLE)]
    return values[~np.isnan(values)]


def psi(expected: pd.Series, actual: pd.Series) -> float:
    """Population stability index over categories (missing values are a category of their own)."""
    ref = expected.astype(object).where(expected.notna(), "(missing)").value_counts(normalize=True)
    cur = actual.astype(object).where(actual.notna(), "(missing)").value_counts(normalize=True)
    keys = ref.index.union(cur.index)
    return psi_shares(
        ref.reindex(keys, fill_value=0.0).to_numpy(dtype=np.float64),
        cur.reindex(keys, fill_value=0.0).to_numpy(dtype=np.float64),
    )


def drift(reference: pd.DataFrame, frame: pd.DataFrame, columns: Sequence[str]) -> list[dict[str, Any]]:
    import pandas as pd

    found = []
    for column in columns:
        if column not in reference.columns:
            continue
        ref, cur = reference[column], frame[column]
        numeric = (
            pd.api.types.is_numeric_dtype(ref)
            and pd.api.types.is_numeric_dtype(cur)
            and not pd.api.types.is_bool_dtype(ref)
        )
        if numeric:
            a, b = _sample(ref), _sample(cur)
            if a.size == 0 or b.size == 0:
                continue
            ks, distance = ks_wasserstein(a, b)
            scale = float(np.std(a)) or 1.0
            found.append({"column": column, "kind": "numeric", "ks": ks, "wasserstein": distance / scale, "psi": None})
        else:
            found.append(
                {"column": column, "kind": "categorical", "psi": psi(ref, cur), "ks": None, "wasserstein": None}
            )
    return found


def profile(frame: pd.DataFrame, columns: Sequence[str], reference: pd.DataFrame | None) -> list[dict[str, Any]]:
    """Per column: null rate, and for numbers the range and the share outside the reference's range."""
    import pandas as pd

    rows = []
    for column in columns:
        series = frame[column]
        row: dict[str, Any] = {"column": column, "dtype": str(series.dtype), "null_rate": float(series.isna().mean())}
        if pd.api.types.is_numeric_dtype(series) and not pd.api.types.is_bool_dtype(series):
            row["min"], row["max"] = _float(series.min()), _float(series.max())
            if (
                reference is not None
                and column in reference.columns
                and pd.api.types.is_numeric_dtype(reference[column])
            ):
                low, high = reference[column].min(), reference[column].max()
                row["outside_reference_range"] = float(((series < low) | (series > high)).mean())
        rows.append(row)
    return rows


def _float(x: Any) -> float | None:
    try:
        value = float(x)
    except (TypeError, ValueError):
        return None
    return value if np.isfinite(value) else None


def run(
    frame: pd.DataFrame,
    features: Sequence[str],
    reference: pd.DataFrame | None,
    spec: DataChecks,
    schema_gate: GateResult,
    reference_problem: str | None = None,
) -> tuple[list[GateResult], Section]:
    """Null rates, ranges and drift gates (the train/eval gap needs the metrics: `train_eval_gap`)."""
    results: list[GateResult] = []
    columns = list(features)
    stats = profile(frame, columns, reference)
    if spec.max_null_rate is not None:
        limit = float(spec.max_null_rate)
        over = [s for s in stats if s["null_rate"] > limit]
        worst = max(stats, key=lambda s: s["null_rate"]) if stats else None
        results.append(
            GateResult(
                "data.null_rate",
                Status.FAIL if over else Status.PASS,
                (
                    f"null rate above {limit:g} in: "
                    + ", ".join(f"{s['column']} ({s['null_rate']:.2%})" for s in over[:10])
                )
                if over
                else f"highest null rate {worst['null_rate']:.2%} ({worst['column']}) <= {limit:g}"
                if worst
                else "no input columns",
                {s["column"]: s["null_rate"] for s in over},
                limit,
            )
        )
    shifts = drift(reference, frame, columns) if reference is not None else []
    results.extend(_drift_gates(spec.drift, shifts, reference is not None, reference_problem))
    tables = [
        Table(
            "Columns",
            ["Column", "Type", "Null rate", "Min", "Max", "Outside reference range"],
            [
                [
                    s["column"],
                    s["dtype"],
                    f"{s['null_rate']:.2%}",
                    fmt(s.get("min")),
                    fmt(s.get("max")),
                    f"{s['outside_reference_range']:.2%}" if "outside_reference_range" in s else "n/a",
                ]
                for s in stats
            ],
            fold=len(stats) > 15,
        )
    ]
    if shifts:
        tables.append(
            Table(
                "Drift against the reference data",
                ["Column", "Kind", "PSI", "KS", "Wasserstein / std"],
                [
                    [d["column"], d["kind"], fmt(d["psi"]), fmt(d["ks"]), fmt(d["wasserstein"])]
                    for d in sorted(shifts, key=_drift_key, reverse=True)
                ],
                fold=len(shifts) > 15,
            )
        )
    summary = schema_gate.reason + (
        "" if reference is not None else f". No drift check: {reference_problem or 'no reference data declared'}."
    )
    return results, Section(
        "Data checks", summary, tables=tables, data={"columns": stats, "drift": shifts, "schema": schema_gate.as_dict()}
    )


def _drift_key(d: Mapping[str, Any]) -> float:
    return max(v for v in (d["psi"], d["ks"], d["wasserstein"], 0.0) if v is not None)


def _drift_gates(
    spec: Drift, shifts: list[dict[str, Any]], has_reference: bool, problem: str | None
) -> list[GateResult]:
    results = []
    for stat, written in spec.limits():
        limit = float(written)
        gate = f"data.drift.{stat}"
        if not has_reference:
            results.append(
                GateResult(
                    gate,
                    Status.INCONCLUSIVE,
                    f"cannot check drift: {problem or 'models.yaml declares no evaluation.reference data'}",
                    None,
                    limit,
                )
            )
            continue
        measured = [d for d in shifts if d[stat] is not None]
        over = [d for d in measured if d[stat] > limit]
        if over:
            listed = ", ".join(f"{d['column']} ({d[stat]:.3g})" for d in over[:10])
            reason = f"{stat.upper()} above {limit:g} in: {listed}"
        elif measured:
            top = max(measured, key=lambda d: d[stat])
            reason = f"largest {stat.upper()} {top[stat]:.3g} ({top['column']}) <= {limit:g}"
        else:
            reason = f"no {'categorical' if stat == 'psi' else 'numeric'} column to measure"
        results.append(
            GateResult(gate, Status.FAIL if over else Status.PASS, reason, {d["column"]: d[stat] for d in over}, limit)
        )
    return results


def train_eval_gap(
    spec: DataChecks, training: Mapping[str, float], evaluation: Mapping[str, float | None]
) -> list[GateResult]:
    """The gap gate, when the policy sets max_train_eval_gap: training minus evaluation metric, oriented."""
    if spec.max_train_eval_gap is None:
        return []
    return [_gap_gate(float(spec.max_train_eval_gap), training, evaluation)]


def _gap_gate(limit: float, training: Mapping[str, float], evaluation: Mapping[str, float | None]) -> GateResult:
    gaps = {}
    for name, trained in training.items():
        if name in METRICS and evaluation.get(name) is not None:
            sign = 1.0 if METRICS[name].greater_is_better else -1.0
            gaps[name] = sign * (float(trained) - float(evaluation[name]))
    if not gaps:
        return GateResult(
            "data.train_eval_gap",
            Status.SKIPPED,
            "no training metrics recorded for this version (models.yaml training_metrics)",
            None,
            limit,
        )
    over = {k: v for k, v in gaps.items() if v > limit}
    text = ", ".join(f"{k} {v:+.4g}" for k, v in gaps.items())
    return GateResult(
        "data.train_eval_gap",
        Status.FAIL if over else Status.PASS,
        f"training minus evaluation (better on training = positive): {text}; maximum {limit:g}",
        gaps,
        limit,
    )
