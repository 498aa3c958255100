"""A workflow job's GITHUB_TOKEN holds exactly the job's `permissions:` (else the workflow's, else the
restricted repository default), and localhub refuses what it may not do with GitHub's own answer: 403
"Resource not accessible by integration". People's tokens keep their user's repository role."""

from __future__ import annotations

import base64
import subprocess
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest

from localhub.actions.runner import ActionsRunner
from localhub.hub import ACTIONS_BOT
from localhub.rest import permissions
from localhub.rest.permissions import JobGrant
from localhub.rest.routes import all_routes
from tests.support.localhub import RunningHub, git

REPO = "/repos/acme/models"
READ_ONLY = {"contents": "read", "pull-requests": "read"}


@pytest.fixture
def hub(localhub_factory: Callable[..., RunningHub]) -> RunningHub:
    running = localhub_factory(files={"README.md": "# models\n", "models.yaml": "models: {}\n"})
    running.hub.add_user("alice", role="write")
    return running


def _pull(hub: RunningHub) -> tuple[int, str]:
    alice = hub.hub.as_user("alice")
    alice.push("promote", {"models.yaml": "models: {churn: 7}\n"}, "promote churn 7")
    number = alice.open_pull("promote", "main", "Promote churn 7")
    head = hub.hub.state.issues[number].pull.head_sha  # type: ignore[union-attr]
    return number, head


def job_token(hub: RunningHub, granted: Any, job: str = "test") -> str:
    return hub.hub.token_for_job(JobGrant(permissions.parse(granted), ".github/workflows/t.yml", job, 1))


def _refused(answer: tuple[int, dict[str, str], Any]) -> bool:
    status, _, body = answer
    return status == 403 and body["message"] == "Resource not accessible by integration" and \
        body["documentation_url"].startswith("https://docs.github.com/rest")


def _check_run(hub: RunningHub, token: str, head: str) -> tuple[int, dict[str, str], Any]:
    return hub.request("POST", f"{REPO}/check-runs", token=token, body={"name": "modelbot/validation",
                                                                         "head_sha": head})


# --- the `permissions:` forms ------------------------------------------------------------------------------
def test_permissions_forms_and_the_restricted_default() -> None:
    assert permissions.for_job(None, None) == {"contents": "read"}  # GitHub's restricted default
    assert permissions.for_job({"issues": "write"}, None) == {"issues": "write"}
    assert permissions.for_job({"issues": "write"}, {"checks": "write"}) == {"checks": "write"}  # replaces
    assert permissions.for_job("write-all", {}) == {}
    everything = permissions.parse("read-all")
    assert {everything[s] for s in permissions.SCOPES} == {"read"}
    assert permissions.parse("write-all")["pull-requests"] == "write"
    nothing = JobGrant(permissions.parse({}))
    assert nothing.allows("metadata", "read") and not nothing.allows("contents", "read")
    for bad in ({"contents": "admin"}, {"everything": "read"}, "all", ["contents"]):
        with pytest.raises(permissions.PermissionsError):
            permissions.parse(bad)


def test_every_repository_route_has_githubs_scope() -> None:
    needs = {(r.method, r.template): permissions.needed(r.method, r.template) for r in all_routes()}
    repository = {k: v for k, v in needs.items() if k[1].startswith("/repos/") and not k[1].endswith("/installation")}
    assert repository and all(v is not None for v in repository.values())
    base = "/repos/{owner}/{repo}"
    expected = {
        ("GET", f"{base}/pulls/{{pull_number}}"): ("pull-requests", "read"),
        ("GET", f"{base}/pulls/{{pull_number}}/files"): ("pull-requests", "read"),
        ("POST", f"{base}/pulls"): ("pull-requests", "write"),
        ("PUT", f"{base}/pulls/{{pull_number}}/merge"): ("contents", "write"),
        ("POST", f"{base}/issues/{{issue_number}}/comments"): ("issues", "write"),
        ("POST", f"{base}/issues/comments/{{comment_id}}/reactions"): ("issues", "write"),
        ("POST", f"{base}/issues/{{issue_number}}/labels"): ("issues", "write"),
        ("POST", f"{base}/check-runs"): ("checks", "write"),
        ("GET", f"{base}/commits/{{ref}}/check-runs"): ("checks", "read"),
        ("POST", f"{base}/statuses/{{sha}}"): ("statuses", "write"),
        ("GET", f"{base}/commits/{{ref}}/status"): ("statuses", "read"),
        ("POST", f"{base}/git/refs"): ("contents", "write"),
        ("PUT", f"{base}/contents/{{path}}"): ("contents", "write"),
        ("GET", f"{base}/commits"): ("contents", "read"),
        ("POST", f"{base}/deployments"): ("deployments", "write"),
        ("POST", f"{base}/actions/workflows/{{workflow_id}}/dispatches"): ("actions", "write"),
        ("GET", f"{base}/collaborators/{{username}}/permission"): ("metadata", "read"),
        ("GET", base): ("metadata", "read"),
    }
    assert {k: needs[k] for k in expected} == expected


