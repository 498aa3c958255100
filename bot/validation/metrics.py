"""The metrics a policy may name, each knowing whether greater is better, computed from summed row statistics.

Counting and loss metrics are functions of sums over rows (per-class true positives, predicted and true counts;
per-row losses), so one pass of `np.bincount` gives them for every slice and every bootstrap block at once,
and a resample is a weighted sum of block sums. The formulas follow scikit-learn exactly (zero_division=0,
log loss clipped at machine epsilon, Brier halved for two classes, MAPE over max(|y|, epsilon), R² forced
finite); tests check every one against `sklearn.metrics`. Rank metrics (ROC AUC, PR AUC) live in `ranking`.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass

import numpy as np

from bot.validation.outputs import Predictions, Target

_EPS = float(np.finfo(np.float64).eps)


@dataclass(frozen=True)
class Metric:
    name: str
    title: str
    greater_is_better: bool
    family: str  # "counts", "loss" or "rank"
    needs_scores: bool
    columns: tuple[str, ...] = ()


METRICS: dict[str, Metric] = {
    m.name: m
    for m in (
        Metric("accuracy", "Accuracy", True, "counts", False, ("cells",)),
        Metric("precision", "Precision", True, "counts", False, ("cells",)),
        Metric("recall", "Recall", True, "counts", False, ("cells",)),
        Metric("f1", "F1", True, "counts", False, ("cells",)),
        Metric("roc_auc", "ROC AUC", True, "rank", True),
        Metric("pr_auc", "PR AUC", True, "rank", True),
        Metric("log_loss", "Log loss", False, "loss", True, ("n", "ll")),
        Metric("brier", "Brier score", False, "loss", True, ("n", "brier")),
        Metric("mae", "MAE", False, "loss", False, ("n", "ae")),
        Metric("rmse", "RMSE", False, "loss", False, ("n", "se")),
        Metric("r2", "R²", True, "loss", False, ("n", "se", "yc", "yc2")),
        Metric("mape", "MAPE", False, "loss", False, ("n", "ape")),
    )
}

CLASSIFICATION = ("accuracy", "precision", "recall", "f1", "roc_auc", "pr_auc", "log_loss", "brier")
REGRESSION = ("mae", "rmse", "r2", "mape")


def width(column_name: str, k: int) -> int:
    """Length of a column's trailing axis once summed: K x K confusion cells, or 1 for a plain sum."""
    return k * k if column_name == "cells" else 1


def for_task(task: str) -> tuple[str, ...]:
    return REGRESSION if task == "regression" else CLASSIFICATION


def available(metric: str, pred: Predictions) -> bool:
    """Whether a model's answer supports a metric: probability metrics need scores."""
    spec = METRICS[metric]
    if spec.family == "loss" and not spec.needs_scores:
        return pred.values is not None
    return pred.scores is not None if spec.needs_scores else pred.labels is not None


def column(name: str, target: Target, pred: Predictions) -> tuple[np.ndarray | None, np.ndarray | None]:
    """One summable row statistic as (cell codes or None, weights or None): its sum over any set of rows
    is `bincount(codes)` (per confusion cell) or `sum(weights)`; 'n' (no weights) counts rows."""
    y = target.y
    if name == "n":
        return None, None
    if name == "cells":  # confusion cells (true class x predicted class): one pass gives tp, predicted, support
        return y * target.k + pred.labels, None
    if name in ("ll", "brier"):
        return None, _probability_loss(name, y, pred.scores)
    error = pred.values - y
    if name == "ae":
        return None, np.abs(error)
    if name == "se":
        return None, error * error
    if name == "ape":
        return None, np.abs(error) / np.maximum(np.abs(y), _EPS)
    centred = y - float(np.mean(y))  # shifting y leaves the total sum of squares unchanged and keeps it exact
    return None, centred if name == "yc" else centred * centred


def _probability_loss(name: str, y: np.ndarray, scores: np.ndarray | None) -> np.ndarray:
    assert scores is not None
    true = scores[np.arange(y.shape[0]), y]
    if name == "ll":
        return -np.log(np.clip(true, _EPS, 1 - _EPS))
    squares = np.einsum("ij,ij->i", scores, scores) - 2.0 * true + 1.0
    return squares * (0.5 if scores.shape[1] < 3 else 1.0)


def _ratio(num: np.ndarray, den: np.ndarray) -> np.ndarray:
    """num / den with 0 where den is 0 (scikit-learn's zero_division=0)."""
    num, den = np.broadcast_arrays(np.asarray(num, dtype=np.float64), np.asarray(den, dtype=np.float64))
    out = np.zeros(num.shape, dtype=np.float64)
    np.divide(num, den, out=out, where=den != 0)
    return out


def value(
    metric: str, sums: Mapping[str, np.ndarray], averaging: str = "macro", positive: int | None = None
) -> np.ndarray:
    """A metric from summed statistics; works over any leading axes (groups, resamples)."""
    family = METRICS[metric].family
    if family == "counts":
        cells = sums["cells"]
        k = round(cells.shape[-1] ** 0.5)
        cm = cells.reshape((*cells.shape[:-1], k, k))
        tp = np.diagonal(cm, axis1=-2, axis2=-1)
        return _counting(metric, tp, cm.sum(axis=-2), cm.sum(axis=-1), averaging, positive)
    with np.errstate(divide="ignore", invalid="ignore"):
        n = sums["n"]
        if metric == "rmse":
            return np.sqrt(sums["se"] / n)
        if metric == "r2":
            return _r2(sums["se"], sums["yc"], sums["yc2"], n)
        column_name = {"log_loss": "ll", "brier": "brier", "mae": "ae", "mape": "ape"}[metric]
        return sums[column_name] / n


def _r2(sse: np.ndarray, yc: np.ndarray, yc2: np.ndarray, n: np.ndarray) -> np.ndarray:
    sst = yc2 - yc * yc / n
    out = 1.0 - sse / sst
    degenerate = ~(np.abs(sst) > 1e-12 * np.maximum(yc2, 1.0))
    return np.where(degenerate, np.where(sse == 0, 1.0, 0.0), out)


def _counting(
    metric: str, tp: np.ndarray, pred: np.ndarray, sup: np.ndarray, averaging: str, positive: int | None
) -> np.ndarray:
    if metric == "accuracy":
        return _ratio(tp.sum(-1), sup.sum(-1))
    if positive is not None:
        tp, pred, sup = tp[..., positive], pred[..., positive], sup[..., positive]
        return _per_class(metric, tp, pred, sup)
    if averaging == "micro":
        return _per_class(metric, tp.sum(-1), pred.sum(-1), sup.sum(-1))
    scores = _per_class(metric, tp, pred, sup)
    if averaging == "weighted":
        return _ratio((scores * sup).sum(-1), sup.sum(-1))
    present = ((pred + sup) > 0).astype(np.float64)
    return _ratio((scores * present).sum(-1), present.sum(-1))


def _per_class(metric: str, tp: np.ndarray, pred: np.ndarray, sup: np.ndarray) -> np.ndarray:
    if metric == "precision":
        return _ratio(tp, pred)
    if metric == "recall":
        return _ratio(tp, sup)
    return _ratio(2.0 * tp, pred + sup)


def confusion(target: Target, labels: np.ndarray) -> np.ndarray:
    """Confusion matrix (true class by row, predicted class by column) over every class."""
    k = target.k
    return np.bincount(target.y * k + labels, minlength=k * k).reshape(k, k)
