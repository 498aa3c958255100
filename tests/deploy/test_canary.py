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
from bot.deploy.runner import Runner
from bot.deploy.traffic import JsonLinesLog
from tests.deploy.conftest import MODEL, Registry, Repo, context

CANARY = {"strategy": "canary",
          "rollout": {"steps": [10, 50, 100], "min_requests": 50, "analysis": {"error_rate": {"max_increase": 0.05}}},
          "deployers": ["mlflow-alias", {"type": "manifests", "engine": "kserve", "path": "deploy/manifests"}],
          "fallback": {"version": "previous"}}


def write_log(path: Path, version: str, requests: int, errors: int = 0) -> JsonLinesLog:
    """`requests` to the candidate `version` with `errors` among them, and 2,000 to the stable version 1 with 1 %
    errors, over the same window."""
    now = datetime.now(UTC).isoformat()
    with path.open("w", encoding="utf-8") as out:
        for v, n, e in ((version, requests, errors), ("1", 2000, 20)):
            for i in range(n):
                out.write(json.dumps({"ts": now, "model": MODEL, "stage": "production", "version": v,
                                      "latency_ms": 10 + i % 7, "error": i < e, "request_id": f"{v}-{i}"}) + "\n")
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
    assert "only 12 requests to candidate version 2; 50 needed" in thin.gates[0].reason

    step0 = repo.head()
    good = advance.advance(repo.path, MODEL, "production", write_log(tmp_path / "good.jsonl", "2", 400, errors=1))
    assert good.decision == "advanced" and good.commit == repo.head() != step0
    assert yaml.safe_load(repo.git.read("models.yaml"))["models"][MODEL]["deployment"]["production"] == {
        "strategy": "canary", "step": 1, "traffic": {"1": 50, "2": 50}, "fallback": 1}
    deploy(repo, mlflow_registry, "c1-", step0)
    assert predictor(repo)["canaryTrafficPercent"] == 50
    assert mlflow_registry.aliases("c1-") == {"production": "1", "production-canary": "2"}

    step1 = repo.head()
    done = advance.advance(repo.path, MODEL, "production", write_log(tmp_path / "good.jsonl", "2", 400))
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
    step = advance.advance(repo.path, MODEL, "production", write_log(tmp_path / "ok.jsonl", "2", 400))
    assert step.decision == "advanced"
    deploy(repo, mlflow_registry, "c2-", promotion)
    stepped = repo.head()

    aborted = advance.advance(repo.path, MODEL, "production", write_log(tmp_path / "bad.jsonl", "2", 200, errors=40))

    assert aborted.decision == "aborted"
    assert [g.gate for g in aborted.gates if g.status == "fail"] == ["error_rate_vs_stable"]
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
                                  write_log(tmp_path / "good.jsonl", "2", 400), "main")

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
                                     write_log(tmp_path / "bad.jsonl", "2", 200, errors=40), "main")

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


AUTO = {**CANARY, "rollout": {**CANARY["rollout"], "auto_merge": True, "approvals": []}}


def test_the_schedule_advances_every_rollout_and_a_passed_step_merges_itself(
        make_repo: Callable[..., Repo], localhub_factory: Callable[..., Any], tmp_path: Path) -> None:
    from bot.actions.events import DispatchEvent, Repository
    from bot.actions.runtime import Runtime
    from bot.actions.tasks import on_task
    from tests.support.localhub import git

    seed = make_repo({"production": AUTO})
    seed.promote("production", "2", "Promote tumor-malignancy 2 to production")
    hub = localhub_factory(seed=seed.path)
    checkout = tmp_path / "checkout"
    git(tmp_path, "clone", "-q", hub.hub.clone_url(), str(checkout))
    log = tmp_path / "predictions.jsonl"
    runtime = Runtime("workflow_dispatch", tmp_path / "event.json",
                      {"GITHUB_WORKSPACE": str(checkout), "MODELBOT_PREDICTION_LOG": str(log)})

    def tick() -> Any:  # the maintenance schedule: no model, no stage
        event = DispatchEvent("schedule", None, Repository("acme/models", "main"), "github-actions[bot]",
                              "refs/heads/main", ".github/workflows/modelbot-maintenance.yml", {"task": "advance"})
        return on_task(event, runtime, hub.forge)

    write_log(log, "2", 12)
    assert tick().outputs["result"] == "halted"  # thin traffic: nothing opened
    assert not [p for p in hub.hub.state.issues.values() if advance.ROLLOUT_LABEL in p.labels]

    write_log(log, "2", 400, errors=1)
    outcome = tick()
    assert outcome.outputs["result"] == "advanced", outcome.message
    [step] = [p for p in hub.hub.state.issues.values() if advance.ROLLOUT_LABEL in p.labels]
    merged = hub.forge().pull_request(step.number)
    assert merged.merged, "the step's analysis passed and the policy lets steps merge themselves"
    [dispatch] = [d for d in hub.hub.deliveries if d.event == "workflow_dispatch"]
    assert dispatch.payload["inputs"] == {"task": "deploy", "after": merged.merge_commit_sha}
    git(checkout, "pull", "-q")
    state = yaml.safe_load((checkout / "models.yaml").read_text())["models"][MODEL]["deployment"]["production"]
    assert state["traffic"] == {"1": 50, "2": 50}


