"""API consistency, as a table: what the candidate's signature accepts against the evaluation data and the
champion's signature. The type rules are checked against MLflow's own schema enforcement."""

from __future__ import annotations

import json

import numpy as np
import pandas as pd
import pytest

from bot.infra import signature
from bot.infra.signature import Column, Signature


def columns(*specs: str, optional: tuple[str, ...] = ()) -> tuple[Column, ...]:
    """`name:type` pairs as a column schema."""
    return tuple(Column(s.split(":")[0], s.split(":")[1], s.split(":")[0] not in optional) for s in specs)


def sig(*specs: str, optional: tuple[str, ...] = (), outputs: tuple[Column, ...] | None = None) -> Signature:
    return Signature(columns(*specs, optional=optional), outputs)


@pytest.mark.parametrize("candidate, champion, problem", [
    (sig("a:double", "b:long"), sig("a:double", "b:long"), None),
    (sig("a:double", "b:long"), sig("a:double", "b:integer"), None),
    (sig("a:double"), sig("a:float"), None),
    (sig("a:double", "c:string"), sig("a:double"), "requires input column `c` (string), which the champion does not"
                                                   " have (callers do not send it yet)"),
    (sig("a:double", "c:string", optional=("c",)), sig("a:double"), None),
    (sig("a:long"), sig("a:double"), "input column `a`: the candidate declares long, the champion has double"),
    (sig("a:string"), sig("a:long"), "input column `a`: the candidate declares string, the champion has long"),
])
def test_the_candidate_must_accept_what_the_champion_accepts(candidate: Signature, champion: Signature,
                                                             problem: str | None) -> None:
    data = {c.name: c.type for c in (candidate.inputs or ()) if isinstance(c, Column) and c.name}
    report = signature.check(candidate, data, champion)
    assert report.checked
    if problem is None:
        assert report.problems == ()
    else:
        assert len(report.problems) == 1 and problem in report.problems[0]


def test_columns_the_candidate_no_longer_takes_are_a_note_not_a_problem() -> None:
    report = signature.check(sig("a:double"), {"a": "double"}, sig("a:double", "old:long"))
    assert report.problems == () and report.notes == ("the candidate ignores columns the champion takes: old",)


def test_the_evaluation_data_must_hold_every_required_column_in_an_accepted_type() -> None:
    frame = pd.DataFrame({"a": [1.5], "b": [2], "slice": ["x"]})
    report = signature.check(sig("a:double", "b:double", "z:long"), signature.data_types(frame))
    assert report.problems == (
        "input column `b`: the candidate declares double, the evaluation data has long",
        "the candidate requires input column `z` (long), which the evaluation data does not have",
    )
    assert "no champion signature to compare with" in report.notes


def test_a_changed_output_breaks_callers() -> None:
    before = Signature(columns("a:double"), (Column(None, "long"),))
    after = Signature(columns("a:double"), (Column(None, "string"),))
    report = signature.check(after, {"a": "double"}, before)
    assert report.problems == (
        "the output changes from (unnamed): long to (unnamed): string: callers parse the old one",)


def test_without_a_signature_nothing_can_be_checked() -> None:
    assert not signature.check(None, {"a": "double"}).checked
    tensor = Signature((signature.Tensor("float64", (-1, 4)),), None)
    assert signature.check(tensor, {"a": "double"}).notes == ("the candidate takes tensors: columns are not compared",)


@pytest.mark.parametrize("values", [
    np.array([1, 2], dtype="int8"), np.array([1, 2], dtype="int32"), np.array([1, 2], dtype="int64"),
    np.array([1.5, 2], dtype="float32"), np.array([1.5, 2], dtype="float64"), np.array([True, False]),
    np.array(["x", "y"], dtype=object), pd.to_datetime(["2024-01-01", "2024-01-02"]).to_numpy(),
])
def test_pandas_types_are_named_as_mlflow_infers_them(values: np.ndarray) -> None:
    from mlflow.models import infer_signature

    frame = pd.DataFrame({"v": values})
    inferred = json.loads(infer_signature(frame).to_dict()["inputs"])[0]["type"]
    assert signature.pandas_type(frame["v"].dtype) == inferred


TYPES = ("integer", "long", "float", "double")


@pytest.mark.parametrize("declared", TYPES)
@pytest.mark.parametrize("offered", TYPES)
def test_type_widening_agrees_with_mlflows_schema_enforcement(declared: str, offered: str) -> None:
    from mlflow.exceptions import MlflowException
    from mlflow.models import validate_schema
    from mlflow.types import ColSpec, Schema

    numpy = {"integer": "int32", "long": "int64", "float": "float32", "double": "float64"}[offered]
    frame = pd.DataFrame({"v": np.array([3, 7], dtype=numpy)})  # not 0/1: MLflow lets those through as a favour
    try:
        validate_schema(frame, Schema([ColSpec(declared, "v")]))
        mlflow_accepts = True
    except MlflowException:
        mlflow_accepts = False
    assert signature.accepts(declared, offered) == mlflow_accepts


def test_a_logged_signature_is_read_from_the_registry(tumor: dict) -> None:
    found = signature.fetch(tumor["candidate"])
    names = [c.name for c in found.inputs]
    assert names == list(tumor["data"].features) and {c.type for c in found.inputs} == {"double"}
    assert isinstance(found.outputs[0], signature.Tensor) and found.outputs[0].shape == (-1, 2)
