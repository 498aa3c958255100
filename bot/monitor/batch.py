"""What a source hands the accumulator: one block of logged rows (and of requests), in common column shapes."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

import numpy as np


@dataclass(frozen=True, eq=False)
class Batch:
    """Row arrays are aligned (one entry per predicted row); request arrays are aligned (one entry per request:
    a request may carry several rows, or none when it failed).

    `columns` (features and slice columns) and `prediction`/`label` hold pyarrow arrays or numpy arrays (object
    arrays when values came from JSON); `label` is null where the truth is not known yet.
    """

    ts: np.ndarray  # int64 epoch milliseconds per row
    columns: Mapping[str, Any]
    prediction: Any
    score: np.ndarray | None
    label: Any | None
    request_ts: np.ndarray  # int64 epoch milliseconds per request
    latency_ms: np.ndarray | None
    error: np.ndarray | None
    # every row of the source with a time before this (epoch ms) is in this batch or an earlier one, so windows
    # ending by then are complete; None when the source cannot tell (then every window completes at its end)
    complete_ms: int | None = None

    @property
    def rows(self) -> int:
        return int(self.ts.shape[0])
