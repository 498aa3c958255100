"""What a model answered, checked and aligned with the evaluation rows.

Conventions (what `mlflow.pyfunc` returns for scikit-learn models): a regressor answers one number per row; a
classifier answers labels, or one probability column per class (named by class in a DataFrame, else in the
model's `classes_` order, else in sorted class order), or for two classes one probability of the positive
(greater) class per row.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import numpy as np

from bot.errors import RefusedError

_PROBA_TOLERANCE = 1e-6


class OutputProblem(RefusedError):
    """A model answer of the wrong shape or type, or with NaN."""


@dataclass(frozen=True)
class Answer:
    """A parsed answer: kind is 'values', 'labels' or 'proba'; `columns` names proba columns when known."""

    kind: str
    data: np.ndarray
    columns: tuple[Any, ...] | None = None


@dataclass(frozen=True)
class Target:
    """The evaluation target: float values (regression) or int codes into `classes` (classification)."""

    task: str
    y: np.ndarray
    classes: tuple[Any, ...] = ()
    positive: int | None = None

    @property
    def n(self) -> int:
        return int(self.y.shape[0])

    @property
    def classification(self) -> bool:
        return self.task != "regression"

    @property
    def k(self) -> int:
        return len(self.classes)


@dataclass(frozen=True)
class Predictions:
    """One model's (or the baseline's) answer: class codes and (n, K) scores aligned with Target.classes,
    or regression values."""

    labels: np.ndarray | None = None
    scores: np.ndarray | None = None
    values: np.ndarray | None = None


def canonical(values: Any) -> np.ndarray:
    """Labels comparable across sources: booleans and whole floats become integers, the rest stays."""
    array = np.asarray(values)
    if array.dtype == bool:
        return array.astype(np.int64)
    if array.dtype.kind == "f" and np.all(np.isfinite(array)) and np.all(array == np.round(array)):
        return array.astype(np.int64)
    if array.dtype.kind in "iu":
        return array.astype(np.int64)
    return array.astype(object) if array.dtype.kind not in "US" else array.astype(str)


def _first_bad(mask: np.ndarray) -> int:
    return int(np.flatnonzero(mask.reshape(mask.shape[0], -1).any(axis=1))[0])


def _to_array(raw: Any) -> tuple[np.ndarray, tuple[Any, ...] | None]:
    import pandas as pd

    if isinstance(raw, pd.DataFrame):
        columns = tuple(raw.columns)
        if raw.shape[1] == 1:
            return raw.iloc[:, 0].to_numpy(), None
        return raw.to_numpy(), columns
    if isinstance(raw, pd.Series):
        return raw.to_numpy(), None
    if isinstance(raw, dict):
        raise OutputProblem(f"answered a mapping with keys {sorted(map(str, raw))[:5]}; expected an array")
    return np.asarray(raw), None


def parse(raw: Any, task: str, rows: int) -> Answer:
    """Check an answer's shape and type for `rows` evaluation rows; OutputProblem names the first bad row."""
    array, columns = _to_array(raw)
    if array.ndim == 0 or array.shape[0] != rows:
        got = "a single value" if array.ndim == 0 else f"{array.shape[0]} predictions"
        raise OutputProblem(f"answered {got} for {rows} rows; expected one prediction per row")
    if array.ndim == 2 and array.shape[1] == 1:
        array = array[:, 0]
    if array.ndim > 2:
        raise OutputProblem(
            f"answered an array of shape {array.shape}; expected one value or one row of class probabilities per row"
        )
    if task == "regression":
        return Answer("values", _numbers(array, "prediction"))
    if array.ndim == 2:
        return Answer("proba", _probabilities(array), columns)
    if array.dtype.kind == "f" and _fractional(array):
        if task != "binary_classification":
            raise OutputProblem(
                "answered one fractional number per row; a multiclass model must answer labels "
                "or one probability column per class"
            )
        return Answer("proba", _probabilities(array))
    if array.dtype.kind == "f" and np.isnan(array).any():
        raise OutputProblem(f"answered NaN in row {_first_bad(np.isnan(array))}")
    missing = [i for i, v in enumerate(array) if v is None or v != v] if array.dtype == object else []
    if missing:
        raise OutputProblem(f"answered a missing label in row {missing[0]}")
    return Answer("labels", canonical(array))


