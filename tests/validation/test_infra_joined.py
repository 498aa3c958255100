"""`modelbot validate` runs the policy's infrastructure gates too, and joins them to the same report."""

import json

import pytest
from sklearn.ensemble import GradientBoostingClassifier
from sklearn.linear_model import LogisticRegression

from bot.cli import main
from tests.support.gitrepo import example_repo
from tests.support.mlflow_models import MlflowStore, dataset


@pytest.mark.slow  # trains and registers its own model
def test_production_validation_serves_the_candidate_and_reports_it(tmp_path, capsys):
    repo = example_repo(tmp_path / "registry")
    store = MlflowStore(tmp_path / "mlflow")
    data = dataset("binary")
    store.register("tumor-malignancy", LogisticRegression(max_iter=5000), data)
    store.register("tumor-malignancy", GradientBoostingClassifier(random_state=0), data)
    main(
        [
            "validate",
            "tumor-malignancy",
            "2",
            "--stage",
            "production",
            "--repo",
            str(repo.path),
            "--out",
            str(tmp_path / "out"),
            "--json",
        ]
    )
    capsys.readouterr()
    record = json.loads((tmp_path / "out" / "report.json").read_text())
    infra = [g for g in record["gates"] if g["gate"].startswith("infra.")]
    assert infra and all(g["status"] == "pass" for g in infra), infra
    assert "infra" in record["sections"]
    assert "Infrastructure: sandboxed model server" in (tmp_path / "out" / "report.md").read_text()
