"""`modelbot register --from-mlflow`: metadata and lineage come from a real MLflow registry (SQLite store)."""

import mlflow
import pytest
from sklearn.linear_model import LogisticRegression

from bot.registry import parse
from tests.cli.test_cli import changed_lines


@pytest.fixture
def registered(tmp_path, monkeypatch):
    """Version 3 of tumor-malignancy, trained and registered the way a training pipeline would."""
    from bot.demo.datasets import tumor_frames

    uri = f"sqlite:///{tmp_path}/mlflow.db"
    monkeypatch.setenv("MLFLOW_TRACKING_URI", uri)
    mlflow.set_tracking_uri(uri)
    mlflow.set_registry_uri(uri)
    train, _ = tumor_frames()
    features = ["mean_radius", "mean_texture", "mean_smoothness"]
    mlflow.set_experiment("tumor")
    with mlflow.start_run() as run:
        model = LogisticRegression(C=0.5, max_iter=2000).fit(train[features], train["malignant"])
        mlflow.log_params({"C": 0.5, "max_iter": 2000, "solver": "lbfgs"})
        mlflow.log_metrics({"roc_auc": 0.97, "training_roc_auc": 0.99})
        mlflow.set_tag("mlflow.source.git.commit", "8c4d1e7a0b")
        mlflow.sklearn.log_model(model, name="model", registered_model_name="tumor-malignancy")
    for _ in (2, 3):  # the example registry already lists versions 1 and 2; this makes MLflow's 3
        mlflow.register_model(f"runs:/{run.info.run_id}/model", "tumor-malignancy")
    yield run.info.run_id
    mlflow.set_tracking_uri("")


def test_register_from_mlflow_appends_the_version_with_its_lineage(modelbot, repo, registered):
    before = repo.read("models.yaml")
    code = modelbot(
        "register", "tumor-malignancy", "3", "--uri", "models:/tumor-malignancy/3", "--from-mlflow", "--repo", repo.path
    ).code
    assert code == 0, modelbot.err
    removed, added = changed_lines(before, repo.read("models.yaml"))
    assert removed == [] and added[0] == "      - version: 3"
    version = parse(repo.read("models.yaml")).models["tumor-malignancy"].version(3)
    assert version.run_id == registered
    assert version.metrics == {"roc_auc": 0.97} and version.training_metrics == {"roc_auc": 0.99}
    assert version.lineage["code_commit"] == "8c4d1e7a0b"
    assert version.lineage["params"] == {"C": 0.5, "max_iter": 2000, "solver": "lbfgs"}


def test_register_refuses_a_version_mlflow_does_not_have(modelbot, repo, registered):
    before = repo.read("models.yaml")
    assert (
        modelbot(
            "register",
            "tumor-malignancy",
            "9",
            "--uri",
            "models:/tumor-malignancy/9",
            "--from-mlflow",
            "--repo",
            repo.path,
        ).code
        == 1
    )
    assert "MLflow has no models:/tumor-malignancy/9" in modelbot.err
    assert repo.read("models.yaml") == before


def test_register_refuses_an_existing_version(modelbot, repo):
    assert (
        modelbot(
            "register",
            "tumor-malignancy",
            "2",
            "--uri",
            "models:/tumor-malignancy/2",
            "--repo",
            repo.path,
            "--created-by",
            "dana-ds",
        ).code
        == 1
    )
    assert "already registered; versions are immutable" in modelbot.err


def test_sync_registers_every_version_mlflow_has_and_the_file_lacks(modelbot, repo, registered):
    before = repo.read("models.yaml")
    assert modelbot("sync", "--repo", repo.path, "--json").code == 0, modelbot.err
    assert modelbot.json["registered"] == ["tumor-malignancy 3"]
    removed, added = changed_lines(before, repo.read("models.yaml"))
    assert removed == [] and added[0] == "      - version: 3"
    assert modelbot("sync", "--repo", repo.path, "--json").code == 0
    assert modelbot.json["registered"] == []
