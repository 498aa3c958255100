"""Synthetic production traffic for the monitoring tests: a reference frame and windows of rows drawn from it,
optionally shifted, as the batches a source yields."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from pathlib import Path

import numpy as np
import pandas as pd
import pyarrow as pa

from bot.monitor.batch import Batch
from bot.monitor.reference import Reference, summarise
from bot.monitor.windows import Windows

START = datetime(2026, 11, 1, tzinfo=UTC)


def reference_frame(rows: int = 400, seed: int = 0) -> pd.DataFrame:
    rng = np.random.default_rng(seed)
    return pd.DataFrame(
        {
            "a": rng.normal(0.0, 1.0, rows).round(3),
            "b": rng.uniform(0.0, 10.0, rows).round(2),
            "city": rng.choice(["x", "y", "z"], rows, p=[0.5, 0.3, 0.2]),
            "band": rng.choice(["s", "l"], rows),
            "y": rng.integers(0, 2, rows),
        }
    )


def reference(frame: pd.DataFrame | None = None) -> Reference:
    return summarise(reference_frame() if frame is None else frame, "ref.csv", "binary_classification", "y", ["band"])


def traffic(rows: int, seed: int, shift: float = 0.0, city: str | None = None) -> pd.DataFrame:
    """Rows from the reference's own generator (same distribution), `a` shifted by `shift` standard deviations."""
    rng = np.random.default_rng(seed)
    frame = pd.DataFrame(
        {
            "a": (rng.normal(0.0, 1.0, rows) + shift).round(3),
            "b": rng.uniform(0.0, 10.0, rows).round(2),
            "city": rng.choice(["x", "y", "z"], rows, p=[0.5, 0.3, 0.2]) if city is None else city,
            "band": rng.choice(["s", "l"], rows),
        }
    )
    frame["prediction"] = (frame["a"] > 0).astype(int)
    frame["label"] = ((frame["a"] + rng.normal(0, 0.5, rows)) > 0).astype(int)
    frame["latency_ms"] = rng.exponential(20.0, rows)
    frame["error"] = rng.random(rows) < 0.01
    return frame


def batch(frame: pd.DataFrame, window: int, windows: Windows) -> Batch:
    """The frame's rows spread evenly over window `window`."""
    start = windows.start_ms + window * windows.width_ms
    ts = start + np.linspace(0, windows.width_ms - 1, frame.shape[0]).astype(np.int64)
    return Batch(
        ts,
        {c: pa.array(frame[c]) for c in ("a", "b", "city", "band")},
        pa.array(frame["prediction"]),
        None,
        pa.array(frame["label"]) if "label" in frame else None,
        ts,
        frame["latency_ms"].to_numpy(),
        frame["error"].to_numpy(),
    )


def windows(count: int) -> Windows:
    return Windows.between(START, START + timedelta(hours=count), timedelta(hours=1))


def gateway_log(folder: Path, reference: pd.DataFrame, model: str, stage: str, version: str, hours: int = 4,
                shifted_hour: int | None = 3, requests: int = 60, start: datetime = START,
                slow_hour: int | None = None) -> Path:
    """`hours` hours from `start` of the gateway's own log (its PredictionLog) of `requests` requests of 4 rows
    each, resampled from the reference; the shifted hour's mean_radius x 1.6 (drift, and past the range); the
    slow hour's answers 40 times slower (a latency SLO breach: the version's own)."""
    import uuid

    from bot.serving.predlog import PredictionLog

    rng = np.random.default_rng(7)
    log = PredictionLog(folder)
    features = [c for c in reference.columns if c not in ("malignant", "size_band", "texture_band")]
    for hour in range(hours):
        for i in range(requests):
            rows = reference.iloc[rng.integers(0, reference.shape[0], 4)]
            data = rows[features].to_numpy().copy()
            if hour == shifted_hour:
                data[:, features.index("mean_radius")] *= 1.6
            when = start + timedelta(hours=hour, seconds=i * (3600 // requests))
            latency = float(rng.exponential(15.0)) * (40 if hour == slow_hour else 1)
            log.write({"ts": when.isoformat().replace("+00:00", "Z"), "request_id": str(uuid.uuid4()), "model": model,
                       "stage": stage, "version": version, "arm": "stable", "served_by": version, "fallback": False,
                       "shadow": False, "inputs": {"columns": features, "data": data.tolist()},
                       "prediction": rows["malignant"].tolist(), "latency_ms": latency,
                       "error": False, "reason": None, "status": 200})
    log.flush()
    return folder