def _fractional(array: np.ndarray) -> bool:
    finite = array[np.isfinite(array)]
    return bool(finite.size and np.any(finite != np.round(finite)))


def _numbers(array: np.ndarray, what: str) -> np.ndarray:
    if array.dtype.kind not in "biuf":
        try:
            array = array.astype(np.float64)
        except (TypeError, ValueError):
            raise OutputProblem(f"answered non-numeric {what}s (type {array.dtype}); expected numbers") from None
    array = np.asarray(array, dtype=np.float64)
    bad = ~np.isfinite(array)
    if bad.any():
        raise OutputProblem(
            f"answered {'NaN' if np.isnan(array).any() else 'an infinite value'} in row "
            f"{_first_bad(bad)}; every row needs a finite {what}"
        )
    return array


def _probabilities(array: np.ndarray) -> np.ndarray:
    array = _numbers(array, "probability")
    outside = (array < -_PROBA_TOLERANCE) | (array > 1 + _PROBA_TOLERANCE)
    if outside.any():
        raise OutputProblem(f"answered probabilities outside [0, 1] in row {_first_bad(outside)}")
    return array


def classes_of(y: np.ndarray, answers: list[Answer], model_classes: list[tuple[Any, ...] | None]) -> tuple[Any, ...]:
    """Every class: the target's and any other label a model answers or names, sorted."""
    found = set(np.unique(y).tolist())
    for answer, known in zip(answers, model_classes, strict=True):
        if answer.kind == "labels":
            found.update(np.unique(answer.data).tolist())
        for named in (answer.columns, known):
            if answer.kind == "proba" and named is not None and len(named) == _width(answer):
                found.update(canonical(list(named)).tolist())
    try:
        return tuple(sorted(found))
    except TypeError:
        return tuple(sorted(found, key=str))


def _width(answer: Answer) -> int:
    return 2 if answer.data.ndim == 1 else int(answer.data.shape[1])


def encode(answer: Answer, target: Target, model_classes: tuple[Any, ...] | None) -> Predictions:
    """Align an answer with the target: class codes, and scores with one column per target class."""
    if answer.kind == "values":
        return Predictions(values=answer.data)
    if answer.kind == "labels":
        return Predictions(labels=codes(answer.data, target.classes))
    index = {c: i for i, c in enumerate(target.classes)}
    columns = _proba_columns(answer, target, model_classes)
    data = answer.data if answer.data.ndim == 2 else np.column_stack([1.0 - answer.data, answer.data])
    scores = np.zeros((data.shape[0], target.k), dtype=np.float64)
    column_codes = [index[c] for c in columns]
    scores[:, column_codes] = data
    labels = np.asarray(column_codes, dtype=np.int32)[np.argmax(data, axis=1)]
    return Predictions(labels=labels, scores=scores)


def codes(labels: np.ndarray, classes: tuple[Any, ...]) -> np.ndarray:
    """Class codes (indexes into `classes`, which holds every label) of canonical labels."""
    if labels.dtype == object:
        index = {c: i for i, c in enumerate(classes)}
        return np.array([index[v] for v in labels.tolist()], dtype=np.int32)
    return np.searchsorted(np.asarray(classes), labels).astype(np.int32)


def _proba_columns(answer: Answer, target: Target, model_classes: tuple[Any, ...] | None) -> list[Any]:
    width = _width(answer)
    if answer.data.ndim == 1:
        observed = sorted(set(np.unique(target.y).tolist()))
        return [target.classes[i] for i in observed] if len(observed) == 2 else list(target.classes[-2:])
    for named in (answer.columns, model_classes):
        known = canonical(list(named)).tolist() if named is not None else []
        if len(known) == width and all(c in target.classes for c in known):
            return known
    if width == target.k:
        return list(target.classes)
    raise OutputProblem(
        f"answered {width} probability columns, but the evaluation target has {target.k} classes "
        f"({', '.join(map(str, target.classes[:10]))}) and the model does not name its columns"
    )
