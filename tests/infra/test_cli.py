"""`modelbot infra-check` as a user runs it: a registry repository with a policy that asks for every
infrastructure gate, real models in MLflow, the verb in a subprocess."""

from __future__ import annotations

import hashlib
import json
import os
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest

from bot.cli import main
from bot.cli.infra_check import target_stage
from tests.infra.conftest import InfraStore
from tests.infra.test_check import write_replay
from tests.support.mlflow_models import write_csv

POLICY = """\
version: 1
stages:
  staging:
    gates: {}
  production:
    gates:
      infra:
        mode: query
        load_deadline_s: 90
        tries: 2
        memory_mb: 4096
        parity_tolerance: 0.000001
        load_test: {concurrency: 2, requests: 40, warmup: 4}
        sla: {p99_ms: 5000, max_error_rate: 0, max_p95_vs_champion: 50}
        replay: true
"""


def registry(tumor: dict[str, Any], sha: str, replay_sha: str) -> str:
    versions = "".join(f"""
      - version: {uri.rsplit('/', 1)[1]}
        uri: {uri}
        created_at: "2026-11-0{i + 1}T10:00:00Z"
        created_by: dana-ds
""" for i, uri in enumerate((tumor["champion"], tumor["candidate"])))
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
      replay:
        data: data/replay.jsonl
        sha256: {replay_sha}
    versions:{versions}
    stages:
      staging: null
      production: {tumor["champion"].rsplit('/', 1)[1]}
"""


@pytest.fixture(scope="module")
def repo(tumor: dict[str, Any], tmp_path_factory: pytest.TempPathFactory) -> Path:
    root = tmp_path_factory.mktemp("registry")
    data = tumor["data"]
    sha = write_csv(data.evaluation, root / "data" / "eval.csv")
    log = write_replay(root / "data" / "replay.jsonl", data.evaluation[list(data.features)])
    (root / "models.yaml").write_text(registry(tumor, sha, hashlib.sha256(log.read_bytes()).hexdigest()))
    (root / "policies").mkdir()
    (root / "policies" / "default.yaml").write_text(POLICY)
    return root


@pytest.fixture(scope="module")
def checked(repo: Path, store: InfraStore, tumor: dict[str, Any]) -> dict[str, Any]:
    out = repo.parent / "infra-out"
    version = tumor["candidate"].rsplit("/", 1)[1]
    done = subprocess.run([sys.executable, "-m", "bot", "infra-check", "tumor", version, "--stage", "production",
                           "--repo", str(repo), "--out", str(out), "--json"],
                          capture_output=True, text=True, env={**os.environ, **store.env()}, timeout=300)
    return {"done": done, "out": out, "json": json.loads(done.stdout) if done.stdout else None}


def test_infra_check_runs_every_gate_the_stage_names_and_passes(checked: dict[str, Any],
                                                                tumor: dict[str, Any]) -> None:
    done, found = checked["done"], checked["json"]
    assert done.returncode == 0, done.stderr[-2000:]
    assert found["status"] == "pass" and found["stage"] == "production"
    assert found["champion"] == tumor["champion"].rsplit("/", 1)[1]
    assert [g["gate"] for g in found["gates"]] == [
        "infra.api", "infra.load", "infra.memory_mb", "infra.query", "infra.parity", "infra.error_rate",
        "infra.latency.p99_ms", "infra.latency.p95_vs_champion", "infra.replay"]
    assert "infra-check tumor" in done.stderr  # progress goes to stderr, so --json stays clean


def test_infra_check_writes_its_evidence_and_the_replay_answers(checked: dict[str, Any]) -> None:
    out = checked["out"]
    record = json.loads((out / "infra.json").read_text())
    assert record["gates"] == checked["json"]["gates"]
    assert record["figures"]["champion"]["load_test"]["sent"] == 40
    answers = (out / "replay-candidate-answers.jsonl").read_text().splitlines()
    assert len(answers) == 8 and all(json.loads(a)["status"] == 200 for a in answers)


@pytest.mark.parametrize("argv, words", [
    (["infra-check", "nope", "1"], "no model 'nope'"),
    (["infra-check", "tumor", "99"], "has no version '99'"),
    (["infra-check", "tumor", "1", "--stage", "canary"], "has no stage 'canary'"),
])
def test_usage_errors_name_what_exists(repo: Path, capsys: pytest.CaptureFixture[str], argv: list[str],
                                       words: str) -> None:
    assert main([*argv, "--repo", str(repo)]) == 2
    assert words in capsys.readouterr().err


def test_a_changed_replay_log_is_refused_before_any_server_starts(repo: Path, tmp_path: Path,
                                                                   capsys: pytest.CaptureFixture[str]) -> None:
    copy = tmp_path / "repo"
    (copy / "data").mkdir(parents=True)
    for name in ("models.yaml", "data/eval.csv", "data/replay.jsonl"):
        (copy / name).write_bytes((repo / name).read_bytes())
    (copy / "policies").mkdir()
    (copy / "policies" / "default.yaml").write_bytes((repo / "policies" / "default.yaml").read_bytes())
    with open(copy / "data" / "replay.jsonl", "a") as log:
        log.write('{"inputs": [[1]]}\n')
    assert main(["infra-check", "tumor", "2", "--stage", "production", "--repo", str(copy)]) == 1
    err = capsys.readouterr().err
    assert "replay log" in err and "models.yaml pins" in err


@pytest.mark.parametrize("held, stage", [([], "staging"), (["staging"], "production"), (["production"], "production"),
                                         (["staging", "production"], "production")])
def test_the_default_stage_is_the_next_one_in_the_policys_order(held: list[str], stage: str) -> None:
    assert target_stage(("staging", "production"), held) == stage
