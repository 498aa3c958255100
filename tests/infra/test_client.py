"""The serving API's request and answer formats: what the client sends is what MLflow's server parses, and
an answer is checked against the declared output schema."""

from __future__ import annotations

import json

import numpy as np
import pandas as pd
import pytest

from bot.infra import client
from bot.infra.client import ResponseError
from bot.infra.signature import Column, Tensor


def test_a_frame_reaches_the_server_unchanged() -> None:
    """MLflow's own server-side parser reads back exactly the values sent, floats to the last bit."""
    from mlflow.pyfunc.scoring_server import infer_and_parse_data

    rng = np.random.default_rng(3)
    frame = pd.DataFrame({"a": rng.normal(size=50) * 1e-7, "b": rng.integers(0, 9, 50), "c": ["p", "q"] * 25})
    frame.loc[4, "a"] = np.nan
    parsed = infer_and_parse_data(json.loads(client.encode_split(frame)))
    assert parsed["a"].isna().tolist() == frame["a"].isna().tolist()
    assert np.array_equal(parsed["a"].dropna().to_numpy(), frame["a"].dropna().to_numpy())
    assert parsed["b"].tolist() == frame["b"].tolist() and parsed["c"].tolist() == frame["c"].tolist()


def test_missing_values_and_datetimes_are_plain_json() -> None:
    frame = pd.DataFrame({"n": pd.array([1, None], dtype="Int64"), "t": pd.to_datetime(["2024-05-06 07:08:09", None]),
                          "s": ["x", None]})
    body = json.loads(client.encode_split(frame))
    assert body == {"dataframe_split": {"columns": ["n", "t", "s"],
                                        "data": [[1, "2024-05-06T07:08:09", "x"], [None, None, None]]}}


def test_a_prepared_request_is_one_complete_http_message() -> None:
    raw = client.prepare(8123, b'{"x": 1}')
    head, body = raw.split(b"\r\n\r\n")
    lines = head.decode().split("\r\n")
    assert lines[0] == "POST /invocations HTTP/1.1" and "Content-Length: 8" in lines and body == b'{"x": 1}'


@pytest.mark.parametrize("body, rows, reason", [
    (b"<html>oops</html>", 1, "the answer is not JSON"),
    (b'{"result": [1]}', 1, "no `predictions` key"),
    (b'{"predictions": [1, 2]}', 3, "holds 2 predictions for 3 rows"),
    (b'{"predictions": {"a": [1, 2], "b": [1]}}', 2, "hold [1, 2] entries for 2 rows"),
])
def test_answers_without_one_prediction_per_row_are_refused(body: bytes, rows: int, reason: str) -> None:
    with pytest.raises(ResponseError, match=reason.replace("[", r"\[").replace("]", r"\]")):
        client.predictions(body, rows)


LABEL = (Column(None, "long"),)
SCORE = (Column(None, "double"),)
NAMED = (Column("label", "string"), Column("score", "double"))
PROBA = (Tensor("float64", (-1, 2)),)


@pytest.mark.parametrize("found, schema, reason", [
    ([1, 0, 1], LABEL, None),
    ([1, 0.5], LABEL, "prediction 1: expected long, got 0.5"),
    ([True], LABEL, "expected long, got boolean True"),
    ([0.5, 1, None], SCORE, None),
    (["0.5"], SCORE, 'expected double, got "0.5"'),
    ([[1]], LABEL, None),
    ([{"label": "a", "score": 0.1}], NAMED, None),
    ([{"label": "a"}], NAMED, "missing output `score`"),
    ({"label": ["a", "b"], "score": [0.1, 0.2]}, NAMED, None),
    ([["a", 0.1]], NAMED, None),
    ([["a"]], NAMED, "expected 2 outputs"),
    ([[0.2, 0.8], [1, 0]], PROBA, None),
    ([[0.2, 0.8, 0.0]], PROBA, "expected a list of 2 entries"),
    ([0.2], PROBA, "expected a list of 2 entries"),
    ([["a", "b"]], PROBA, 'expected float64, got "a"'),
])
def test_every_prediction_must_have_the_declared_output(found: object, schema: tuple, reason: str | None) -> None:
    if reason is None:
        client.check_output(found, schema)
    else:
        with pytest.raises(ResponseError, match=reason.replace("(", r"\(")):
            client.check_output(found, schema)


def test_an_error_answer_is_summed_up_by_mlflows_message_and_the_models_exception() -> None:
    body = json.dumps({"error_code": "BAD_REQUEST", "message": "Encountered an unexpected error\nmore",
                       "stack_trace": "Traceback (most recent call last):\n  File x\nValueError: boom\n"}).encode()
    assert client.error_text(400, body) == "HTTP 400: Encountered an unexpected error (ValueError: boom)"
    assert client.error_text(502, b"Bad Gateway") == "HTTP 502: Bad Gateway"
