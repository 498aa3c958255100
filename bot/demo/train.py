"""Train and register the demo's models in a real MLflow (SQLite store): real scikit-learn models on data that
ships with scikit-learn, logged with their parameters, metrics, signature and training data, as a training
pipeline would.

tumor-malignancy: v1 logistic regression (the production champion), v2 gradient boosting (in staging), v3 a
tuned gradient boosting (a good candidate), v4 a model trained on data where one slice's labels were corrupted
(fails on that slice). diabetes-progression: v1 ridge regression, v2 the same ridge behind serving code that
fails some single-row requests (bot/demo/faulty.py: the live canary's aborted candidate).
"""

from __future__ import annotations

import contextlib
import io
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    import pandas as pd

TUMOR = "tumor-malignancy"
DIABETES = "diabetes-progression"


@dataclass(frozen=True)
class Trained:
    model: str
    version: str
    uri: str
    run_id: str
    description: str


def feature_columns(frame: pd.DataFrame, target: str, slices: tuple[str, ...]) -> list[str]:
    """The columns a model is trained on (and scored with): the numeric ones, less the target and slices."""
    import pandas as pd

    return [c for c in frame.columns if c != target and c not in slices and pd.api.types.is_numeric_dtype(frame[c])]


def log_sklearn(name: str, fitted: Any, example: pd.DataFrame, proba: bool) -> str:
    """Register a fitted scikit-learn model in the active MLflow run, with the signature inferred from `example`
    and the prediction method pyfunc answers with; returns the new version."""
    import mlflow
    import skops.io
    from mlflow.models import infer_signature

    method = "predict_proba" if proba else "predict"
    signature = infer_signature(example, getattr(fitted, method)(example.head(5)))
    # MLflow saves with skops, which refuses types it cannot audit (tree node arrays); these models are ours.
    trusted = skops.io.get_untrusted_types(data=skops.io.dumps(fitted))
    info = mlflow.sklearn.log_model(
        fitted,
        name="model",
        signature=signature,
        pyfunc_predict_fn=method,
        registered_model_name=name,
        pip_requirements=["scikit-learn"],
        skops_trusted_types=trusted,
    )
    return str(info.registered_model_version)


def _log(
    name: str,
    estimator: Any,
    train: pd.DataFrame,
    features: list[str],
    target: str,
    params: dict[str, Any],
    description: str,
    proba: bool,
    data_path: Path,
) -> Trained:
    import mlflow
    from mlflow.data.pandas_dataset import from_pandas

    estimator.fit(train[features], train[target])
    with mlflow.start_run(run_name=f"{name} {description}") as run:
        mlflow.log_params(params)
        mlflow.log_input(
            from_pandas(train, source=str(data_path), name=data_path.name, targets=target),
            context="training",
        )
        score = estimator.score(train[features], train[target])
        mlflow.log_metric("training_accuracy" if proba else "training_r2", float(score))
        mlflow.set_tag("mlflow.source.git.commit", "3f9a2c1d5e7b")
        version = log_sklearn(name, estimator, train[features].head(20), proba)
    from mlflow.tracking import MlflowClient

    MlflowClient().update_model_version(name, version, description=description)
    return Trained(name, version, f"models:/{name}/{version}", run.info.run_id, description)


def _log_faulty(train: pd.DataFrame, features: list[str], data_path: Path) -> Trained:
    """diabetes-progression 2: v1's ridge regression behind a single-row bug on the 30 % highest `bmi` values."""
    import mlflow
    from mlflow.data.pandas_dataset import from_pandas
    from mlflow.models import infer_signature
    from mlflow.tracking import MlflowClient
    from sklearn.linear_model import Ridge

    from bot.demo.faulty import SingleRowBug

    fitted = Ridge(alpha=1.0).fit(train[features], train["progression"])
    model = SingleRowBug(fitted, "bmi", float(train["bmi"].quantile(0.7)))
    description = "Ridge regression, served through the new batching code."
    example = train[features].head(20)
    with mlflow.start_run(run_name=f"{DIABETES} {description}") as run:
        mlflow.log_params({"model": "ridge", "alpha": 1.0, "serving": "batched"})
        mlflow.log_input(
            from_pandas(train, source=str(data_path), name=data_path.name, targets="progression"), context="training"
        )
        mlflow.log_metric("training_r2", float(fitted.score(train[features], train["progression"])))
        mlflow.set_tag("mlflow.source.git.commit", "9b2e4f0a1c3d")
        info = mlflow.pyfunc.log_model(
            name="model",
            python_model=model,
            signature=infer_signature(example, fitted.predict(example)),
            registered_model_name=DIABETES,
            pip_requirements=["scikit-learn"],
        )
    version = str(info.registered_model_version)
    MlflowClient().update_model_version(DIABETES, version, description=description)
    return Trained(DIABETES, version, f"models:/{DIABETES}/{version}", run.info.run_id, description)


