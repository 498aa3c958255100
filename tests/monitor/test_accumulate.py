"""The accumulator's per-window counts recomputed with pandas from the rows, whether a batch's rows come in time
order (windows counted as runs of positions) or not (counted through masks), and category codes equal to the
keys every source uses."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pyarrow as pa
import pytest

from bot.monitor.accumulate import Accumulator, _codes
from bot.monitor.batch import Batch
from bot.monitor.keys import keys
from tests.monitor import support


def _batch(frame: pd.DataFrame) -> Batch:
    ts = frame["ts"].to_numpy()
    return Batch(
        ts,
        {c: pa.array(frame[c], from_pandas=True) for c in ("a", "b", "city", "band")},
        pa.array(frame["prediction"]),
        None,
        pa.array(frame["label"]),
        ts,
        frame["latency_ms"].to_numpy(),
        frame["error"].to_numpy(),
    )


@pytest.mark.parametrize("shuffled", [False, True])
def test_counts_per_window_equal_pandas_whatever_the_row_order(shuffled: bool) -> None:
    ref = support.reference()
    spans = support.windows(4)
    frame = support.traffic(3000, seed=3, shift=0.5)
    rng = np.random.default_rng(4)
    frame.loc[rng.random(3000) < 0.5, "a"] = np.nan  # masks dense enough that every run's ends matter
    frame.loc[rng.random(3000) < 0.3, "city"] = None
    frame["error"] = rng.random(3000) < 0.5
    # rows before the first window, in each of the four and after the last: batches straddle windows
    frame["ts"] = np.sort(
        np.random.default_rng(4).integers(spans.start_ms - 600_000, spans.start_ms + 4 * 3_600_000 + 600_000, 3000)
    )
    if shuffled:
        frame = frame.sample(frac=1.0, random_state=5)
    accumulator = Accumulator(ref, spans, ("a", "b", "city"), ("band",))
    for part in np.array_split(np.arange(frame.shape[0]), 3):
        accumulator.add(_batch(frame.iloc[part]))
    stats = accumulator.result()

    window = (frame["ts"] - spans.start_ms) // spans.width_ms
    inside = frame[(window >= 0) & (window < spans.count)].assign(window=window)
    for w, s in enumerate(stats):
        rows = inside[inside["window"] == w]
        assert (s.rows, s.requests, s.errors) == (len(rows), len(rows), int(rows["error"].sum()))
        assert s.features["a"].nulls == int(rows["a"].isna().sum())
        low, high = ref.feature("b").low, ref.feature("b").high  # type: ignore[union-attr]
        assert s.features["b"].out_of_range == int(((rows["b"] < low) | (rows["b"] > high)).sum())
        assert s.features["city"].nulls == int(rows["city"].isna().sum())
        assert dict(s.features["city"].counts) == rows["city"].value_counts().to_dict()
        assert dict(s.prediction.counts) == {str(k): v for k, v in rows["prediction"].value_counts().items()}
        assert (0 if s.latency is None else int(s.latency.sum())) == len(rows)
        assert s.features["b"].sample.size == len(rows)  # fewer rows than the sample holds: all of them
    assert all(s.rows for s in stats) and 0 < len(inside) < len(frame)


@pytest.mark.parametrize(
    "array",
    [
        pa.array([-100, 100, 5, 5], pa.int8()),
        pa.array([2**64 - 1, 2**64 - 3], pa.uint64()),
        pa.array([0, 1, 1, 0]),
        pa.array([0, 5000, 7]),  # too wide a range: hashed
        pa.array([1, None, 2]),
        pa.array(["x", None, "y"]),
        pa.array([0.0, 1.0, float("nan")]),
    ],
)
def test_category_codes_are_the_keys_of_every_value(array: pa.Array) -> None:
    labels, codes, missing = _codes(array)
    absent = np.zeros(len(array), dtype=bool) if missing is None else missing
    assert [None if gone else labels[c] for c, gone in zip(codes, absent, strict=True)] == keys(array).to_pylist()
