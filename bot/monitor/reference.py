"""The model's evaluation reference (models.yaml `evaluation.reference`), summarised once for monitoring: per
feature a numeric profile (a fixed-seed sample for KS, decile edges and shares for PSI, the range) or the
category counts, and the same for the target, against which predictions are compared.

The summaries are small and fixed in size, so checking a window never holds the reference frame.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any

import numpy as np

from bot.monitor.keys import keys
from bot.validation.distances import shares

if TYPE_CHECKING:
    import pandas as pd

SAMPLE = 100_000  # as validation's data checks: KS within about 0.005 of the full data's
SEED = 11
DECILES = np.linspace(0.1, 0.9, 9)


@dataclass(frozen=True, eq=False)
class NumericRef:
    name: str
    values: np.ndarray  # sorted, non-null, at most SAMPLE
    edges: np.ndarray  # inner bin edges (reference deciles, unique)
    shares: np.ndarray  # reference share per bin (len(edges) + 1)
    low: float
    high: float

    kind = "numeric"

    def bins(self, values: np.ndarray) -> np.ndarray:
        """Bin of each (non-null) value: edges[i-1] <= x < edges[i]."""
        return np.searchsorted(self.edges, values, side="right")

    def bin_counts(self, ordered: np.ndarray) -> np.ndarray:
        """Values per bin of a sorted sample, the same counts as `np.bincount(self.bins(values))`: the values
        under edges[i] are the first searchsorted(values, edges[i], 'left'), so a bin is a difference of two
        searches (one per edge, not one per value)."""
        under = np.searchsorted(ordered, self.edges, side="left")
        return np.diff(np.concatenate([[0], under, [ordered.shape[0]]])).astype(np.int64)


@dataclass(frozen=True, eq=False)
class CategoricalRef:
    name: str
    categories: tuple[str, ...]
    counts: np.ndarray

    kind = "categorical"


Feature = NumericRef | CategoricalRef


@dataclass(frozen=True, eq=False)
class Reference:
    """Features in reference column order, the target's profile, and the classes (classification)."""

    file: str
    task: str
    features: tuple[Feature, ...]
    target: Feature
    slices: tuple[str, ...] = ()
    crosses: tuple[tuple[str, str], ...] = ()

    @property
    def classification(self) -> bool:
        return self.task != "regression"

    @property
    def classes(self) -> tuple[str, ...]:
        return self.target.categories if isinstance(self.target, CategoricalRef) else ()

    def feature(self, name: str) -> Feature | None:
        return next((f for f in self.features if f.name == name), None)


def numeric(name: str, series: pd.Series) -> NumericRef:
    values = series.to_numpy(dtype=np.float64, na_value=np.nan)
    values = values[np.isfinite(values)]
    if values.size > SAMPLE:
        values = values[np.random.default_rng(SEED).choice(values.size, SAMPLE, replace=False)]
    values = np.sort(values)
    edges = np.unique(np.quantile(values, DECILES)) if values.size else np.array([])
    counts = np.bincount(np.searchsorted(edges, values, side="right"), minlength=edges.size + 1)
    low, high = (float(values[0]), float(values[-1])) if values.size else (np.nan, np.nan)
    return NumericRef(name, values, edges, shares(counts), low, high)


def categorical(name: str, series: pd.Series) -> CategoricalRef:
    import pyarrow as pa
    import pyarrow.compute as pc

    found = pc.value_counts(keys(pa.array(series.astype(object), from_pandas=True)).drop_null())
    counts = dict(zip(found.field("values").to_pylist(), found.field("counts").to_pylist(), strict=True))
    order = tuple(_class_order(list(counts)))
    return CategoricalRef(name, order, np.array([counts[c] for c in order], dtype=np.int64))


def _class_order(found: Sequence[str]) -> list[str]:
    """Numbers in numeric order (so the greater class of 0/1 is last, as validation's positive class), else text."""
    try:
        return sorted(found, key=float)
    except ValueError:
        return sorted(found)


def is_numeric(series: pd.Series) -> bool:
    import pandas as pd

    return bool(pd.api.types.is_numeric_dtype(series) and not pd.api.types.is_bool_dtype(series))


def summarise(
    frame: pd.DataFrame,
    file: str,
    task: str,
    target: str,
    slices: Sequence[str] = (),
    crosses: Sequence[tuple[str, str]] = (),
) -> Reference:
    """A reference frame to its summaries. Features: every column but the target and the declared slice columns
    (slices are grouping columns of the evaluation data, often derived, not model inputs)."""
    from bot.errors import RefusedError

    if target not in frame.columns:
        raise RefusedError(f"reference data {file}: no target column '{target}'; columns: {', '.join(frame.columns)}")
    features = tuple(
        numeric(str(c), frame[c]) if is_numeric(frame[c]) else categorical(str(c), frame[c])
        for c in frame.columns
        if c != target and c not in slices
    )
    regression = task == "regression"
    target_ref = numeric(target, frame[target]) if regression else categorical(target, frame[target])
    return Reference(file, task, features, target_ref, tuple(slices), tuple(tuple(c) for c in crosses))  # type: ignore[misc]  # pairs of two names


def load(model: Any, root: Path) -> Reference:
    """The reference of a registry Model, its sha256 checked as validation checks it."""
    from bot.errors import RefusedError
    from bot.validation import data

    evaluation = model.evaluation
    if evaluation is None or evaluation.reference is None:
        raise RefusedError(
            f"model '{model.name}' declares no evaluation.reference data in models.yaml; monitoring compares "
            "production traffic with it (add evaluation.reference: {data: ..., sha256: ...})"
        )
    path = data.resolve(evaluation.reference.data, root)
    data.verify(path, evaluation.reference.sha256, "reference data")
    frame = data.read(path, "reference data")
    return summarise(
        frame, evaluation.reference.data, model.task, evaluation.target, evaluation.slices, evaluation.slice_crosses
    )
