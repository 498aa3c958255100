"""Every metric, overall and per group, equals scikit-learn's own computation on the same rows."""

from __future__ import annotations

import numpy as np
import pytest
from sklearn import metrics as skm

from bot.validation import compare, metrics
from bot.validation.outputs import Predictions, Target

RNG = np.random.default_rng(20261123)
N = 600
GROUPS = RNG.integers(0, 3, N)


def _binary() -> tuple[Target, Predictions, np.ndarray]:
    y = RNG.integers(0, 2, N)
    p = np.clip(RNG.normal(0.3 + 0.4 * y, 0.25), 0.0, 1.0).round(2)  # rounded: ties, as real scores have
    return Target("binary_classification", y, (0, 1), 1), Predictions((p > 0.5).astype(int), np.c_[1 - p, p]), p


def _multiclass() -> tuple[Target, Predictions, np.ndarray]:
    y = RNG.integers(0, 4, N)
    scores = RNG.dirichlet(np.ones(4), N)
    scores[np.arange(N), y] += RNG.uniform(0, 0.8, N)
    scores /= scores.sum(axis=1, keepdims=True)
    return (
        Target("multiclass_classification", y, (0, 1, 2, 3), None),
        Predictions(scores.argmax(axis=1), scores),
        scores,
    )


def _values(
    target: Target,
    pred: Predictions,
    names: tuple[str, ...],
    averaging: str = "macro",
    grouping: compare.Grouping | None = None,
) -> compare.Measurements:
    grouping = grouping or compare.Grouping.whole(target.n)
    settings = compare.Settings(resamples=200, averaging=averaging)
    return compare.measure(target, {"m": pred}, names, grouping, [], settings)


BINARY_REFERENCE = {
    "accuracy": lambda y, lab, p: skm.accuracy_score(y, lab),
    "precision": lambda y, lab, p: skm.precision_score(y, lab, zero_division=0),
    "recall": lambda y, lab, p: skm.recall_score(y, lab, zero_division=0),
    "f1": lambda y, lab, p: skm.f1_score(y, lab, zero_division=0),
    "roc_auc": lambda y, lab, p: skm.roc_auc_score(y, p),
    "pr_auc": lambda y, lab, p: skm.average_precision_score(y, p),
    "log_loss": lambda y, lab, p: skm.log_loss(y, np.c_[1 - p, p]),
    "brier": lambda y, lab, p: skm.brier_score_loss(y, p),
}


@pytest.mark.parametrize("name", metrics.CLASSIFICATION)
def test_binary_metric_equals_scikit_learn_overall_and_per_group(name: str) -> None:
    target, pred, p = _binary()
    reference = BINARY_REFERENCE[name]
    overall = _values(target, pred, (name,)).single[(name, "m")].value[0]
    assert overall == pytest.approx(reference(target.y, pred.labels, p), abs=1e-12)
    grouped = _values(target, pred, (name,), grouping=compare.Grouping("g", GROUPS, ("a", "b", "c")))
    for g in range(3):
        rows = g == GROUPS
        assert grouped.single[(name, "m")].value[g] == pytest.approx(
            reference(target.y[rows], pred.labels[rows], p[rows]), abs=1e-12
        )


@pytest.mark.parametrize("averaging", ["macro", "weighted", "micro"])
@pytest.mark.parametrize("name", ["precision", "recall", "f1", "roc_auc", "pr_auc"])
def test_multiclass_metric_equals_scikit_learn_with_stated_averaging(name: str, averaging: str) -> None:
    target, pred, scores = _multiclass()
    reference = {
        "precision": lambda: skm.precision_score(target.y, pred.labels, average=averaging, zero_division=0),
        "recall": lambda: skm.recall_score(target.y, pred.labels, average=averaging, zero_division=0),
        "f1": lambda: skm.f1_score(target.y, pred.labels, average=averaging, zero_division=0),
        "roc_auc": lambda: skm.roc_auc_score(target.y, scores, multi_class="ovr", average=averaging),
        "pr_auc": lambda: skm.average_precision_score(target.y, scores, average=averaging),
    }[name]()
    assert _values(target, pred, (name,), averaging).single[(name, "m")].value[0] == pytest.approx(reference, abs=1e-12)


@pytest.mark.parametrize(
    "name,reference",
    [
        ("accuracy", lambda y, s: skm.accuracy_score(y, s.argmax(axis=1))),
        ("log_loss", lambda y, s: skm.log_loss(y, s)),
        ("brier", lambda y, s: skm.brier_score_loss(y, s, labels=[0, 1, 2, 3])),
    ],
)
def test_multiclass_probability_metrics_equal_scikit_learn(name: str, reference) -> None:  # type: ignore[no-untyped-def]
    target, pred, scores = _multiclass()
    assert _values(target, pred, (name,)).single[(name, "m")].value[0] == pytest.approx(
        reference(target.y, scores), abs=1e-12
    )


@pytest.mark.parametrize(
    "name,reference",
    [
        ("mae", skm.mean_absolute_error),
        ("rmse", skm.root_mean_squared_error),
        ("r2", skm.r2_score),
        ("mape", skm.mean_absolute_percentage_error),
    ],
)
def test_regression_metric_equals_scikit_learn_overall_and_per_group(name: str, reference) -> None:  # type: ignore[no-untyped-def]
    y = RNG.normal(150.0, 60.0, N)
    y[:3] = 0.0  # MAPE's epsilon guard
    yhat = y + RNG.normal(0.0, 25.0, N)
    target, pred = Target("regression", y), Predictions(values=yhat)
    assert _values(target, pred, (name,)).single[(name, "m")].value[0] == pytest.approx(reference(y, yhat), rel=1e-10)
    grouped = _values(target, pred, (name,), grouping=compare.Grouping("g", GROUPS, ("a", "b", "c")))
    for g in range(3):
        rows = g == GROUPS
        assert grouped.single[(name, "m")].value[g] == pytest.approx(reference(y[rows], yhat[rows]), rel=1e-10)


def test_r2_of_a_constant_target_is_forced_finite_like_scikit_learn() -> None:
    y = np.full(50, 3.0)
    for yhat in (y.copy(), y + 1.0):
        value = _values(Target("regression", y), Predictions(values=yhat), ("r2",)).single[("r2", "m")].value[0]
        assert value == skm.r2_score(y, yhat)


def test_every_metric_knows_its_direction() -> None:
    lower_is_better = {m.name for m in metrics.METRICS.values() if not m.greater_is_better}
    assert lower_is_better == {"log_loss", "brier", "mae", "rmse", "mape"}
    assert set(metrics.CLASSIFICATION) | set(metrics.REGRESSION) == set(metrics.METRICS)


def test_probability_metrics_are_unavailable_for_a_label_only_model() -> None:
    labels_only = Predictions(labels=np.array([0, 1]))
    assert [m for m in metrics.CLASSIFICATION if metrics.available(m, labels_only)] == [
        "accuracy",
        "precision",
        "recall",
        "f1",
    ]


def test_confusion_matrix_equals_scikit_learn() -> None:
    target, pred, _ = _multiclass()
    assert (metrics.confusion(target, pred.labels) == skm.confusion_matrix(target.y, pred.labels)).all()