# --- job tokens over REST and git -----------------------------------------------------------------------------
def test_a_job_token_without_checks_write_cannot_create_a_check_run(hub: RunningHub) -> None:
    _, head = _pull(hub)
    assert _refused(_check_run(hub, job_token(hub, {"checks": "read", "contents": "write"}), head))
    assert _check_run(hub, job_token(hub, {"checks": "write"}), head)[0] == 201
    assert _check_run(hub, hub.hub.token_for(ACTIONS_BOT), head)[0] == 201  # a person's token: the role decides
    assert [r.name for r in hub.hub.state.check_runs.values()] == ["modelbot/validation"] * 2


def test_a_read_only_job_cannot_comment_check_push_or_merge(hub: RunningHub, tmp_path: Path) -> None:
    number, head = _pull(hub)
    issue = hub.hub.as_user("alice").open_issue("question")
    token = job_token(hub, READ_ONLY)
    mark = hub.log.mark()
    # It reads what it needs ...
    for path in (f"{REPO}/pulls/{number}", f"{REPO}/pulls/{number}/files", f"{REPO}/contents/models.yaml",
                 f"{REPO}/issues/{number}/comments", f"{REPO}/commits", REPO):
        assert hub.request("GET", path, token=token)[0] == 200, path
    # ... and writes nothing.
    assert _refused(hub.request("POST", f"{REPO}/issues/{number}/comments", token=token, body={"body": "hi"}))
    assert _refused(hub.request("POST", f"{REPO}/issues/{issue}/comments", token=token, body={"body": "hi"}))
    assert _refused(_check_run(hub, token, head))
    assert _refused(hub.request("POST", f"{REPO}/statuses/{head}", token=token, body={"state": "success"}))
    assert _refused(hub.request("PUT", f"{REPO}/pulls/{number}/merge", token=token, body={}))
    assert _refused(hub.request("POST", f"{REPO}/git/refs", token=token,
                                body={"ref": "refs/heads/x", "sha": head}))
    assert _refused(hub.request("GET", f"{REPO}/commits/{head}/check-runs", token=token))  # no `checks: read`
    assert _push(hub, tmp_path, token).returncode != 0
    assert not hub.hub.state.comments and not hub.hub.state.check_runs and not hub.hub.state.statuses
    assert not hub.hub.state.issues[number].pull.merged  # type: ignore[union-attr]
    writes = hub.log.writes(mark)
    assert writes and {w.status for w in writes} == {403} and {w.job for w in writes} == {
        ".github/workflows/t.yml#1/test"}
    (push,) = [e for e in hub.log.since(mark, api_only=False) if not e.api and "receive-pack" in e.path + e.query
               and e.status == 403]
    assert push.job == ".github/workflows/t.yml#1/test"


def test_comments_on_a_pull_request_take_pull_requests_write_and_merging_takes_contents_write(
        hub: RunningHub) -> None:
    number, _ = _pull(hub)
    issue = hub.hub.as_user("alice").open_issue("question")
    token = job_token(hub, {"pull-requests": "write", "contents": "read"})
    status, _, comment = hub.request("POST", f"{REPO}/issues/{number}/comments", token=token, body={"body": "hi"})
    assert status == 201
    assert hub.request("PATCH", f"{REPO}/issues/comments/{comment['id']}", token=token, body={"body": "hey"})[0] == 200
    assert _refused(hub.request("POST", f"{REPO}/issues/{issue}/comments", token=token, body={"body": "hi"}))
    assert _refused(hub.request("PUT", f"{REPO}/pulls/{number}/merge", token=token, body={}))
    merger = job_token(hub, {"contents": "write"})
    assert hub.request("PUT", f"{REPO}/pulls/{number}/merge", token=merger, body={})[0] == 200
    assert hub.request("POST", f"{REPO}/issues/{issue}/comments", token=job_token(hub, {"issues": "write"}),
                       body={"body": "hi"})[0] == 201


