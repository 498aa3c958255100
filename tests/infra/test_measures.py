"""The numbers: percentiles as numpy computes them, parity with a tolerance, replay logs and agreement."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest
from hypothesis import given
from hypothesis import strategies as st

from bot.errors import InvalidFile
from bot.infra import loadtest, parity, replay
from bot.policy.gates import LoadTest


@given(st.lists(st.floats(0, 1e4, allow_nan=False), min_size=1, max_size=300), st.sampled_from([0, 1, 50, 95, 99, 100]))
def test_percentiles_equal_numpys(values: list[float], q: int) -> None:
    assert loadtest.percentile(sorted(values), q) == pytest.approx(np.percentile(values, q), rel=1e-9, abs=1e-9)


def test_the_load_spec_follows_the_policy_and_defaults_to_a_request_count() -> None:
    spec = loadtest.LoadSpec.from_policy(LoadTest.of({"concurrency": 4, "duration_s": 30, "warmup": 10}))
    assert (spec.concurrency, spec.requests, spec.duration_s, spec.warmup) == (4, None, 30, 10)
    assert loadtest.LoadSpec.from_policy(LoadTest.of({})).requests == loadtest.DEFAULT_REQUESTS == 100
    assert loadtest.LoadSpec.from_policy(LoadTest.of({"requests": 7})).requests == 7


@pytest.mark.parametrize("served, local, tolerance, agree", [
    (1, 1, 0.0, True),
    ("yes", "yes", 0.0, True),
    ("yes", "no", 1.0, False),
    (1, 2, 0.5, False),                       # labels: a tolerance does not make 1 equal 2
    (0.5, 0.5 + 1e-9, 1e-6, True),
    (0.5, 0.51, 1e-6, False),
    (1000.0, 1000.5, 1e-3, True),            # relative to the value
    (float("nan"), float("nan"), 0.0, True),
    ([0.1, 0.9], [0.1, 0.9 + 1e-12], 1e-9, True),
    ([0.1, 0.9], [0.1], 1e-9, False),
    ({"p": 0.1}, {"p": 0.1, "q": 1}, 1e-9, False),
    (True, 1, 0.0, False),
])
def test_values_agree_within_the_tolerance(served: object, local: object, tolerance: float, agree: bool) -> None:
    assert parity.same(served, local, tolerance)[0] is agree


def test_parity_counts_rows_that_differ_and_shows_the_first() -> None:
    result = parity.compare([0.1, 0.2, 0.3, 0.4], [0.1, 0.25, 0.3, 0.45], 1e-6)
    assert (result.rows, result.mismatches) == (4, 2)
    assert result.max_abs_diff == pytest.approx(0.05)
    assert result.examples[0] == {"row": 1, "served": 0.2, "in_process": 0.25}
    assert parity.compare({"a": [1, 2]}, [{"a": 1}, {"a": 2}], 0).mismatches == 0


def test_a_replay_log_accepts_every_serving_format_and_logged_requests(tmp_path: Path) -> None:
    log = tmp_path / "replay.jsonl"
    lines = [{"dataframe_split": {"columns": ["x"], "data": [[1], [2]]}}, {"dataframe_records": [{"x": 1}]},
             {"inputs": {"x": [1, 2, 3]}}, {"instances": [[1], [2]]},
             {"timestamp": "t", "request": {"dataframe_split": {"columns": ["x"], "data": [[5]]}}}]
    log.write_text("\n".join(json.dumps(line) for line in lines) + "\n\n")
    found = replay.read_log(log)
    assert [(r.line, r.rows) for r in found] == [(1, 2), (2, 1), (3, 3), (4, 2), (5, 1)]
    assert json.loads(found[4].body) == lines[4]["request"]


def test_a_bad_replay_log_names_every_bad_line(tmp_path: Path) -> None:
    log = tmp_path / "replay.jsonl"
    log.write_text('{"dataframe_split": {"columns": ["x"], "data": [[1]]}}\nnot json\n{"rows": [1]}\n')
    with pytest.raises(InvalidFile) as caught:
        replay.read_log(log)
    assert [(p.location.line, p.message.split(" (")[0].split(";")[0]) for p in caught.value.problems] == [
        (2, "not JSON"), (3, "expected a request with one of dataframe_split, dataframe_records, instances, inputs")]


def test_agreement_compares_rows_where_both_answered() -> None:
    a = replay.Answer
    candidate = [a(1, 200, 5.0, [1, 0]), a(2, 200, 5.0, [1]), a(3, 500, 5.0, error="boom"), a(4, 200, 5.0, [0])]
    champion = [a(1, 200, 4.0, [1, 1]), a(2, 200, 4.0, [1]), a(3, 200, 4.0, [0]), a(4, None, None, error="down")]
    found = replay.agreement(candidate, champion, 0.0)
    assert (found.compared_rows, found.agreeing_rows, found.candidate_only_errors) == (3, 2, 1)
    assert found.rate == pytest.approx(2 / 3)
    summary = replay.summary(candidate)
    assert summary["errors"] == 1 and summary["p50_ms"] == 5.0 and summary["first_error"] == "line 3: boom"
