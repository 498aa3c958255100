"""The gateway's reading of MLflow's dataframe payloads against MLflow's own parser: the same frame (values,
dtypes, columns, index) and the same refusals, for plain numeric signatures (cast in one step) and for the
others (MLflow's code). Pure functions, no process (fast)."""

from __future__ import annotations

import json
from typing import Any

import pandas as pd
import pytest
from mlflow.pyfunc import scoring_server
from mlflow.types.schema import ColSpec, Schema, TensorSpec

from bot.serving import payloads
from bot.validation.host import first_line

JSON = "application/json"


def signature(*specs: ColSpec) -> payloads.Signature:
    schema = Schema(list(specs))
    return payloads.Signature("models:/m/1", None, schema, "mlflow.sklearn", False, payloads.plain_casts(schema))


NUMBERS = signature(ColSpec("double", "a"), ColSpec("long", "b"), ColSpec("float", "c"), ColSpec("boolean", "d"),
                    ColSpec("integer", "e", required=False))


def mlflow_frame(payload: dict[str, Any], sig: payloads.Signature) -> pd.DataFrame:
    return scoring_server.infer_and_parse_data(payload, sig.input_schema)


def ours(payload: dict[str, Any], sig: payloads.Signature) -> pd.DataFrame:
    return payloads.parse(json.dumps(payload).encode(), JSON, sig, check=False).data


SAME = [
    ("split, typed already", {"dataframe_split": {"columns": ["a", "b", "c", "d", "e"],
                                                  "data": [[1.5, 2, 0.25, True, 3], [2.5, 3, 0.5, False, 4]]}}),
    ("split, ints for every float column", {"dataframe_split": {"columns": ["a", "b", "c", "d"],
                                                                "data": [[1, 2, 3, True]]}}),
    ("split, with an index", {"dataframe_split": {"columns": ["a", "b"], "index": [7, 9],
                                                  "data": [[1.0, 2], [3.0, 4]]}}),
    ("split, no column names", {"dataframe_split": {"data": [[1, 2.5]]}}),
    ("records, optional column absent", {"dataframe_records": [{"a": 1, "b": 2, "c": 1.5, "d": False}]}),
    ("records, null in a double column", {"dataframe_records": [{"a": None, "b": 1}, {"a": 2.5, "b": 2}]}),
    ("records, a column the signature lacks", {"dataframe_records": [{"a": 1.0, "z": "x", "b": 5}]}),
    ("records, floats for a long column", {"dataframe_records": [{"a": 1.0, "b": 2.0}]}),
    ("records, numbers for a boolean column", {"dataframe_records": [{"d": 0}, {"d": 1}]}),
]


@pytest.mark.parametrize(("name", "payload"), SAME, ids=[name for name, _ in SAME])
def test_a_plain_signature_reads_as_mlflow_reads_it(name: str, payload: dict[str, Any]) -> None:
    expected = mlflow_frame(payload, NUMBERS)
    got = ours(payload, NUMBERS)
    pd.testing.assert_frame_equal(got, expected, check_exact=True)
    assert list(got.dtypes) == list(expected.dtypes), name


REFUSED = [
    ("text in a double column", {"dataframe_records": [{"a": "many", "b": 1}]}),
    ("null in a long column", {"dataframe_records": [{"a": 1.0, "b": None}]}),
    ("a split that is a list", {"dataframe_split": [[1.0, 2]]}),
    ("records that are an object", {"dataframe_records": {"a": 1.0}}),
]


@pytest.mark.parametrize(("name", "payload"), REFUSED, ids=[name for name, _ in REFUSED])
def test_a_payload_mlflow_refuses_is_refused_with_its_reason(name: str, payload: dict[str, Any]) -> None:
    with pytest.raises(Exception) as theirs:
        mlflow_frame(payload, NUMBERS)
    with pytest.raises(payloads.BadInput) as refused:
        ours(payload, NUMBERS)
    assert refused.value.status == 400
    assert refused.value.message == f"the payload cannot be read as the model's input: {first_line(theirs.value)}"


def test_other_signatures_are_cast_by_mlflow() -> None:
    assert payloads.plain_casts(NUMBERS.input_schema) == {
        "a": "float64", "b": "int64", "c": "float32", "d": "bool", "e": "int32"}
    texts = signature(ColSpec("string", "s"), ColSpec("double", "a"))
    dates = signature(ColSpec("datetime", "t"))
    tensor = Schema([TensorSpec(pd.Series([1.0]).to_numpy().dtype, (-1, 2))])
    assert texts.casts is None and dates.casts is None and payloads.plain_casts(tensor) is None
    for sig, payload in ((texts, {"dataframe_records": [{"s": "x", "a": 1}, {"s": None, "a": 2}]}),
                         (dates, {"dataframe_split": {"columns": ["t"], "data": [["2026-01-02T03:04:05"]]}})):
        pd.testing.assert_frame_equal(ours(payload, sig), mlflow_frame(payload, sig), check_exact=True)


def test_the_signature_is_enforced_only_when_asked() -> None:
    missing = {"dataframe_records": [{"a": 1.0}]}
    unchecked = ours(missing, NUMBERS)  # the model process enforces it (pyfunc's predict)
    assert list(unchecked.columns) == ["a"]
    with pytest.raises(payloads.BadInput, match="missing inputs"):
        payloads.parse(json.dumps(missing).encode(), JSON, NUMBERS)
    with pytest.raises(payloads.BadInput, match="does not match the model's signature"):
        payloads.enforce(unchecked, NUMBERS)
