"""A canary from merge to completion, and a canary aborted by its analysis: every step is a commit to
models.yaml, deployed like any other push, and the abort is a revert that puts everything back."""

from __future__ import annotations

import json
from collections.abc import Callable
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import yaml

from bot.deploy import advance
from bot.deploy.analysis import JsonLinesLog
from bot.deploy.runner import Runner
from tests.deploy.conftest import MODEL, Registry, Repo, context

CANARY = {"strategy": "canary", "canary": {"steps": [10, 50, 100], "min_requests": 50, "max_error_rate": 0.02},
          "deployers": ["mlflow-alias", {"type": "manifests", "engine": "kserve", "path": "deploy/manifests"}],
          "fallback": {"version": "previous"}}


def write_log(path: Path, version: str, requests: int, errors: int = 0) -> JsonLinesLog:
    now = datetime.now(UTC).isoformat()
    with path.open("w", encoding="utf-8") as out:
        for i in range(requests):
            out.write(json.dumps({"ts": now, "model": MODEL, "stage": "production", "version": version,
                                  "latency_ms": 10 + i % 7, "error": i < errors, "request_id": f"r{i}"}) + "\n")
    return JsonLinesLog(path)


def predictor(repo: Repo) -> dict[str, Any]:
    text = (repo.path / "deploy/manifests/tumor-malignancy/production.yaml").read_text()
    [primary] = [d for d in yaml.safe_load_all(text) if d["metadata"]["name"] == "tumor-malignancy-production"]
    return dict(primary["spec"]["predictor"])


def deploy(repo: Repo, registry: Registry, prefix: str, before: str) -> None:
    record = Runner(context(repo, registry, prefix)).run(before, repo.head())
    assert record.ok, record.as_dict()


def test_a_canary_from_merge_to_completion(make_repo: Callable[..., Repo], mlflow_registry: Registry,
                                           tmp_path: Path) -> None:
    repo = make_repo({"production": CANARY})
    start = repo.head()
    repo.promote("production", "2", "Promote tumor-malignancy 2 to production (#3)")
    deploy(repo, mlflow_registry, "c1-", start)
    assert mlflow_registry.aliases("c1-") == {"production": "1", "production-canary": "2"}
    assert predictor(repo)["canaryTrafficPercent"] == 10

    thin = advance.advance(repo.path, MODEL, "production", write_log(tmp_path / "thin.jsonl", "2", 12))
    assert thin.decision == "halted" and thin.commit is None
    assert "only 12 requests to version 2; 50 needed" in thin.gates[0].reason

    step0 = repo.head()
    good = advance.advance(repo.path, MODEL, "production", write_log(tmp_path / "good.jsonl", "2", 80, errors=1))
    assert good.decision == "advanced" and good.commit == repo.head() != step0
    assert yaml.safe_load(repo.git.read("models.yaml"))["models"][MODEL]["deployment"]["production"] == {
        "strategy": "canary", "step": 1, "traffic": {"1": 50, "2": 50}, "fallback": 1}
    deploy(repo, mlflow_registry, "c1-", step0)
    assert predictor(repo)["canaryTrafficPercent"] == 50
    assert mlflow_registry.aliases("c1-") == {"production": "1", "production-canary": "2"}

    step1 = repo.head()
    done = advance.advance(repo.path, MODEL, "production", write_log(tmp_path / "good.jsonl", "2", 80))
    assert done.decision == "completed"
    deploy(repo, mlflow_registry, "c1-", step1)
    assert "canaryTrafficPercent" not in predictor(repo)
    assert mlflow_registry.aliases("c1-") == {"production": "2", "production-previous": "1"}


def test_a_failing_canary_is_aborted_by_reverting_the_promotion_and_its_steps(
        make_repo: Callable[..., Repo], mlflow_registry: Registry, tmp_path: Path) -> None:
    repo = make_repo({"production": CANARY})
    start = repo.head()
    before_promotion = repo.git.read("models.yaml")
    promotion = repo.promote("production", "2", "Promote tumor-malignancy 2 to production (#3)")
    deploy(repo, mlflow_registry, "c2-", start)
    step = advance.advance(repo.path, MODEL, "production", write_log(tmp_path / "ok.jsonl", "2", 60))
    assert step.decision == "advanced"
    deploy(repo, mlflow_registry, "c2-", promotion)
    stepped = repo.head()

    aborted = advance.advance(repo.path, MODEL, "production", write_log(tmp_path / "bad.jsonl", "2", 60, errors=9))

    assert aborted.decision == "aborted"
    assert [g.gate for g in aborted.gates if g.status == "fail"] == ["error_rate"]
    message = repo.git.git("log", "-1", "--format=%B")
    assert message.startswith('Revert "Promote tumor-malignancy 2 to production (#3)"\n\n'
                              f"This reverts commit {promotion}.")
    assert step.commit in message
    assert repo.git.read("models.yaml") == before_promotion
    deploy(repo, mlflow_registry, "c2-", stepped)
    assert mlflow_registry.aliases("c2-") == {"production": "1", "production-previous": "2"}
    assert "canaryTrafficPercent" not in predictor(repo)
    assert predictor(repo)["model"]["storageUri"] == f"models:/{MODEL}/1"


