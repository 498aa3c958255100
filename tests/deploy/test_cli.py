"""The verbs as a person or a workflow runs them: deploy, rollback, advance, drill."""

from __future__ import annotations

import json
from collections.abc import Callable
from pathlib import Path

import pytest

from bot.cli import main
from bot.registry.edit import add_version
from tests.deploy.conftest import MODEL, Registry, Repo

DIRECT = {"strategy": "direct", "deployers": ["mlflow-alias"]}


def run_json(capsys: pytest.CaptureFixture[str], *argv: str) -> tuple[int, dict[str, object]]:
    code = main([*argv, "--json"])
    return code, json.loads(capsys.readouterr().out)


def test_deploy_reports_a_failed_smoke_check_with_what_was_done(
        make_repo: Callable[..., Repo], mlflow_registry: Registry, capsys: pytest.CaptureFixture[str],
        tmp_path: Path) -> None:
    repo = make_repo({"production": {**DIRECT, "alias": "cli1-production"}})
    entry = {"version": 4, "uri": f"models:/{MODEL}/4", "created_at": "2026-11-21T10:00:00Z", "created_by": "dana"}
    text, _ = add_version(repo.git.read("models.yaml"), MODEL, entry)
    repo.git.write("models.yaml", text)
    before = repo.git.commit("Register version 4")
    after = repo.promote("production", "4", "Promote 4 (#9)")

    code, record = run_json(capsys, "deploy", "--before", before, "--after", after, "--repo", str(repo.path),
                            "--tracking-uri", mlflow_registry.tracking_uri, "--record", str(tmp_path / "rec.json"))

    assert code == 1
    failed = record["failed"]
    assert isinstance(failed, dict)
    assert failed["deployer"] == "verify" and failed["succeeded_deployers"] == ["mlflow-alias"]
    assert f"models:/{MODEL}@cli1-production did not answer" in failed["reason"]
    assert "not_in_the_data" in failed["reason"]
    assert json.loads((tmp_path / "rec.json").read_text())["failed"] == failed


def test_rollback_local_then_deploy_returns_the_stage(make_repo: Callable[..., Repo], mlflow_registry: Registry,
                                                      capsys: pytest.CaptureFixture[str]) -> None:
    repo = make_repo({"production": {**DIRECT, "alias": "cli2-production"}})
    start = repo.head()
    promoted = repo.promote("production", "2", "Promote 2 (#10)")
    assert main(["deploy", "--before", start, "--after", promoted, "--repo", str(repo.path), "--no-verify",
                 "--tracking-uri", mlflow_registry.tracking_uri]) == 0
    capsys.readouterr()

    code, result = run_json(capsys, "rollback", MODEL, "--stage", "production", "--local", "--repo", str(repo.path))

    assert code == 0 and result["revert_commit"] == repo.head()
    assert result["target"] == {"model": MODEL, "stage": "production", "commit": promoted, "pr": 10,
                                "title": "Promote 2 (#10)", "steps": [], "transition": {
                                    "model": MODEL, "stage": "production", "from_version": "1", "to_version": "2",
                                    "kind": "promote"}}
    code, record = run_json(capsys, "deploy", "--before", promoted, "--after", "HEAD", "--repo", str(repo.path),
                            "--tracking-uri", mlflow_registry.tracking_uri, "--no-verify")
    assert code == 0 and record["deployed"] == [f"{MODEL} production 1"]
    assert mlflow_registry.aliases("cli2-") == {"production": "1", "production-previous": "2"}


def test_advance_needs_a_metrics_source_and_halts_on_thin_traffic(
        make_repo: Callable[..., Repo], capsys: pytest.CaptureFixture[str], tmp_path: Path) -> None:
    repo = make_repo({"production": {"strategy": "canary", "deployers": ["mlflow-alias"]}})
    repo.promote("production", "2")
    assert main(["advance", MODEL, "production", "--repo", str(repo.path)]) == 2
    assert "--log FILE or --prometheus URL" in capsys.readouterr().err
    log = tmp_path / "predictions.jsonl"
    log.write_text(json.dumps({"model": MODEL, "stage": "production", "version": "2", "latency_ms": 9}) + "\n")
    head = repo.head()

    code, result = run_json(capsys, "advance", MODEL, "production", "--log", str(log), "--repo", str(repo.path))

    assert code == 0 and result["decision"] == "halted" and repo.head() == head
    assert result["from"] == {"strategy": "canary", "step": 0, "traffic": {"1": 90, "2": 10}}


def test_drill_restores_the_previous_version_and_says_how_long_it_took(
        make_repo: Callable[..., Repo], mlflow_registry: Registry, capsys: pytest.CaptureFixture[str]) -> None:
    repo = make_repo({"production": {**DIRECT, "deployers": ["mlflow-alias", "webhook", "github-deployment"]}})
    head = repo.head()

    code, report = run_json(capsys, "drill", MODEL, "production", "--repo", str(repo.path),
                            "--tracking-uri", mlflow_registry.tracking_uri)

    assert code == 0, report
    assert (report["previous"], report["candidate"], report["alias_after"]) == ("1", "2", "1")
    assert [p["name"] for p in report["phases"]] == ["promote", "deploy", "rollback", "redeploy"]  # type: ignore
    assert report["time_to_restore_s"] > 0
    assert mlflow_registry.aliases("drill-") == {"production": "1", "production-previous": "2"}
    assert repo.head() == head and repo.git.git("status", "--porcelain") == ""  # the drill used a copy
    print(f"\nDRILL time_to_restore_s={report['time_to_restore_s']}")
