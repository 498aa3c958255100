"""The engine end to end on real MLflow models: evidence, gate outcomes, and every bad input as a gate."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import numpy as np
import pytest
from sklearn import metrics as skm

from bot.evidence import Status
from bot.policy.gates import Gates
from bot.registry import Dataset, Evaluation
from bot.validation import engine, models
from tests.support.mlflow_models import write_csv
from tests.validation.conftest import Zoo

GATES = Gates.of({
    "bootstrap": {"resamples": 400, "seed": 1},
    "metrics": {"roc_auc": {"min": 0.9}, "brier": {"max": 0.2}},
    "champion": {"roc_auc": {"non_inferiority": 0.05}},
    "baseline": {"roc_auc": {"min_gain": 0.2}, "accuracy": {"min_gain": 0.1}},
    "slices": {"metric": "accuracy", "min_rows": 25, "worst_ratio": 0.5},
    "error_analysis": {"max_flip_rate": 0.5},
    "robustness": {"probes": ["out_of_range", "extra_columns", "reordered_columns", "nulls"]},
    "data": {"max_null_rate": 0.0, "drift": {"ks": 0.5}, "max_train_eval_gap": 0.5},
})


def _subject(zoo: Zoo, candidate: str, champion: str | None, **extra: Any) -> engine.Subject:
    d = zoo.binary
    return engine.Subject(
        "tumor",
        candidate.rsplit("/", 1)[1],
        "production",
        d.task,
        d.target,
        candidate,
        champion and champion.rsplit("/", 1)[1],
        champion,
        d.slices,
        (d.slices,),
        **extra,
    )


def _gate(ev: Any, name: str) -> Any:
    return next(g for g in ev.gates if g.gate == name)


@pytest.fixture(scope="module")
def evidence(zoo: Zoo) -> Any:
    subject = _subject(zoo, zoo.forest.uri, zoo.logistic.uri, training_metrics={"roc_auc": 1.0})
    return engine.assess(
        subject,
        GATES,
        zoo.binary.evaluation,
        models.load(zoo.forest.uri),
        models.load(zoo.logistic.uri),
        zoo.binary.train,
    )


def test_a_good_candidate_passes_every_configured_gate(evidence: Any) -> None:
    assert {g.gate: g.status.value for g in evidence.gates if g.status is not Status.PASS} == {
        g.gate: g.status.value
        for g in evidence.gates
        if (g.gate.startswith("slices.") and g.status is Status.INCONCLUSIVE)
        or (g.gate == "robustness.nulls" and g.status is Status.SKIPPED)  # no nullable column: nothing to probe
    }
    assert evidence.status in (Status.PASS, Status.INCONCLUSIVE)
    assert {"metrics", "slices", "errors", "robustness", "data"} <= set(evidence.sections)


def test_reported_metrics_equal_scikit_learn_on_the_same_predictions(zoo: Zoo, evidence: Any) -> None:
    frame, d = zoo.binary.evaluation, zoo.binary
    scores = {
        role: models.predict(models.load(uri), frame[list(d.features)])[:, 1]
        for role, uri in (("candidate", zoo.forest.uri), ("champion", zoo.logistic.uri))
    }
    table = evidence.sections["metrics"].data["metrics"]
    y = frame[d.target].to_numpy()
    for role, p in scores.items():
        assert table["roc_auc"][role]["value"] == pytest.approx(skm.roc_auc_score(y, p), abs=1e-12)
        assert table["brier"][role]["value"] == pytest.approx(skm.brier_score_loss(y, p), abs=1e-12)
        assert table["f1"][role]["value"] == pytest.approx(skm.f1_score(y, (p > 0.5).astype(int)), abs=1e-12)
    assert table["accuracy"]["baseline"]["value"] == pytest.approx(max(np.mean(y), 1 - np.mean(y)))
    assert table["roc_auc"]["baseline"]["value"] == 0.5
    diff = table["roc_auc"]["candidate_minus_champion"]
    assert diff["low"] < diff["value"] < diff["high"]


def test_slices_are_listed_worst_first_with_their_row_counts(zoo: Zoo, evidence: Any) -> None:
    rows = evidence.sections["slices"].data["slices"]
    frame = zoo.binary.evaluation
    judged = [r for r in rows if r["status"] not in ("insufficient data", "undefined")]
    values = [r["candidate"]["value"] for r in judged]
    assert values == sorted(values)
    by_name = {r["slice"]: r["rows"] for r in rows}
    for value, count in frame["size_band"].value_counts().items():
        assert by_name[f"size_band={value}"] == count
    assert all(r["status"] == "insufficient data" for r in rows if r["rows"] < 25)
    assert "xychart-beta" in evidence.sections["slices"].chart


def test_first_deployment_is_stated_and_skips_champion_gates(zoo: Zoo) -> None:
    ev = engine.assess(
        _subject(zoo, zoo.forest.uri, None), GATES, zoo.binary.evaluation, models.load(zoo.forest.uri), None
    )
    assert _gate(ev, "champion.roc_auc.non_inferiority").status is Status.SKIPPED
    assert "first deployment to production" in ev.sections["metrics"].summary


def test_a_label_only_candidate_fails_probability_gates_with_the_reason(zoo: Zoo) -> None:
    ev = engine.assess(
        _subject(zoo, zoo.labels_only.uri, zoo.logistic.uri),
        GATES,
        zoo.binary.evaluation,
        models.load(zoo.labels_only.uri),
        models.load(zoo.logistic.uri),
    )
    floor = _gate(ev, "metric.roc_auc")
    assert floor.status is Status.FAIL and "answers labels only" in floor.reason
    assert _gate(ev, "baseline.accuracy.min_gain").status is Status.PASS


def test_a_candidate_answering_nan_fails_with_the_row(zoo: Zoo) -> None:
    ev = engine.assess(
        _subject(zoo, zoo.nan_model.uri, zoo.logistic.uri),
        GATES,
        zoo.binary.evaluation,
        models.load(zoo.nan_model.uri),
        models.load(zoo.logistic.uri),
    )
    gate = _gate(ev, "candidate.predict")
    assert ev.status is Status.FAIL and gate.status is Status.FAIL and "NaN in row 0" in gate.reason


def test_a_broken_champion_makes_champion_gates_inconclusive_not_failed(zoo: Zoo) -> None:
    ev = engine.assess(
        _subject(zoo, zoo.forest.uri, zoo.nan_model.uri),
        GATES,
        zoo.binary.evaluation,
        models.load(zoo.forest.uri),
        models.load(zoo.nan_model.uri),
    )
    gate = _gate(ev, "champion.roc_auc.non_inferiority")
    assert gate.status is Status.INCONCLUSIVE and "NaN" in gate.reason
    assert ev.status is not Status.PASS


@pytest.mark.parametrize(
    "damage,expected",
    [
        (lambda f: f.drop(columns=["malignant"]), "target column 'malignant' is missing"),
        (lambda f: f.drop(columns=["mean_radius", "worst_area"]), "missing from the data: mean_radius, worst_area"),
        (lambda f: f.assign(mean_texture="rough"), "column 'mean_texture' holds"),
        (lambda f: f.assign(malignant=np.where(np.arange(len(f)) == 3, None, f["malignant"])), "1 missing values"),
    ],
)
def test_unusable_evaluation_data_fails_the_schema_gate_with_the_reason(zoo: Zoo, damage, expected) -> None:  # type: ignore[no-untyped-def]
    ev = engine.assess(
        _subject(zoo, zoo.forest.uri, None),
        GATES,
        damage(zoo.binary.evaluation.copy()),
        models.load(zoo.forest.uri),
        None,
    )
    gate = _gate(ev, "data.schema")
    assert ev.status is Status.FAIL and gate.status is Status.FAIL and expected in gate.reason


def test_validate_refuses_a_changed_data_file_and_an_unloadable_model(zoo: Zoo, tmp_path: Path) -> None:
    sha = write_csv(zoo.binary.evaluation, tmp_path / "eval.csv")
    (tmp_path / "eval.csv").write_text((tmp_path / "eval.csv").read_text().replace("\n1", "\n0", 1))
    subject = _subject(zoo, zoo.forest.uri, None)
    ev = engine.validate(subject, GATES, Evaluation("eval.csv", sha, "malignant"), tmp_path)
    assert _gate(ev, "data.integrity").status is Status.FAIL and "re-pin it" in _gate(ev, "data.integrity").reason
    sha = write_csv(zoo.binary.evaluation, tmp_path / "eval.csv")
    missing = _subject(zoo, "models:/tumor/99", None)
    ev = engine.validate(missing, GATES, Evaluation("eval.csv", sha, "malignant"), tmp_path)
    assert _gate(ev, "candidate.load").status is Status.FAIL and "models:/tumor/99 failed to load" in ev.gates[0].reason


def test_validate_checks_drift_against_the_pinned_reference(zoo: Zoo, tmp_path: Path) -> None:
    sha = write_csv(zoo.binary.evaluation, tmp_path / "eval.csv")
    ref_sha = write_csv(zoo.binary.train, tmp_path / "ref.csv")
    evaluation = Evaluation("eval.csv", sha, "malignant", zoo.binary.slices, (), Dataset("ref.csv", ref_sha))
    ev = engine.validate(_subject(zoo, zoo.forest.uri, None), GATES, evaluation, tmp_path)
    assert _gate(ev, "data.drift.ks").status is Status.PASS
    assert ev.inputs["reference_data"]["sha256"] == ref_sha and ev.inputs["evaluation_data"]["sha256"] == sha
    bad = Evaluation("eval.csv", sha, "malignant", (), (), Dataset("ref.csv", "0" * 64))
    ev = engine.validate(_subject(zoo, zoo.forest.uri, None), GATES, bad, tmp_path)
    assert _gate(ev, "data.drift.ks").status is Status.INCONCLUSIVE


def test_regression_and_multiclass_models_are_validated_with_their_metrics(zoo: Zoo) -> None:
    r = zoo.regression
    subject = engine.Subject(
        "diabetes", "2", "staging", r.task, r.target, zoo.ridge_weak.uri, "1", zoo.ridge.uri, r.slices
    )
    spec = Gates.of({
        "champion": {"rmse": {"non_inferiority": 0.0}},
        "baseline": {"r2": {"min_gain": 0.05}},
        "slices": {"metric": "mae", "min_rows": 10},
    })
    ev = engine.assess(subject, spec, r.evaluation, models.load(zoo.ridge_weak.uri), models.load(zoo.ridge.uri))
    assert set(ev.sections["metrics"].data["metrics"]) == {"mae", "rmse", "r2", "mape"}
    assert _gate(ev, "baseline.r2.min_gain").status is Status.PASS
    m = zoo.multiclass
    subject = engine.Subject("iris", "1", "staging", m.task, m.target, zoo.iris.uri, None, None, m.slices)
    ev = engine.assess(
        subject,
        Gates.of({"averaging": "weighted", "metrics": {"f1": {"min": 0.8}}}),
        m.evaluation,
        models.load(zoo.iris.uri),
        None,
    )
    assert _gate(ev, "metric.f1.min").status is Status.PASS
    cm = ev.sections["errors"].data["confusion"]
    assert cm["classes"] == ["setosa", "versicolor", "virginica"] and np.sum(cm["candidate"]) == len(m.evaluation)


def test_robustness_probes_name_the_row_that_broke_the_model(zoo: Zoo) -> None:
    reference = zoo.binary.train.copy()
    reference.loc[5, "mean_radius"] = np.nan  # nulls occur in the reference data: the column is nullable
    ev = engine.assess(
        _subject(zoo, zoo.logistic.uri, None),
        Gates.of({"robustness": {"probes": ["nulls", "extra_columns"]}}),
        zoo.binary.evaluation,
        models.load(zoo.logistic.uri),
        None,
        reference,
    )
    nulls = _gate(ev, "robustness.nulls")
    assert (
        nulls.status is Status.FAIL
        and "NaN" in nulls.reason
        and nulls.details["row"]["mean_radius"] != nulls.details["row"]["mean_radius"]
    )
    assert _gate(ev, "robustness.extra_columns").status is Status.PASS


def test_each_model_gets_its_own_signatures_columns_and_a_clearly_worse_candidate_fails(zoo: Zoo) -> None:
    """Issue 13: the candidate (two features) and the champion (all ten) each answer on their own columns
    from the same rows; the worse candidate fails against the champion instead of leaving it inconclusive."""
    r = zoo.regression
    candidate, champion = models.load(zoo.ridge_weak.uri), models.load(zoo.ridge.uri)
    assert [c.name for c in candidate.inputs or ()] == ["bmi", "bp"]
    assert len(champion.inputs or ()) == len(r.features) > 2
    subject = engine.Subject(
        "diabetes", "2", "production", r.task, r.target, zoo.ridge_weak.uri, "1", zoo.ridge.uri, r.slices
    )
    spec = Gates.of({
        "champion": {"rmse": {"non_inferiority": 0.0}},
        "slices": {"metric": "mae", "min_rows": 10, "max_regression": 0.0},
    })
    ev = engine.assess(subject, spec, r.evaluation, candidate, champion)
    assert not [n for n in ev.notes if "unusable" in n], ev.notes
    metrics_data = ev.sections["metrics"].data["metrics"]["rmse"]
    assert metrics_data["champion"]["value"] < metrics_data["candidate"]["value"]
    assert _gate(ev, "champion.rmse.non_inferiority").status is Status.FAIL
    regression = _gate(ev, "slices.max_regression")
    assert "first deployment" not in regression.reason and regression.status is not Status.SKIPPED
    assert "no champion" not in ev.sections["metrics"].summary


def test_a_champion_whose_columns_are_missing_is_named_and_never_called_a_first_deployment(zoo: Zoo) -> None:
    r = zoo.regression
    frame = r.evaluation.drop(columns=["s1"])
    subject = engine.Subject(
        "diabetes", "2", "production", r.task, r.target, zoo.ridge_weak.uri, "1", zoo.ridge.uri, r.slices
    )
    spec = Gates.of(
        {"champion": {"rmse": {"non_inferiority": 0.0}}, "slices": {"metric": "mae", "max_regression": 0.1}}
    )
    ev = engine.assess(subject, spec, frame, models.load(zoo.ridge_weak.uri), models.load(zoo.ridge.uri))
    gate = _gate(ev, "champion.rmse.non_inferiority")
    assert gate.status is Status.INCONCLUSIVE and "s1" in gate.reason
    regression = _gate(ev, "slices.max_regression")
    assert regression.status is Status.INCONCLUSIVE and "first deployment" not in regression.reason