def test_on_github_a_step_is_a_pull_request_and_an_abort_is_the_rollback_pull_request(
        make_repo: Callable[..., Repo], localhub_factory: Callable[..., Any], tmp_path: Path) -> None:
    from bot.deploy.rollback import ROLLBACK_LABEL
    from tests.support.localhub import git

    seed = make_repo({"production": CANARY})
    promotion = seed.promote("production", "2", "Promote tumor-malignancy 2 to production")
    hub = localhub_factory(seed=seed.path)
    checkout = tmp_path / "checkout"
    git(tmp_path, "clone", "-q", hub.hub.clone_url(), str(checkout))

    step = advance.advance_github(hub.forge(), checkout, MODEL, "production",
                                  write_log(tmp_path / "good.jsonl", "2", 80), "main")

    assert step.decision == "advanced" and step.commit is None and step.pull is not None
    pull = hub.hub.state.issues[step.pull["number"]]
    assert pull.labels == [advance.ROLLOUT_LABEL]
    assert step.after is not None
    assert pull.title == f"Advance the canary of tumor-malignancy 2 in production: {step.after.describe()}"
    branch = "modelbot/promote/tumor-malignancy/production-rollout"
    proposed = yaml.safe_load(hub.forge().file_text("models.yaml", ref=branch) or "")
    assert proposed["models"][MODEL]["deployment"]["production"] == {
        "strategy": "canary", "step": 1, "traffic": {"1": 50, "2": 50}, "fallback": 1}
    assert git(checkout, "rev-parse", "HEAD").strip() == promotion  # nothing committed locally

    aborted = advance.advance_github(hub.forge(), checkout, MODEL, "production",
                                     write_log(tmp_path / "bad.jsonl", "2", 60, errors=9), "main")

    assert aborted.decision == "aborted" and aborted.pull is not None
    revert = hub.hub.state.issues[aborted.pull["number"]]
    assert revert.labels == [ROLLBACK_LABEL] and revert.title == 'Revert "Promote tumor-malignancy 2 to production"'
    rollback_branch = "modelbot/promote/tumor-malignancy/production-rollback"
    assert hub.forge().file_text("models.yaml", ref=rollback_branch) == git(checkout, "show",
                                                                            f"{promotion}^:models.yaml")


def test_the_maintenance_workflow_advances_a_canary_on_prometheus_figures(
        make_repo: Callable[..., Repo], localhub_factory: Callable[..., Any], tmp_path: Path,
        prometheus: tuple[str, list[str]]) -> None:
    from bot.actions.events import DispatchEvent, Repository
    from bot.actions.runtime import Runtime
    from bot.actions.tasks import on_task
    from tests.support.localhub import git

    seed = make_repo({"production": CANARY})
    seed.promote("production", "2", "Promote tumor-malignancy 2 to production")
    hub = localhub_factory(seed=seed.path)
    checkout = tmp_path / "checkout"
    git(tmp_path, "clone", "-q", hub.hub.clone_url(), str(checkout))
    url, queries = prometheus
    runtime = Runtime("workflow_dispatch", tmp_path / "event.json",
                      {"GITHUB_WORKSPACE": str(checkout), "MODELBOT_PROMETHEUS_URL": url})

    def dispatch(**inputs: str) -> Any:
        event = DispatchEvent("workflow_dispatch", None, Repository("acme/models", "main"), "omar", "refs/heads/main",
                              ".github/workflows/modelbot-maintenance.yml", {"task": "advance", **inputs})
        return on_task(event, runtime, hub.forge)

    outcome = dispatch(model=MODEL, stage="production")

    assert outcome.outputs["result"] == "advanced", outcome.message
    assert any('version="2"' in q and "requests_total" in q for q in queries)
    [step] = [p for p in hub.hub.state.issues.values() if p.labels == [advance.ROLLOUT_LABEL]]
    assert step.title.startswith("Advance the canary of tumor-malignancy 2 in production")
    assert f"#{step.number}" in outcome.message
    refused = dispatch(model="../etc", stage="production")
    assert refused.outputs["result"] == "refused" and "must be names" in refused.message
