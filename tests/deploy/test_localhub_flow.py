"""Merge -> deploy -> /rollback -> revert PR -> deploy, on localhub (a real git server and GitHub's REST shapes)
with a real MLflow registry: the GitHub deployment record, the revert pull request, and the time and API
requests each takes (printed: they are figures for the closing note, not assertions)."""

from __future__ import annotations

import json
import re
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

from bot.actions.deploys import branch_tip
from bot.deploy import respond, rollback
from bot.deploy.catalog import Context
from bot.deploy.rollback_pr import open_rollback
from bot.deploy.runner import Runner
from bot.deploy.verify import SmokeCheck
from bot.registry.edit import add_version, set_stage
from tests.deploy.conftest import MODEL, Registry, Repo
from tests.support.localhub import RunningHub, git

DEPLOY = {"strategy": "direct", "deployers": ["mlflow-alias", "github-deployment"]}
RUN_URL = "http://127.0.0.1/acme/models/actions/runs/77"


def statuses(hub: RunningHub, environment: str) -> list[list[tuple[str, str]]]:
    return [[(s.state, s.log_url) for s in d.statuses] for d in hub.hub.state.deployments.values()
            if d.environment == environment]


def smoke_seconds(record: Any) -> float:
    """The smoke check runs after the alias moved (it loads the model in a child process): not part of the move."""
    return sum(s.seconds for t in record.transitions for s in t.steps if s.deployer == "verify")


def deploy_push(hub: RunningHub, checkout: Path, registry: Registry, prefix: str) -> tuple[Any, str]:
    """What the deploy workflow does on a push: update the checkout, then `modelbot deploy --before --after`."""
    before = git(checkout, "rev-parse", "HEAD").strip()
    git(checkout, "pull", "-q", "--ff-only")
    after = git(checkout, "rev-parse", "HEAD").strip()
    forge = hub.forge()
    ctx = Context(repo=checkout, tracking_uri=registry.tracking_uri, alias_prefix=prefix, forge=forge)
    tip = branch_tip(forge, "main")  # as the workflow does: the branch may have moved on since this push
    return Runner(ctx, RUN_URL, SmokeCheck(registry.tracking_uri, checkout)).run(before, after, tip), after


def test_merge_deploys_and_a_rollback_pr_restores(make_repo: Callable[..., Repo], mlflow_registry: Registry,
                                                  localhub_factory: Callable[..., RunningHub],
                                                  tmp_path: Path) -> None:
    seed = make_repo({"production": DEPLOY})
    hub = localhub_factory(seed=seed.path)
    hub.hub.add_user("dana", role="write")
    hub.hub.add_user("omar", role="maintain")
    checkout = tmp_path / "checkout"
    git(tmp_path, "clone", "-q", hub.hub.clone_url(), str(checkout))
    text, _ = set_stage((checkout / "models.yaml").read_text(), MODEL, "production", "2")
    dana = hub.hub.as_user("dana")
    dana.push("promote", {"models.yaml": text}, "Promote tumor-malignancy 2 to production")
    number = dana.open_pull("promote", "main", "Promote tumor-malignancy 2 to production")

    mark = hub.log.mark()
    started = time.perf_counter()
    hub.hub.as_user("omar").merge(number)
    record, merged = deploy_push(hub, checkout, mlflow_registry, "h1-")
    to_deploy_s = time.perf_counter() - started
    deploy_requests = len(hub.log.since(mark))

    assert record.ok, record.as_dict()
    assert mlflow_registry.aliases("h1-") == {"production": "2", "production-previous": "1"}
    assert mlflow_registry.tags("2", "h1-")["modelbot.h1-production.pr"] == str(number)
    assert statuses(hub, f"{MODEL}/production") == [[("in_progress", RUN_URL), ("success", RUN_URL)]]
    [deployment] = hub.hub.state.deployments.values()
    assert deployment.sha == merged
    assert deployment.payload["version"] == "2" and deployment.payload["pr"] == number

    mark = hub.log.mark()
    again = Runner(Context(repo=checkout, tracking_uri=mlflow_registry.tracking_uri, alias_prefix="h1-",
                           forge=hub.forge())).run(git(checkout, "rev-parse", "HEAD~1").strip(), merged)
    assert again.named("unchanged") == [f"{MODEL} production 2"]
    assert hub.log.writes(mark) == [] and len(hub.hub.state.deployments) == 1

    # /rollback tumor-malignancy production: the revert PR, labelled, merged by on-call, deployed.
    mark = hub.log.mark()
    started = time.perf_counter()
    target = rollback.find(checkout, MODEL, "production")
    assert (target.pr, target.title) == (number, "Promote tumor-malignancy 2 to production")
    pull = open_rollback(hub.forge(), checkout, target, "main").pull
    assert pull.title == 'Revert "Promote tumor-malignancy 2 to production"'
    assert rollback.ROLLBACK_LABEL in hub.hub.state.issues[pull.number].labels
    hub.hub.as_user("omar").merge(pull.number)
    restored, _ = deploy_push(hub, checkout, mlflow_registry, "h1-")
    to_restore_s = time.perf_counter() - started
    restore_requests = len(hub.log.since(mark))

    assert restored.ok and restored.transitions[0].change.kind == "rollback"
    assert mlflow_registry.aliases("h1-") == {"production": "1", "production-previous": "2"}
    assert git(checkout, "log", "-1", "--format=%b").strip().endswith("Revert \"Promote tumor-malignancy 2 to "
                                                                      "production\"")
    print("\nMEASURED " + json.dumps({
        "merge_to_alias_s": round(to_deploy_s - smoke_seconds(record), 3),
        "merge_to_verified_s": round(to_deploy_s, 3), "merge_to_alias_api_requests": deploy_requests,
        "rollback_to_alias_back_s": round(to_restore_s - smoke_seconds(restored), 3),
        "rollback_to_verified_s": round(to_restore_s, 3), "rollback_to_alias_back_api_requests": restore_requests,
    }))


