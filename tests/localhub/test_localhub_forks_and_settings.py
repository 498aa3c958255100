"""Where GitHub is stricter than a hub that trusts every token, localhub is too: pull requests from forks (their
runs get a read-only token and neither secrets nor variables), team endpoints a workflow's token cannot see, the
repository setting that lets Actions open and approve pull requests, and `/user` for integrations. Each test
here failed on the localhub before these rules."""

from __future__ import annotations

import subprocess
from collections.abc import Callable
from pathlib import Path

import pytest

from localhub.actions.runner import ActionsRunner
from localhub.rest.permissions import ACTIONS_PULLS_MESSAGE
from tests.localhub.test_localhub_permissions import REPO, job_token
from tests.support.localhub import RunningHub

WORKFLOW = """\
name: pr
on: [pull_request]
permissions:
  contents: write
  pull-requests: write
  checks: write
jobs:
  look:
    runs-on: ubuntu-latest
    steps:
      - env:
          TOKEN: "${{ github.token }}"
          SECRET: "${{ secrets.MLFLOW_TRACKING_URI }}"
          VARIABLE: "${{ vars.MODELBOT_APP_ID }}"
        run: echo "secret=[$SECRET] variable=[$VARIABLE]"
"""


@pytest.fixture
def hub(localhub_factory: Callable[..., RunningHub]) -> RunningHub:
    running = localhub_factory(files={"README.md": "# models\n", "models.yaml": "models: {}\n",
                                      ".github/workflows/pr.yml": WORKFLOW})
    running.hub.add_user("alice", role="write")
    running.hub.secrets["MLFLOW_TRACKING_URI"] = "https://mlflow.internal"
    running.hub.variables["MODELBOT_APP_ID"] = "42"
    return running


def _git(hub: RunningHub, *args: str) -> str:
    return subprocess.run(["git", "--git-dir", str(hub.hub.git.path), *args], capture_output=True, text=True,
                          check=True).stdout.strip()


# --- forks -------------------------------------------------------------------------------------------------
def test_a_pull_request_from_a_fork_names_the_fork_and_keeps_its_head_in_the_repository(hub: RunningHub) -> None:
    mallory = hub.hub.as_user("mallory")
    head = mallory.push_to_fork("promote", {"models.yaml": "models: {churn: 7}\n"}, "promote churn")
    assert _git(hub, "for-each-ref", "refs/heads/").count("refs/heads/promote") == 0  # not a branch of the repo
    status, _, pull = hub.request("POST", f"{REPO}/pulls", "mallory",
                                  {"title": "Promote churn", "head": "mallory:promote", "base": "main"})
    assert status == 201
    assert pull["head"]["repo"]["full_name"] == "mallory/models" and pull["head"]["repo"]["fork"] is True
    assert pull["head"]["label"] == "mallory:promote" and pull["head"]["user"]["login"] == "mallory"
    assert pull["base"]["repo"]["full_name"] == "acme/models" and pull["base"]["repo"]["fork"] is False
    assert _git(hub, "rev-parse", f"refs/pull/{pull['number']}/head") == head == pull["head"]["sha"]
    # the head's files are readable in the base repository by their commit, as the bot reads them
    status, _, content = hub.request("GET", f"{REPO}/contents/models.yaml?ref={head}", "alice")
    assert status == 200 and content["sha"]
    listed = hub.request("GET", f"{REPO}/pulls?head=mallory:promote", "alice")[2]
    assert [p["number"] for p in listed] == [pull["number"]]
    assert hub.request("GET", f"{REPO}/pulls?head=acme:promote", "alice")[2] == []


def test_a_push_to_the_fork_moves_its_pull_request_and_a_same_named_branch_of_the_repository_does_not(
        hub: RunningHub) -> None:
    mallory = hub.hub.as_user("mallory")
    mallory.push_to_fork("promote", {"models.yaml": "models: {churn: 7}\n"}, "promote churn")
    number = mallory.open_pull("mallory:promote", "main", "Promote churn")
    pr = hub.hub.state.issues[number].pull
    assert pr is not None and pr.head_owner == "mallory"
    decoy = hub.hub.as_user("alice").push("promote", {"models.yaml": "models: {churn: 1}\n"}, "same name")
    assert pr.head_sha != decoy
    newer = mallory.push_to_fork("promote", {"models.yaml": "models: {churn: 8}\n"}, "churn 8")
    assert pr.head_sha == newer == _git(hub, "rev-parse", f"refs/pull/{number}/head")
    synchronized = [d for d in hub.hub.deliveries if d.event == "pull_request" and d.payload["action"] == "synchronize"]
    assert [d.payload["pull_request"]["head"]["sha"] for d in synchronized] == [newer]


