"""Real scikit-learn models in a real (SQLite-backed) MLflow registry, for tests that need models to load.

Usage::

    store = MlflowStore(tmp_path)                        # sqlite:///{tmp_path}/mlflow.db, artifacts under tmp_path
    data = dataset("binary")                             # train/eval frames, target and slice columns
    v1 = store.register("tumor", LogisticRegression(max_iter=5000), data)   # -> RegisteredModel (models:/tumor/1)
    sha = write_csv(data.evaluation, tmp_path / "eval.csv")

Classifiers are logged with `pyfunc_predict_fn="predict_proba"`, so `mlflow.pyfunc` returns one probability
column per class in sorted class order (scikit-learn's `classes_`); pass `proba=False` for a label-only model.
Every model carries a signature inferred from its training features, so extra columns (slices, the target)
in an evaluation frame are ignored by MLflow. `store.env()` gives the variables a subprocess needs.
"""

from __future__ import annotations

import atexit
import hashlib
import shutil
import tempfile
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pandas as pd

KINDS = ("binary", "multiclass", "regression")


@dataclass(frozen=True)
class Dataset:
    """A task's frames: `features` are the numeric model inputs; `slices` are string columns to slice by."""

    task: str
    train: pd.DataFrame
    evaluation: pd.DataFrame
    target: str
    features: tuple[str, ...]
    slices: tuple[str, ...]


@dataclass(frozen=True)
class RegisteredModel:
    name: str
    version: str
    uri: str
    run_id: str


def dataset(kind: str) -> Dataset:
    """Deterministic frames from data sets bundled with scikit-learn: binary (breast cancer), multiclass
    (iris), regression (diabetes)."""
    from bot.demo.datasets import diabetes_frames, tumor_frames

    if kind == "binary":
        train, evaluation = tumor_frames()
        return _dataset("binary_classification", train, evaluation, "malignant", ("size_band", "texture_band"))
    if kind == "regression":
        train, evaluation = diabetes_frames()
        return _dataset("regression", train, evaluation, "progression", ("sex", "age_band"))
    if kind == "multiclass":
        return _iris()
    raise ValueError(f"unknown kind {kind!r}; expected one of {KINDS}")


def _dataset(task: str, train: pd.DataFrame, evaluation: pd.DataFrame, target: str, slices: tuple[str, ...]) -> Dataset:
    features = tuple(
        c for c in train.columns if c != target and c not in slices and pd.api.types.is_numeric_dtype(train[c])
    )
    return Dataset(task, train, evaluation, target, features, slices)


def _iris() -> Dataset:
    from sklearn.datasets import load_iris
    from sklearn.model_selection import train_test_split

    frame = load_iris(as_frame=True).frame.rename(columns=lambda c: c.replace(" (cm)", "").replace(" ", "_"))
    frame["species"] = frame.pop("target").map({0: "setosa", 1: "versicolor", 2: "virginica"})
    frame["petal_band"] = pd.qcut(frame["petal_length"], 2, labels=["short", "long"]).astype(str)
    train, evaluation = train_test_split(frame, test_size=0.5, random_state=7, stratify=frame["species"])
    return _dataset(
        "multiclass_classification",
        train.reset_index(drop=True),
        evaluation.reset_index(drop=True),
        "species",
        ("petal_band",),
    )


def write_csv(frame: pd.DataFrame, path: Path) -> str:
    """Write `frame` as CSV (no index) and return the file's sha256, ready to pin in models.yaml."""
    path.parent.mkdir(parents=True, exist_ok=True)
    frame.to_csv(path, index=False, lineterminator="\n")
    return hashlib.sha256(path.read_bytes()).hexdigest()


_EMPTY: list[Path] = []


def _empty_database() -> Path:
    """A new MLflow database with its tables made, once per process: MLflow makes them through ~70 migrations,
    each its own commit (a second of CPU and seconds of waiting on the disk per store); a copy of the file is the
    same database, made in milliseconds."""
    if not _EMPTY:
        from mlflow.tracking import MlflowClient

        folder = Path(tempfile.mkdtemp(prefix="modelbot-tests-mlflow-"))
        atexit.register(shutil.rmtree, folder, True)
        uri = f"sqlite:///{folder / 'mlflow.db'}"
        MlflowClient(tracking_uri=uri, registry_uri=uri).search_experiments()
        _EMPTY.append(folder / "mlflow.db")
    return _EMPTY[0]


class MlflowStore:
    """A private MLflow tracking server and registry: SQLite under `root`, artifacts under `root/artifacts`.

    Creating one points this process's MLflow at it (set_tracking_uri / set_registry_uri)."""

    def __init__(self, root: Path, experiment: str = "modelbot-tests") -> None:
        import mlflow

        self.root = Path(root)
        database = self.root / "mlflow.db"
        if not database.exists():
            self.root.mkdir(parents=True, exist_ok=True)
            shutil.copyfile(_empty_database(), database)
        self.tracking_uri = f"sqlite:///{database}"
        mlflow.set_tracking_uri(self.tracking_uri)
        mlflow.set_registry_uri(self.tracking_uri)
        found = mlflow.get_experiment_by_name(experiment)
        self.experiment_id = (
            found.experiment_id
            if found
            else mlflow.create_experiment(experiment, artifact_location=(self.root / "artifacts").as_uri())
        )

    def env(self) -> dict[str, str]:
        """Environment variables that point a subprocess (e.g. `modelbot validate`) at this store."""
        return {"MLFLOW_TRACKING_URI": self.tracking_uri, "MLFLOW_REGISTRY_URI": self.tracking_uri}

    def register(
        self, name: str, estimator: Any, data: Dataset, *, proba: bool = True, features: tuple[str, ...] | None = None
    ) -> RegisteredModel:
        """Fit `estimator` on data.train[features] (default: data.features) and register it as a new
        version of `name`; classifiers answer with probabilities unless proba=False."""
        columns = list(features or data.features)
        estimator.fit(data.train[columns], data.train[data.target])
        return self.log(name, estimator, data.train[columns], proba=proba and hasattr(estimator, "predict_proba"))

    def log(self, name: str, fitted: Any, example: pd.DataFrame, *, proba: bool = False) -> RegisteredModel:
        """Register an already fitted scikit-learn model; its signature is inferred from `example`."""
        import mlflow

        from bot.demo.train import log_sklearn

        with mlflow.start_run(experiment_id=self.experiment_id) as run:
            version = log_sklearn(name, fitted, example, proba)
        return RegisteredModel(name, version, f"models:/{name}/{version}", run.info.run_id)
