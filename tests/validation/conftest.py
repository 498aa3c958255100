"""Shared, expensive fixtures: one MLflow store per session with real scikit-learn models."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import numpy as np
import pytest

from tests.support.mlflow_models import Dataset, MlflowStore, RegisteredModel, dataset


@dataclass(frozen=True)
class Zoo:
    store: MlflowStore
    binary: Dataset
    regression: Dataset
    multiclass: Dataset
    logistic: RegisteredModel  # tumor v1: the champion
    forest: RegisteredModel  # tumor v2: the candidate
    labels_only: RegisteredModel  # tumor v3: answers labels, no probabilities
    nan_model: RegisteredModel  # tumor v4: answers NaN
    ridge: RegisteredModel  # diabetes v1
    ridge_weak: RegisteredModel  # diabetes v2: two features only
    iris: RegisteredModel  # iris v1


@pytest.fixture(scope="session")
def zoo(tmp_path_factory: pytest.TempPathFactory) -> Zoo:
    from sklearn.ensemble import RandomForestClassifier
    from sklearn.linear_model import LogisticRegression, Ridge

    store = MlflowStore(tmp_path_factory.mktemp("mlflow"))
    binary, regression, multiclass = dataset("binary"), dataset("regression"), dataset("multiclass")
    logistic = store.register("tumor", LogisticRegression(max_iter=5000), binary)
    forest = store.register("tumor", RandomForestClassifier(n_estimators=30, random_state=0), binary)
    labels_only = store.register("tumor", LogisticRegression(max_iter=5000), binary, proba=False)
    broken = LogisticRegression(max_iter=5000).fit(binary.train[list(binary.features)], binary.train[binary.target])
    broken.coef_ = np.full_like(broken.coef_, np.nan)
    nan_model = store.log("tumor", broken, binary.train[list(binary.features)], proba=True)
    ridge = store.register("diabetes", Ridge(), regression)
    ridge_weak = store.register("diabetes", Ridge(), regression, features=("bmi", "bp"))
    iris = store.register("iris", LogisticRegression(max_iter=5000), multiclass)
    return Zoo(store, binary, regression, multiclass, logistic, forest, labels_only, nan_model, ridge, ridge_weak, iris)


@pytest.fixture(scope="session")
def repo_root() -> Path:
    return Path(__file__).resolve().parents[2]