def test_a_head_in_a_fork_that_does_not_exist_is_refused(hub: RunningHub) -> None:
    hub.hub.add_user("mallory")
    status, _, body = hub.request("POST", f"{REPO}/pulls", "mallory",
                                  {"title": "x", "head": "mallory:promote", "base": "main"})
    assert status == 422 and body["errors"][0]["field"] == "head"


def test_a_run_for_a_fork_gets_a_read_only_token_and_no_secrets_or_variables(hub: RunningHub, tmp_path: Path) -> None:
    runner = ActionsRunner(hub.server, tmp_path / "runs")
    mallory = hub.hub.as_user("mallory")
    mallory.push_to_fork("promote", {"models.yaml": "models: {churn: 7}\n"}, "promote churn")
    mallory.open_pull("mallory:promote", "main", "from a fork")
    alice = hub.hub.as_user("alice")
    alice.push("inside", {"models.yaml": "models: {churn: 9}\n"}, "from a branch")
    alice.open_pull("inside", "main", "from the repository")
    seen = {}
    for run in runner.run_pending():
        step = run.all_steps()[-1]
        grant = hub.hub.state.grants[step.env["TOKEN"]]
        seen[run.event, step.log.strip().splitlines()[-1]] = dict(grant.permissions)
    fork_log = "secret=[] variable=[]"
    assert seen == {
        ("pull_request", fork_log): {"contents": "read", "pull-requests": "read", "checks": "read"},
        ("pull_request", "secret=[***] variable=[42]"): {"contents": "write", "pull-requests": "write",
                                                        "checks": "write"},
    }
    fork_token = next(t for t, g in hub.hub.state.grants.items() if g.permissions.get("checks") == "read")
    number = max(hub.hub.state.issues)
    status, _, body = hub.request("POST", f"{REPO}/issues/{number}/comments", token=fork_token, body={"body": "x"})
    assert status == 403 and body["message"] == "Resource not accessible by integration"


# --- team endpoints ----------------------------------------------------------------------------------------
def test_a_workflow_token_cannot_see_teams_and_an_app_needs_members_read(hub: RunningHub) -> None:
    hub.hub.add_team("acme", "ml-leads", ["lena"])
    path = "/orgs/acme/teams/ml-leads/members"
    status, _, body = hub.request("GET", path, token=job_token(hub, "write-all"))
    assert status == 404 and body["message"] == "Not Found"
    blind = hub.hub.add_app("blind", {"contents": "read"})
    assert hub.request("GET", path, token=hub.hub.token_for_installation(blind)[0])[0] == 404
    seeing = hub.hub.add_app("seeing", {"contents": "read", "members": "read"})
    status, _, members = hub.request("GET", path, token=hub.hub.token_for_installation(seeing)[0])
    assert status == 200 and [m["login"] for m in members] == ["lena"]
    assert hub.request("GET", path, "alice")[0] == 200  # a person's token: the org's members see its teams


def test_user_is_a_persons_endpoint(hub: RunningHub) -> None:
    status, _, body = hub.request("GET", "/user", token=job_token(hub, "write-all"))
    assert status == 403 and body["message"] == "Resource not accessible by integration"
    assert hub.request("GET", "/user", "alice")[2]["login"] == "alice"


# --- "Allow GitHub Actions to create and approve pull requests" --------------------------------------------
def test_actions_may_open_or_approve_a_pull_request_only_where_the_setting_allows(
        localhub_factory: Callable[..., RunningHub]) -> None:
    running = localhub_factory(files={"models.yaml": "models: {}\n"}, actions_may_create_pulls=False)
    running.hub.add_user("alice", role="write")
    running.hub.as_user("alice").push("promote", {"models.yaml": "models: {churn: 7}\n"}, "churn 7")
    token = job_token(running, {"pull-requests": "write", "contents": "write"})
    opening = {"title": "Promote", "head": "promote", "base": "main"}
    status, _, body = running.request("POST", f"{REPO}/pulls", token=token, body=opening)
    assert status == 403 and body["message"] == ACTIONS_PULLS_MESSAGE and not running.hub.state.issues
    app = running.hub.add_app("modelbot", {"pull_requests": "write", "contents": "write"})
    status, _, pull = running.request("POST", f"{REPO}/pulls", token=running.hub.token_for_installation(app)[0],
                                      body=opening)
    assert status == 201  # an app is not concerned by the setting
    reviews = f"{REPO}/pulls/{pull['number']}/reviews"
    approve = running.request("POST", reviews, token=token, body={"event": "APPROVE", "body": "ok"})
    assert approve[0] == 403 and approve[2]["message"] == ACTIONS_PULLS_MESSAGE
    assert running.request("POST", reviews, token=token, body={"event": "COMMENT", "body": "note"})[0] == 200
    running.hub.state.repo.actions_may_create_pulls = True
    assert running.request("POST", reviews, token=token, body={"event": "APPROVE", "body": "ok"})[0] == 200
