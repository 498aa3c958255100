"""The rows to look at: worst slices and flipped (or worsened) predictions by row id, checked against the same
lists computed independently with pandas on the frame."""

from __future__ import annotations

import numpy as np
import pandas as pd

from bot.validation import attention
from bot.validation.outputs import Predictions, Target


def _frame(n: int = 400, seed: int = 3) -> tuple[pd.DataFrame, np.ndarray, np.ndarray, np.ndarray]:
    rng = np.random.default_rng(seed)
    y = rng.integers(0, 2, n)
    champion = np.where(rng.random(n) < 0.85, y, 1 - y)
    candidate = np.where(rng.random(n) < 0.2, 1 - champion, champion)
    frame = pd.DataFrame({"band": rng.choice(["low", "high"], n), "y": y})
    return frame, y, candidate, champion


def _preds(labels: np.ndarray) -> Predictions:
    scores = np.stack([1 - labels * 0.8, labels * 0.8 + 0.1], axis=1)
    return Predictions(labels=labels, scores=scores)


def test_flipped_rows_are_every_disagreement_now_wrong_first_with_their_slice() -> None:
    frame, y, candidate, champion = _frame()
    target = Target("binary_classification", y, ("no", "yes"), 1)
    section = attention.section(
        frame,
        target,
        {"candidate": _preds(candidate), "champion": _preds(champion)},
        [],
        ["band"],
        ["champion.accuracy.non_inferiority"],
        "data/eval.csv",
    )
    flipped = section.data["flipped"]
    frame["cand"], frame["champ"] = candidate, champion
    disagree = frame[frame.cand != frame.champ]
    worse = disagree[(disagree.cand != disagree.y) & (disagree.champ == disagree.y)]
    better = disagree[(disagree.cand == disagree.y) & (disagree.champ != disagree.y)]
    assert flipped["total"] == len(disagree) > 0
    assert (flipped["worse"], flipped["better"], flipped["changed"]) == (len(worse), len(better), 0)
    listed = flipped["rows"]
    assert [r["row"] for r in listed[: len(worse)]] == worse.index.tolist()
    assert {r["row"] for r in listed} == set(disagree.index)
    first = listed[0]
    assert first["kind"] == "worse" and first["slice"] == f"band={frame.band[first['row']]}"
    assert first["label"] == ("no", "yes")[y[first["row"]]] and first["candidate"] != first["label"]
    assert section.tables[-1].rows[0][0] == first["row"] and len(section.tables[-1].rows) == attention.SHOWN
    assert "data/eval.csv" in section.tables[-1].title and "non_inferiority" in section.summary


def test_the_list_in_the_artifact_is_bounded_and_says_how_many_there_were() -> None:
    _, y, candidate, champion = _frame(n=6000)
    target = Target("binary_classification", y, (0, 1), 1)
    rows, counts = attention.flipped(target, _preds(candidate), _preds(champion), limit=50)
    assert len(rows) == 50 and sum(counts.values()) == int((candidate != champion).sum()) > 50


def test_regression_lists_rows_whose_error_grew_most() -> None:
    rng = np.random.default_rng(5)
    y = rng.normal(size=300)
    champion, candidate = y + rng.normal(0, 0.1, 300), y + rng.normal(0, 0.3, 300)
    frame = pd.DataFrame({"sex": rng.choice(["f", "m"], 300)})
    target = Target("regression", y)
    section = attention.section(
        frame,
        target,
        {"candidate": Predictions(values=candidate), "champion": Predictions(values=champion)},
        [],
        ["sex"],
        ["metric.mae.max"],
        "eval.csv",
    )
    growth = pd.Series(np.abs(candidate - y) - np.abs(champion - y))
    expected = growth[growth > 0].sort_values(ascending=False, kind="stable")
    worsened = section.data["worsened"]
    assert worsened["total"] == len(expected)
    assert [r["row"] for r in worsened["rows"]] == expected.index.tolist()
    assert np.isclose(worsened["rows"][0]["error_growth"], expected.iloc[0])


def test_worst_slices_are_the_failing_and_unclear_ones_then_the_worst_judged() -> None:
    slices = [
        {"slice": "a=1", "rows": 40, "status": "pass"},
        {"slice": "a=2", "rows": 5, "status": "insufficient data"},
        {"slice": "a=3", "rows": 40, "status": "fail"},
        {"slice": "a=4", "rows": 40, "status": "pass"},
        {"slice": "a=5", "rows": 40, "status": "inconclusive"},
    ]
    assert [s["slice"] for s in attention.worst_slices(slices, limit=3)] == ["a=3", "a=5", "a=1"]
    assert [s["slice"] for s in attention.worst_slices(slices, limit=1)] == ["a=3", "a=5"]