def broken_promotion(make_repo: Callable[..., Repo], localhub_factory: Callable[..., RunningHub], tmp_path: Path,
                     method: str) -> tuple[RunningHub, int, Path]:
    """Version 4 (it cannot answer the evaluation rows) promoted to production by dana's pull request, merged
    with `method`: the hub, the pull request's number, and a checkout of main from before the merge."""
    seed = make_repo({"production": {"strategy": "direct", "deployers": ["mlflow-alias"]}})
    entry = {"version": 4, "uri": f"models:/{MODEL}/4", "created_at": "2026-11-21T10:00:00Z", "created_by": "dana"}
    text, _ = add_version(seed.git.read("models.yaml"), MODEL, entry)
    seed.git.write("models.yaml", text)
    seed.git.commit("Register version 4")
    hub = localhub_factory(seed=seed.path)
    hub.hub.add_user("dana", role="write")
    checkout = tmp_path / "checkout"
    git(tmp_path, "clone", "-q", hub.hub.clone_url(), str(checkout))
    text, _ = set_stage(text, MODEL, "production", "4")
    dana = hub.hub.as_user("dana")
    dana.push("promote", {"models.yaml": text}, "Promote tumor-malignancy 4 to production")
    number = dana.open_pull("promote", "main", "Promote tumor-malignancy 4 to production")
    dana.merge(number, method)
    return hub, number, checkout


def test_a_failed_smoke_check_opens_the_revert_and_says_so_on_the_promotion(
        make_repo: Callable[..., Repo], mlflow_registry: Registry, localhub_factory: Callable[..., RunningHub],
        tmp_path: Path) -> None:
    hub, number, checkout = broken_promotion(make_repo, localhub_factory, tmp_path, "squash")
    record, after = deploy_push(hub, checkout, mlflow_registry, "h2-")
    failure = record.failure
    assert failure is not None and failure.failed == "verify"

    response = respond.on_failure(hub.forge(), checkout, after, failure, RUN_URL, "main")

    assert response.commented_on == number and response.revert_pr is not None
    revert = hub.hub.state.issues[response.revert_pr]
    assert revert.title == 'Revert "Promote tumor-malignancy 4 to production"'  # GitHub titles it by the PR
    assert revert.labels == [rollback.ROLLBACK_LABEL]
    [comment] = [c for c in hub.hub.state.comments.values() if c.issue_number == number]
    assert "**verify** failed" in comment.body and f"#{response.revert_pr}" in comment.body
    assert RUN_URL in comment.body
    incident = hub.hub.state.issues[response.incident]
    assert incident.title.startswith("Incident: tumor-malignancy 4 failed its verify in production")
    assert incident.labels == ["incident"] and f"#{response.revert_pr}" in incident.body
    again = respond.on_failure(hub.forge(), checkout, after, failure, RUN_URL, "main")
    assert again.incident == response.incident  # a re-run opens no second incident
    [comment] = [c for c in hub.hub.state.comments.values() if c.issue_number == number]  # edited, not posted again
    for body in (comment.body, hub.hub.state.issues[response.incident].body):
        assert body.startswith("<!-- modelbot:") and "modelbot:" not in re.sub(r"<!--.*?-->", "", body)  # hidden


def test_the_deploy_workflow_validates_the_revert_it_opens_under_the_rollback_rules(
        make_repo: Callable[..., Repo], mlflow_registry: Registry, localhub_factory: Callable[..., RunningHub],
        tmp_path: Path) -> None:
    from bot.actions.deploys import on_push
    from bot.actions.events import PushEvent, Repository
    from bot.actions.runtime import Runtime
    hub, _, checkout = broken_promotion(make_repo, localhub_factory, tmp_path, "merge")
    before = git(checkout, "rev-parse", "HEAD").strip()
    git(checkout, "pull", "-q", "--ff-only")
    after = git(checkout, "rev-parse", "HEAD").strip()
    environ = {
        **hub.bot_env(), "GITHUB_WORKSPACE": str(checkout), "MLFLOW_TRACKING_URI": mlflow_registry.tracking_uri,
        "RUNNER_TEMP": str(tmp_path / "runner"),
    }

    outcome = on_push(PushEvent("push", None, Repository("acme/models", "main"), "dana", "refs/heads/main", before,
                                after, False), Runtime("push", tmp_path / "event.json", environ), hub.forge)

    assert outcome.outputs["result"] == "failure"
    [revert] = [p for p in hub.hub.state.issues.values() if p.title.startswith("Revert")]
    assert rollback.ROLLBACK_LABEL in revert.labels
    head = hub.forge().pull_request(revert.number).head_sha
    assert hub.forge().check_conclusion(head, "modelbot/validation") == "success"  # version 1 passes the reduced gates
    assert f"The revert #{revert.number}: validation" in outcome.summary and "approvals oncall 0/1" in outcome.summary
