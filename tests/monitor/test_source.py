"""A Parquet table's row groups tell when a window is complete (the smallest time still to read, by their
statistics): a window taken then, beside the scan, is the window taken at the end, even when a late row of it
sits in the last row group."""

from __future__ import annotations

from dataclasses import replace
from datetime import UTC, datetime
from pathlib import Path

import numpy as np
import pandas as pd
import pyarrow as pa
import pyarrow.parquet as pq
import pytest

from bot.monitor import run, source
from bot.policy.monitor import parse
from tests.monitor import support

POLICY = parse({"min_rows": 50, "performance": {"metric": "accuracy", "min": 0.7, "min_rows": 50, "resamples": 50}})


def _table(folder: Path, late: bool, ts_type: str) -> Path:
    """Four hours of rows in time order, in row groups of 500 rows; `late`: a row of the first hour moved to the
    end (a log flushed out of order)."""
    spans = support.windows(4)
    frame = pd.concat([support.traffic(1000, seed=40 + hour) for hour in range(4)], ignore_index=True)
    ts = spans.start_ms + np.sort(np.random.default_rng(9).integers(0, 4 * 3_600_000, frame.shape[0]))
    if late:
        ts = np.append(ts[1:], ts[0])
    table = pa.Table.from_pandas(frame, preserve_index=False)
    table = table.append_column("ts", pa.array(ts, pa.timestamp("ms", "UTC") if ts_type == "timestamp" else pa.int64()))
    path = folder / "log.parquet"
    pq.write_table(table, path, row_group_size=500)
    return path


def _needs(path: Path) -> source.Needs:
    ref, spans = support.reference(), support.windows(4)
    features = tuple(f.name for f in ref.features)
    end = spans.start_ms + spans.width_ms * spans.count
    return source.Needs("m", "production", features, ref.slices, ref.classes, spans.start_ms, end)


@pytest.mark.parametrize(("late", "ts_type"), [(False, "timestamp"), (True, "timestamp"), (False, "epoch_ms")])
def test_windows_taken_as_the_row_groups_complete_them_equal_windows_taken_at_the_end(
    tmp_path: Path, late: bool, ts_type: str
) -> None:
    path = _table(tmp_path, late, ts_type)
    marks = [b.complete_ms for b in source.read_table(path, _needs(path))]
    spans = support.windows(4)
    first_window_end = spans.start_ms + spans.width_ms
    assert marks == sorted(marks)  # type: ignore[type-var]
    if late:  # the first hour's late row is in the last row group: no window is complete before it
        assert all(m is not None and m < first_window_end for m in marks[:-1])
    else:
        assert any(m is not None and first_window_end <= m < spans.start_ms + 3 * spans.width_ms for m in marks)

    def at_the_end(p: Path, needs: source.Needs):  # type: ignore[no-untyped-def]
        return (replace(b, complete_ms=None) for b in source.read_table(p, needs))

    now = datetime.now(UTC)
    early = run.monitor("m", "production", path, support.reference(), spans, POLICY, now)
    late_taken = run.monitor("m", "production", path, support.reference(), spans, POLICY, now, read=at_the_end)
    assert early.rows == 4000 and early.as_dict() == late_taken.as_dict()