def test_a_step_the_bot_did_not_analyse_never_merges_itself(
        make_repo: Callable[..., Repo], localhub_factory: Callable[..., Any], tmp_path: Path) -> None:
    """A writer with no role opens the last step by hand: validation passes (a step needs no evidence) and the
    policy asks no approval of steps, but the bot's analysis is not on its head, so it waits."""
    from bot.actions.context import context
    from bot.actions.events import DispatchEvent, Repository
    from bot.actions.runtime import Runtime
    from bot.flows.validate_pr import validate_pull
    from tests.support.localhub import git

    seed = make_repo({"production": AUTO})
    seed.promote("production", "2", "Promote tumor-malignancy 2 to production")
    hub = localhub_factory(seed=seed.path)
    checkout = tmp_path / "checkout"
    git(tmp_path, "clone", "-q", hub.hub.clone_url(), str(checkout))
    data = yaml.safe_load((checkout / "models.yaml").read_text())
    data["models"][MODEL]["deployment"] = {"production": {"strategy": "canary", "step": 2, "traffic": {2: 100}}}
    writer = hub.hub.as_user("wes-writer")
    writer.push("wes/skip", {"models.yaml": yaml.safe_dump(data, sort_keys=False)}, "Skip the canary", base="main")
    number = writer.open_pull("wes/skip", "main", "Skip the canary")
    runtime = Runtime("workflow_dispatch", tmp_path / "event.json", {"GITHUB_WORKSPACE": str(checkout)})
    event = DispatchEvent("workflow_dispatch", None, Repository("acme/models", "main"), "wes-writer",
                          "refs/heads/main", ".github/workflows/modelbot.yml", {"task": "validate"})
    ctx = context(event, runtime, hub.forge)
    result = validate_pull(ctx, ctx.forge.pull_request(number))
    assert [s.transition.kind for s in result.plan.steps] == ["step"] and result.conclusion == "success"
    assert result.automerge is not None and result.automerge.result == "waiting"
    assert "rollout analysis to pass" in result.automerge.reason
    assert not ctx.forge.pull_request(number).merged


def test_a_failed_analysis_opens_the_rollback_and_says_why_on_the_promotion(
        make_repo: Callable[..., Repo], localhub_factory: Callable[..., Any], tmp_path: Path) -> None:
    from bot.actions.events import DispatchEvent, Repository
    from bot.actions.runtime import Runtime
    from bot.actions.tasks import on_task
    from bot.deploy.rollback import ROLLBACK_LABEL
    from bot.registry.edit import set_stage
    from tests.support.localhub import git

    seed = make_repo({"production": AUTO})
    hub = localhub_factory(seed=seed.path)
    lead = hub.hub.as_user("lena-ml")
    text, _ = set_stage(seed.git.read("models.yaml"), MODEL, "production", "2")
    lead.push("promote", {"models.yaml": text}, "Promote tumor-malignancy 2 to production", base="main")
    promotion = lead.open_pull("promote", "main", "Promote tumor-malignancy 2 to production")
    hub.hub.as_user("pat-platform").merge(promotion)
    checkout = tmp_path / "checkout"
    git(tmp_path, "clone", "-q", hub.hub.clone_url(), str(checkout))
    log = tmp_path / "predictions.jsonl"
    write_log(log, "2", 200, errors=40)
    runtime = Runtime("workflow_dispatch", tmp_path / "event.json",
                      {"GITHUB_WORKSPACE": str(checkout), "MODELBOT_PREDICTION_LOG": str(log)})
    event = DispatchEvent("schedule", None, Repository("acme/models", "main"), "github-actions[bot]",
                          "refs/heads/main", ".github/workflows/modelbot-maintenance.yml", {"task": "advance"})

    outcome = on_task(event, runtime, hub.forge)

    assert outcome.outputs["result"] == "aborted", outcome.message
    [revert] = [p for p in hub.hub.state.issues.values() if ROLLBACK_LABEL in p.labels]
    why = hub.forge().find_comment(promotion, f"<!-- modelbot:{MODEL}:production:rollout-abort -->")
    assert why is not None and "error_rate_vs_stable" in why.body and f"#{revert.number}" in why.body
    on_task(event, runtime, hub.forge)  # the next tick finds the same rollback open: still one, said once
    assert len([p for p in hub.hub.state.issues.values() if ROLLBACK_LABEL in p.labels]) == 1
    assert len([c for c in hub.hub.state.comments.values() if "rollout-abort" in c.body]) == 1


def test_a_step_whose_evidence_went_thin_loses_the_bots_check_and_waits(
        make_repo: Callable[..., Repo], localhub_factory: Callable[..., Any], tmp_path: Path) -> None:
    """A tick opened a step after a passed analysis; before it merged, a later tick found the evidence thin: the
    step's modelbot/rollout check turns neutral, so a review's run cannot merge it on the stale verdict."""
    from tests.support.localhub import git

    seed = make_repo({"production": {**AUTO, "rollout": {**AUTO["rollout"], "approvals": [
        {"role": "oncall", "count": 1}]}}})
    seed.promote("production", "2", "Promote tumor-malignancy 2 to production")
    hub = localhub_factory(seed=seed.path)
    checkout = tmp_path / "checkout"
    git(tmp_path, "clone", "-q", hub.hub.clone_url(), str(checkout))
    step = advance.advance_github(hub.forge(), checkout, MODEL, "production",
                                  write_log(tmp_path / "good.jsonl", "2", 400), "main")
    assert step.pull is not None
    head = step.pull["head_sha"]
    assert hub.forge().check_conclusion(head, advance.ROLLOUT_CHECK) == "success"

    later = advance.advance_github(hub.forge(), checkout, MODEL, "production",
                                   write_log(tmp_path / "thin.jsonl", "2", 12), "main")

    assert later.decision == "halted"
    assert hub.forge().check_conclusion(head, advance.ROLLOUT_CHECK) == "neutral"
