"""A private MLflow store for the infrastructure tests, with the real models they serve: scikit-learn
classifiers (candidate and champion) and behaviour models (tests/infra/behaviour_model.py) that sleep, raise,
answer the wrong shape, fail to load, never get healthy or crash mid-test."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pandas as pd
import pytest

from bot.infra import procs
from tests.support.mlflow_models import MlflowStore, dataset

MODEL_CODE = Path(__file__).with_name("behaviour_model.py")


class InfraStore:
    def __init__(self, root: Path) -> None:
        self.mlflow = MlflowStore(root, experiment="infra-tests")
        self._cache: dict[tuple[tuple[str, Any], ...], str] = {}

    def point(self) -> None:
        import mlflow

        mlflow.set_tracking_uri(self.mlflow.tracking_uri)
        mlflow.set_registry_uri(self.mlflow.tracking_uri)

    def env(self) -> dict[str, str]:
        return self.mlflow.env()

    def behaviour(self, **config: Any) -> str:
        """The registry URI of a behaviour model with this model_config (logged once per config)."""
        key = tuple(sorted(config.items()))
        if key not in self._cache:
            self._cache[key] = self._log_behaviour(config)
        return self._cache[key]

    def _log_behaviour(self, config: dict[str, Any]) -> str:
        import mlflow
        from mlflow.models import infer_signature

        self.point()
        example = xy_frame(3)
        signature = infer_signature(example, (2 * example["x"] + example["y"]).to_numpy())
        with mlflow.start_run(experiment_id=self.mlflow.experiment_id):
            info = mlflow.pyfunc.log_model(name="model", python_model=str(MODEL_CODE), model_config=config,
                                           signature=signature, pip_requirements=["mlflow"],
                                           registered_model_name="behaviour")
        return f"models:/behaviour/{info.registered_model_version}"


def xy_frame(rows: int) -> pd.DataFrame:
    return pd.DataFrame({"x": [float(i) for i in range(rows)], "y": [0.25 * i for i in range(rows)]})


@pytest.fixture(scope="session")
def store(tmp_path_factory: pytest.TempPathFactory) -> InfraStore:
    return InfraStore(tmp_path_factory.mktemp("infra-mlflow"))


@pytest.fixture(autouse=True)
def _pointed(store: InfraStore) -> None:
    """Other test modules point MLflow elsewhere; these tests read signatures from this store."""
    store.point()


@pytest.fixture(scope="session")
def tumor(store: InfraStore) -> dict[str, Any]:
    """A champion and a candidate classifier on the breast-cancer data, and its evaluation frame."""
    from sklearn.linear_model import LogisticRegression

    data = dataset("binary")
    champion = store.mlflow.register("tumor", LogisticRegression(max_iter=5000), data)
    candidate = store.mlflow.register("tumor", LogisticRegression(C=0.5, max_iter=5000), data)
    return {"data": data, "champion": champion.uri, "candidate": candidate.uri}


def group_gone(pgid: int) -> bool:
    """No process, not even an unreaped zombie, is left in the server's process group."""
    return procs.group_members(pgid, include_zombies=True) == []
