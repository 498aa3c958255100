"""The demo's faulty candidate: a regression model that answers batches correctly but fails some single-row
requests, as a model whose serving code path differs from its batch path does (a shape bug validation cannot
see: every validation and robustness check scores whole frames). The live canary catches it, from the gateway's
error counts against the stable version's, and rolls it back with no person."""

from __future__ import annotations

from typing import Any

import mlflow.pyfunc


class SingleRowBug(mlflow.pyfunc.PythonModel):  # type: ignore[misc,name-defined]
    """`estimator.predict`, except that a one-row frame whose `column` is above `threshold` raises."""

    def __init__(self, estimator: Any, column: str, threshold: float) -> None:
        self.estimator = estimator
        self.column = column
        self.threshold = threshold

    def predict(self, context: Any, model_input: Any, params: Any = None) -> Any:
        if len(model_input) == 1 and float(model_input[self.column].iloc[0]) > self.threshold:
            raise ValueError(f"cannot reshape a single row with {self.column} above {self.threshold:g}")
        return self.estimator.predict(model_input[list(self.estimator.feature_names_in_)])
