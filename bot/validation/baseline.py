"""The naive baseline a model must beat: the class prior (scores) and most frequent class (labels) for
classifiers, the mean for regressors, taken from the evaluation target itself (the best constant answer
in hindsight, so a gain over it is a gain over any constant)."""

from __future__ import annotations

import numpy as np

from bot.validation.outputs import Predictions, Target

DESCRIPTION = {
    "regression": "mean of the evaluation target",
    "classification": "class prior of the evaluation target (labels: most frequent class)",
}


def predict(target: Target) -> Predictions:
    n = target.n
    if not target.classification:
        return Predictions(values=np.broadcast_to(float(np.mean(target.y)), (n,)))
    counts = np.bincount(target.y, minlength=target.k).astype(np.float64)
    prior = counts / max(n, 1)
    labels = np.broadcast_to(np.int64(np.argmax(counts)), (n,))
    return Predictions(labels=labels, scores=np.broadcast_to(prior, (n, target.k)))
