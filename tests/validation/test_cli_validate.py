"""`modelbot validate` as a user runs it: a real registry repository, a real MLflow, a real subprocess."""

from __future__ import annotations

import json
import os
import subprocess
import sys
import tempfile
from pathlib import Path

import pytest

from tests.support.mlflow_models import write_csv
from tests.validation.conftest import Zoo

POLICY = """\
version: 1
stages:
  staging:
    gates:
      bootstrap: {resamples: 300, seed: 3}
      metrics:
        roc_auc: {min: 0.9}
      baseline:
        roc_auc: {min_gain: 0.1}
  production:
    gates:
      bootstrap: {resamples: 300, seed: 3}
      metrics:
        roc_auc: {min: 0.999}
      champion:
        roc_auc: {non_inferiority: 0.05}
"""


def _registry(zoo: Zoo, sha: str) -> str:
    versions = "".join(
        f"""
      - version: {m.version}
        uri: {m.uri}
        run_id: {m.run_id}
        created_at: "2026-11-0{m.version}T10:00:00Z"
        created_by: dana-ds
"""
        for m in (zoo.logistic, zoo.forest)
    )
    return f"""version: 1
models:
  tumor:
    description: Flags malignant tumours.
    owners: [dana-ds]
    task: binary_classification
    evaluation:
      data: data/eval.csv
      sha256: {sha}
      target: malignant
      slices: [size_band]
    versions:{versions}
    stages:
      staging: null
      production: 1
"""


@pytest.fixture(scope="module")
def repo(zoo: Zoo, tmp_path_factory: pytest.TempPathFactory) -> Path:
    root = tmp_path_factory.mktemp("registry")
    sha = write_csv(zoo.binary.evaluation, root / "data" / "eval.csv")
    (root / "models.yaml").write_text(_registry(zoo, sha))
    (root / "policies").mkdir()
    (root / "policies" / "default.yaml").write_text(POLICY)
    return root


def _validate(zoo: Zoo, repo: Path, *args: str, cwd: str | None = None) -> subprocess.CompletedProcess[str]:
    env = {**os.environ, **zoo.store.env()}
    return subprocess.run(
        [sys.executable, "-m", "bot", "validate", *args, "--repo", str(repo)],
        capture_output=True,
        text=True,
        env=env,
        timeout=300,
        cwd=cwd,
    )


def test_all_gates_pass_exit_0_and_both_reports_are_written(zoo: Zoo, repo: Path, tmp_path: Path) -> None:
    # From /tmp: `python -m` puts the working directory first on sys.path, and the sandbox once exposed it
    # read-only to the models, covering their own directories there (every model "could not be isolated").
    done = _validate(zoo, repo, "tumor", "2", "--stage", "staging", "--out", str(tmp_path), "--json",
                     cwd=tempfile.gettempdir())
    assert done.returncode == 0, done.stderr
    summary = json.loads(done.stdout)
    assert summary["ok"] is True and summary["status"] == "pass"
    record = json.loads((tmp_path / "report.json").read_text())
    assert record["inputs"]["candidate"]["uri"] == zoo.forest.uri and record["inputs"]["champion"] is None
    assert record["inputs"]["policy"]["files"]["policies/default.yaml"]
    assert len(record["inputs"]["models_yaml_sha256"]) == 64
    assert (tmp_path / "report.md").read_text().startswith("## ✅ Validation passed")


def test_a_failing_gate_exits_1_and_says_which(zoo: Zoo, repo: Path, tmp_path: Path) -> None:
    done = _validate(zoo, repo, "tumor", "2", "--stage", "production", "--out", str(tmp_path))
    record = json.loads((tmp_path / "report.json").read_text())
    # A refusal exits 1; evidence that needs a person exits 3 (issue 13), so CI scripts tell them apart.
    assert record["status"] in ("fail", "inconclusive")
    assert done.returncode == {"fail": 1, "inconclusive": 3}[record["status"]]
    assert "metric.roc_auc.min" in done.stdout and "report.md" in done.stdout
    assert record["inputs"]["champion"]["uri"] == zoo.logistic.uri


def test_an_invalid_policy_is_a_configuration_error_exit_2(zoo: Zoo, repo: Path, tmp_path: Path) -> None:
    broken = tmp_path / "repo"
    broken.mkdir()
    (broken / "models.yaml").write_text((repo / "models.yaml").read_text())
    (broken / "policies").mkdir()
    (broken / "policies" / "default.yaml").write_text("version: 1\nstages: {staging: {gates: {metrics: {auc: {}}}}}\n")
    done = _validate(zoo, broken, "tumor", "2", "--stage", "staging", "--out", str(tmp_path))
    assert done.returncode == 2 and "default.yaml" in done.stderr and "Traceback" not in done.stderr


@pytest.mark.parametrize(
    "args,message",
    [
        (("nosuch", "1", "--stage", "staging"), "no model 'nosuch'"),
        (("tumor", "9", "--stage", "staging"), "has no version 9"),
        (("tumor", "2", "--stage", "canary"), "has no stage 'canary'"),
    ],
)
def test_usage_and_configuration_errors_exit_2(
    zoo: Zoo, repo: Path, tmp_path: Path, args: tuple[str, ...], message: str
) -> None:
    done = _validate(zoo, repo, *args, "--out", str(tmp_path))
    assert done.returncode == 2 and message in done.stderr and "Traceback" not in done.stderr