def test_an_empty_permissions_token_reads_nothing_but_metadata(hub: RunningHub, tmp_path: Path) -> None:
    number, head = _pull(hub)
    token = job_token(hub, {})
    assert hub.request("GET", REPO, token=token)[0] == 200
    assert hub.request("GET", f"{REPO}/collaborators/alice/permission", token=token)[0] == 200
    for path in (f"{REPO}/contents/models.yaml", f"{REPO}/pulls/{number}", f"{REPO}/issues/{number}",
                 f"{REPO}/issues/{number}/comments", f"{REPO}/commits/{head}/check-runs",
                 f"{REPO}/commits/{head}/status", f"{REPO}/git/ref/heads/main", f"{REPO}/deployments"):
        assert _refused(hub.request("GET", path, token=token)), path
    header = "AUTHORIZATION: basic " + base64.b64encode(f"x-access-token:{token}".encode()).decode()
    clone = _git(tmp_path, "-c", f"http.extraheader={header}", "clone", "-q", hub.hub.clone_url(), "clone")
    assert clone.returncode != 0 and "403" in clone.stderr  # as actions/checkout sends it: the token first


def _with_token(hub: RunningHub, token: str) -> str:
    return hub.hub.clone_url().replace("http://", f"http://x-access-token:{token}@")


def _git(cwd: Path, *args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(["git", *args], cwd=cwd, capture_output=True, text=True,
                          env={"GIT_TERMINAL_PROMPT": "0", "GIT_CONFIG_NOSYSTEM": "1", "HOME": str(cwd),
                               "PATH": "/usr/local/bin:/usr/bin:/bin"})


def _push(hub: RunningHub, tmp_path: Path, token: str) -> subprocess.CompletedProcess[str]:
    work = tmp_path / "push"
    git(tmp_path, "clone", "-q", hub.hub.clone_url(), str(work))
    (work / "README.md").write_text("# changed\n")
    git(work, "commit", "-qam", "change")
    return _git(work, "push", "-q", _with_token(hub, token), "HEAD:refs/heads/main")


def test_a_pushing_job_needs_contents_write(hub: RunningHub, tmp_path: Path) -> None:
    assert _push(hub, tmp_path, job_token(hub, {"contents": "write"})).returncode == 0


# --- the runner issues them -------------------------------------------------------------------------------------
WORKFLOW = """\
name: tokens
on: [workflow_dispatch]
permissions:
  issues: write
jobs:
  inherits:
    runs-on: ubuntu-latest
    steps:
      - env: {TOKEN: "${{ github.token }}"}
        run: echo inherits
  own:
    runs-on: ubuntu-latest
    permissions:
      checks: write
      contents: read
    steps:
      - env: {TOKEN: "${{ github.token }}"}
        run: echo own
  nothing:
    runs-on: ubuntu-latest
    permissions: {}
    steps:
      - env: {TOKEN: "${{ github.token }}"}
        run: echo nothing
"""
UNSET = """\
name: default
on: [workflow_dispatch]
jobs:
  plain:
    runs-on: ubuntu-latest
    steps:
      - uses: actions/checkout@v4
      - env: {TOKEN: "${{ github.token }}"}
        run: echo plain
"""
BAD = """\
name: bad
on: [workflow_dispatch]
jobs:
  bad:
    runs-on: ubuntu-latest
    permissions: {contents: admin}
    steps:
      - run: echo never
"""


def test_the_runner_gives_each_job_exactly_its_permissions(localhub_factory: Callable[..., RunningHub],
                                                           tmp_path: Path) -> None:
    running = localhub_factory(files={".github/workflows/tokens.yml": WORKFLOW,
                                      ".github/workflows/default.yml": UNSET, ".github/workflows/bad.yml": BAD})
    running.hub.add_user("alice", role="write")
    runner = ActionsRunner(running.server, tmp_path / "runs")
    granted = {}
    for name in ("tokens", "default", "bad"):
        status = running.request("POST", f"{REPO}/actions/workflows/{name}.yml/dispatches", "alice",
                                 {"ref": "main"})[0]
        assert status == 204
        for run in runner.run_pending():
            tokens = [s.env["TOKEN"] for s in run.all_steps() if "TOKEN" in s.env]
            granted[run.job] = (run.conclusion, [running.hub.state.grants[t].permissions for t in tokens])
    assert granted == {
        "inherits": ("success", [{"issues": "write"}]),
        "own": ("success", [{"checks": "write", "contents": "read"}]),
        "nothing": ("success", [{}]),
        "plain": ("success", [{"contents": "read"}]),  # the restricted default; its checkout could read
        "bad": ("failure", []),
    }
    tokens = {running.hub.state.grants[t].job for t in running.hub.state.grants}
    assert tokens == {"inherits", "own", "nothing", "plain"}  # one token per job that ran