def _corrupt_slice(frame: pd.DataFrame) -> pd.DataFrame:
    """Flip the labels of one slice (large tumours), as a bad join in a data pipeline would."""
    broken = frame.copy()
    rows = broken["size_band"] == "large"
    broken.loc[rows, "malignant"] = 1 - broken.loc[rows, "malignant"]
    return broken


def train_all(workdir: Path, progress: Callable[[str], None] = lambda _: None) -> list[Trained]:
    """Every demo model, registered in the MLflow that MLFLOW_TRACKING_URI (or set_tracking_uri) names."""
    from sklearn.ensemble import GradientBoostingClassifier
    from sklearn.linear_model import LogisticRegression, Ridge
    from sklearn.pipeline import make_pipeline
    from sklearn.preprocessing import StandardScaler

    from bot.demo.datasets import diabetes_frames, tumor_frames

    tumor_train, _ = tumor_frames()
    diabetes_train, _ = diabetes_frames()
    tumor_path = workdir / "repo" / "data" / f"{TUMOR}-reference.csv"
    diabetes_path = workdir / "repo" / "data" / f"{DIABETES}-reference.csv"
    every = feature_columns(tumor_train, "malignant", ("size_band", "texture_band"))
    plans: list[tuple[str, Callable[[], Trained]]] = [
        (
            "tumor-malignancy 1: logistic regression on all thirty features",
            lambda: _log(
                TUMOR,
                make_pipeline(StandardScaler(), LogisticRegression(C=1.0, max_iter=2000)),
                tumor_train,
                every,
                "malignant",
                {"model": "logistic_regression", "C": 1.0},
                "Logistic regression on all thirty features.",
                True,
                tumor_path,
            ),
        ),
        (
            "tumor-malignancy 2: gradient boosting on all thirty features",
            lambda: _log(
                TUMOR,
                GradientBoostingClassifier(n_estimators=100, max_depth=3, random_state=0),
                tumor_train,
                every,
                "malignant",
                {"model": "gradient_boosting", "n_estimators": 100, "max_depth": 3},
                "Gradient boosting on all thirty features.",
                True,
                tumor_path,
            ),
        ),
        (
            "tumor-malignancy 3: tuned gradient boosting",
            lambda: _log(
                TUMOR,
                GradientBoostingClassifier(n_estimators=200, max_depth=2, learning_rate=0.1, random_state=1),
                tumor_train,
                every,
                "malignant",
                {"model": "gradient_boosting", "n_estimators": 200, "max_depth": 2},
                "Tuned gradient boosting: shallower trees, more of them.",
                True,
                tumor_path,
            ),
        ),
        (
            "tumor-malignancy 4: trained on data with one corrupted slice",
            lambda: _log(
                TUMOR,
                GradientBoostingClassifier(n_estimators=100, max_depth=3, random_state=0),
                _corrupt_slice(tumor_train),
                every,
                "malignant",
                {"model": "gradient_boosting", "n_estimators": 100, "max_depth": 3, "data_snapshot": "2026-11-20"},
                "Gradient boosting retrained on the 2026-11-20 snapshot.",
                True,
                tumor_path,
            ),
        ),
        (
            "diabetes-progression 1: ridge regression",
            lambda: _log(
                DIABETES,
                Ridge(alpha=1.0),
                diabetes_train,
                feature_columns(diabetes_train, "progression", ("sex", "age_band")),
                "progression",
                {"model": "ridge", "alpha": 1.0},
                "Ridge regression.",
                False,
                diabetes_path,
            ),
        ),
        (
            "diabetes-progression 2: the same ridge behind serving code with a single-row bug",
            lambda: _log_faulty(
                diabetes_train, feature_columns(diabetes_train, "progression", ("sex", "age_band")), diabetes_path
            ),
        ),
    ]
    trained = []
    for label, make in plans:
        progress(f"training {label}")
        with contextlib.redirect_stderr(io.StringIO()):  # MLflow prints each registration on stderr
            trained.append(make())
    return trained
