"""Bad input is a clear reason, never a traceback: data files, model answers, data checks and slices."""

from __future__ import annotations

import hashlib
import re
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
from scipy import stats

from bot.evidence import Status
from bot.validation import data, datachecks, outputs, slices
from bot.validation.models import InputColumn


def _pin(path: Path) -> str:
    return hashlib.sha256(path.read_bytes()).hexdigest()


def test_csv_and_parquet_load_after_their_sha256_is_verified(tmp_path: Path) -> None:
    frame = pd.DataFrame({"a": [1.0, 2.0], "y": [0, 1]})
    frame.to_csv(tmp_path / "e.csv", index=False)
    frame.to_parquet(tmp_path / "e.parquet")
    for name in ("e.csv", "e.parquet"):
        loaded, digest = data.load(name, _pin(tmp_path / name), tmp_path)
        assert loaded.equals(frame) and digest == _pin(tmp_path / name)
    loaded, _ = data.load((tmp_path / "e.csv").as_uri(), _pin(tmp_path / "e.csv"), Path("/nonexistent"))
    assert loaded.shape == (2, 2)


@pytest.mark.parametrize(
    "content,pinned,expected",
    [
        (b"a,y\n1,0\n", "0" * 64, "sha256 is"),
        (b"", None, "the file is empty"),
        (b"a,y\n", None, "no rows"),
    ],
)
def test_bad_data_files_are_refused_with_the_reason(
    tmp_path: Path, content: bytes, pinned: str | None, expected: str
) -> None:
    path = tmp_path / "e.csv"
    path.write_bytes(content)
    with pytest.raises(data.DataProblem, match=expected):
        data.load("e.csv", pinned or _pin(path), tmp_path)


def test_missing_file_and_remote_scheme_are_refused(tmp_path: Path) -> None:
    with pytest.raises(data.DataProblem, match="no such file"):
        data.load("absent.csv", "0" * 64, tmp_path)
    with pytest.raises(data.DataProblem, match="only repository paths and file: URIs"):
        data.load("s3://bucket/e.csv", "0" * 64, tmp_path)


@pytest.mark.parametrize(
    "raw,task,expected",
    [
        (np.zeros(3), "regression", "answered 3 predictions for 4 rows"),
        (np.array([1.0, np.nan, 2.0, 3.0]), "regression", "NaN in row 1"),
        (np.array([[0.2, 0.8], [0.5, np.nan], [1, 0], [0, 1]]), "binary_classification", "NaN in row 1"),
        (np.array([[0.2, 1.8], [0.5, 0.5], [1, 0], [0, 1]]), "binary_classification", "outside [0, 1] in row 0"),
        (np.array(["a", "b", "c", "d"]), "regression", "non-numeric"),
        (np.zeros((4, 2, 2)), "binary_classification", "shape (4, 2, 2)"),
        (np.array([0.1, 0.5, 0.7, 0.3]), "multiclass_classification", "multiclass model must answer labels"),
    ],
)
def test_model_answers_of_the_wrong_shape_or_with_nan_are_refused(raw, task, expected) -> None:  # type: ignore[no-untyped-def]
    with pytest.raises(outputs.OutputProblem, match=re.escape(expected)):
        outputs.parse(raw, task, 4)


def test_answers_are_aligned_with_the_target_classes() -> None:
    y = np.array(["no", "yes", "yes", "no"])
    target = outputs.Target("binary_classification", outputs.codes(y, ("no", "yes")), ("no", "yes"), 1)
    named = outputs.parse(pd.DataFrame({"yes": [0.9, 0.2, 0.6, 0.1], "no": [0.1, 0.8, 0.4, 0.9]}), target.task, 4)
    pred = outputs.encode(named, target, None)
    assert pred.scores is not None and pred.scores[:, 1].tolist() == [0.9, 0.2, 0.6, 0.1]
    assert pred.labels.tolist() == [1, 0, 1, 0]  # type: ignore[union-attr]
    single = outputs.encode(outputs.parse(np.array([0.9, 0.2, 0.6, 0.1]), target.task, 4), target, None)
    assert single.scores is not None and np.allclose(single.scores[:, 1], [0.9, 0.2, 0.6, 0.1])
    labels = outputs.encode(outputs.parse(np.array(["yes", "no", "no", "no"]), target.task, 4), target, None)
    assert labels.scores is None and labels.labels.tolist() == [1, 0, 0, 0]  # type: ignore[union-attr]


def test_structure_names_each_problem_with_the_data() -> None:
    frame = pd.DataFrame({"age": ["old", "young"], "income": [1.0, 2.0]})
    signature = [InputColumn("age", "double"), InputColumn("income", "double"), InputColumn("city", "string")]
    result = datachecks.structure(frame, "label", signature, "binary_classification")
    assert not result.usable and result.gate.status is Status.FAIL
    assert "target column 'label' is missing" in result.gate.reason
    assert "missing from the data: city" in result.gate.reason
    assert "column 'age' holds" in result.gate.reason and "expects double" in result.gate.reason


def test_psi_equals_its_definition_and_numeric_drift_equals_scipy() -> None:
    ref = pd.Series(["a"] * 50 + ["b"] * 30 + ["c"] * 20)
    cur = pd.Series(["a"] * 30 + ["b"] * 30 + ["c"] * 30 + ["d"] * 10)
    p, q = np.array([0.5, 0.3, 0.2, 1e-4]), np.array([0.3, 0.3, 0.3, 0.1])
    assert datachecks.psi(ref, cur) == pytest.approx(float(np.sum((q - p) * np.log(q / p))))
    rng = np.random.default_rng(0)
    a, b = rng.normal(0, 1, 3000).round(2), rng.normal(0.3, 1.2, 2000).round(2)
    ks, distance = datachecks.ks_wasserstein(a, b)
    assert ks == pytest.approx(stats.ks_2samp(a, b).statistic)
    assert distance == pytest.approx(stats.wasserstein_distance(a, b))


def test_slice_groupings_cover_values_missing_values_and_declared_crosses() -> None:
    frame = pd.DataFrame({"region": ["n", "s", None, "n"], "tier": ["a", "a", "b", "b"]})
    found, missing = slices.groupings(frame, ["region", "tier", "plan"], [("region", "tier")])
    assert missing == ["plan"]
    by_name = {g.name: g for g in found}
    assert by_name["region"].labels == ("region=n", "region=s", f"region={slices.MISSING}")
    assert by_name["region"].codes.tolist() == [0, 1, 2, 0]
    cross = by_name["region × tier"]
    assert [cross.labels[c] for c in cross.codes] == [
        "region=n × tier=a",
        "region=s × tier=a",
        f"region={slices.MISSING} × tier=b",
        "region=n × tier=b",
    ]
