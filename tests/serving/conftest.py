"""One MLflow store (SQLite) with the real models the serving tests serve: two scikit-learn classifiers on the
breast-cancer data, and behaviour models (tests/infra/behaviour_model.py) that answer 2x + y, raise, hang,
crash or answer the wrong shape."""

from __future__ import annotations

from dataclasses import dataclass

import pytest

from tests.infra.conftest import InfraStore
from tests.support.mlflow_models import Dataset, dataset


@dataclass(frozen=True)
class Zoo:
    store: InfraStore
    data: Dataset
    tumor1: str  # logistic regression (probabilities)
    tumor2: str  # a differently regularised one
    healthy: str  # behaviour: 2x + y
    chatty: str  # behaviour: 2x + y, printing as it goes (a second healthy artifact)
    raising: str  # behaviour: raises in predict
    slow: str  # behaviour: sleeps 1 s per predict
    crashing: str  # behaviour: its process exits on every predict

    @property
    def env(self) -> dict[str, str]:
        return self.store.env()


@pytest.fixture(scope="session")
def zoo(tmp_path_factory: pytest.TempPathFactory) -> Zoo:
    from sklearn.linear_model import LogisticRegression

    store = InfraStore(tmp_path_factory.mktemp("serving-mlflow"))
    data = dataset("binary")
    tumor1 = store.mlflow.register("tumor", LogisticRegression(max_iter=5000), data).uri
    tumor2 = store.mlflow.register("tumor", LogisticRegression(C=0.01, max_iter=5000), data).uri
    return Zoo(store, data, tumor1, tumor2, store.behaviour(), store.behaviour(chatty=True),
               store.behaviour(**{"raise": True}),
               store.behaviour(delay_s=1.0), store.behaviour(crash_after=0))


def features(zoo: Zoo, rows: int, offset: int = 0) -> list[dict[str, float]]:
    columns = list(zoo.data.features)
    frame = zoo.data.evaluation[columns].iloc[offset:offset + rows]
    return frame.to_dict(orient="records")  # type: ignore[no-any-return]
