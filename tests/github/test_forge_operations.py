"""The adapter's other operations against localhub: reverts (checked against `git revert` itself),
statuses and check runs, deployments, permissions, labels, reactions, history and file reads."""

from __future__ import annotations

import subprocess
from pathlib import Path

import pytest

from bot.errors import RefusedError
from bot.github.client import GitHubForge
from bot.github.forge import ForgeError
from tests.support.localhub import RunningHub, git

MODELS = "models:\n  churn:\n    stages: {staging: 6, production: 5}\n"
PROMOTED = MODELS.replace("production: 5", "production: 6")


def _merged_promotion(hub: RunningHub, forge: GitHubForge, method: str = "squash") -> int:
    number = forge.promotion_pr("churn", "production", {"models.yaml": PROMOTED}, "Promote churn 6 to production",
                                "body", base="main").pull.number
    hub.hub.as_user("bob").merge(number, method)
    return number


def _git_revert_tree(hub: RunningHub, tmp_path: Path, sha: str, onto: str) -> str:
    """What `git revert` makes of the same commit, in a clone: the reference the adapter must match."""
    work = tmp_path / "reference"
    if not work.exists():
        git(tmp_path, "clone", "-q", str(hub.hub.git.path), str(work))
    git(work, "checkout", "-q", onto)
    mainline = ["-m", "1"] if len(hub.hub.git.commit(sha).parents) > 1 else []
    git(work, "revert", "--no-edit", *mainline, sha)
    return git(work, "rev-parse", "HEAD^{tree}").strip()


@pytest.mark.parametrize("method", ["squash", "merge"])
def test_revert_of_a_merged_pr_is_one_true_revert_commit(hub: RunningHub, forge: GitHubForge, tmp_path: Path,
                                                         method: str) -> None:
    number = _merged_promotion(hub, forge, method)
    merged = hub.hub.state.issues[number].pull.merge_commit_sha  # type: ignore[union-attr]
    revert = forge.revert_pull(number)
    info = hub.hub.git.commit(revert.head_sha)
    assert info.parents == (merged,)
    assert info.message == f'Revert "Promote churn 6 to production"\n\nThis reverts commit {merged}.'
    assert (revert.title, revert.base_ref) == ('Revert "Promote churn 6 to production"', "main")
    assert revert.body.startswith(f"This reverts commit {merged}.")
    assert info.tree == _git_revert_tree(hub, tmp_path, merged, merged)  # type: ignore[arg-type]
    assert hub.hub.git.git("show", f"{revert.head_sha}:models.yaml") == MODELS
    assert forge.revert_pull(number).number == revert.number  # asking twice opens nothing new


def test_revert_after_later_changes_keeps_them(hub: RunningHub, forge: GitHubForge, tmp_path: Path) -> None:
    number = _merged_promotion(hub, forge)
    merged = hub.hub.state.issues[number].pull.merge_commit_sha  # type: ignore[union-attr]
    tip = hub.hub.as_user("alice").push("main", {"README.md": "# models, documented\n"}, "docs")
    revert = forge.revert_pull(number)
    info = hub.hub.git.commit(revert.head_sha)
    assert info.parents == (tip,)
    assert info.tree == _git_revert_tree(hub, tmp_path, merged, tip)  # type: ignore[arg-type]
    assert hub.hub.git.git("show", f"{revert.head_sha}:README.md") == "# models, documented\n"


def test_revert_that_conflicts_is_refused_with_the_reason(hub: RunningHub, forge: GitHubForge) -> None:
    number = _merged_promotion(hub, forge)
    hub.hub.as_user("alice").push("main", {"models.yaml": PROMOTED.replace("staging: 6", "staging: 9")}, "later")
    with pytest.raises(RefusedError, match="cannot be reverted cleanly"):
        forge.revert_pull(number)
    assert not [i for i in hub.hub.state.issues.values() if i.title.startswith("Revert")]


def test_only_a_merged_pr_can_be_reverted(hub: RunningHub, forge: GitHubForge) -> None:
    number = forge.promotion_pr("churn", "staging", {"models.yaml": "x\n"}, "t", "b", base="main").pull.number
    with pytest.raises(RefusedError, match=f"#{number} is not merged"):
        forge.revert_pull(number)


def test_check_run_is_created_once_then_updated(hub: RunningHub, forge: GitHubForge) -> None:
    sha = hub.hub.git.resolve_commit("refs/heads/main")
    assert sha
    first = forge.set_check_run(sha, "modelbot/gates", None, "Running", "evaluating")
    second = forge.set_check_run(sha, "modelbot/gates", "failure", "Gates", "auc 0.71 < 0.75")
    runs = list(hub.hub.state.check_runs.values())
    assert first == second and len(runs) == 1
    assert (runs[0].status, runs[0].conclusion, runs[0].output["summary"]) == ("completed", "failure",
                                                                               "auc 0.71 < 0.75")
    forge.set_status(sha, "failure", "modelbot/validate", "1 gate fails", "http://127.0.0.1:9/run/1")
    assert [(s.context, s.state, s.target_url) for s in hub.hub.state.statuses] == [
        ("modelbot/validate", "failure", "http://127.0.0.1:9/run/1")]


def test_deployments_are_created_once_per_key(hub: RunningHub, forge: GitHubForge) -> None:
    first = forge.create_deployment("main", "production", "churn:production:6", {"model": "churn", "version": "6"})
    again = forge.create_deployment("main", "production", "churn:production:6", {"model": "churn", "version": "6"})
    other = forge.create_deployment("main", "production", "churn:production:7", {"model": "churn", "version": "7"})
    assert first.id == again.id != other.id and len(hub.hub.state.deployments) == 2
    assert first.payload == {"model": "churn", "version": "6", "modelbot_key": "churn:production:6"}
    forge.set_deployment_status(first.id, "success", "alias production -> 6", "http://127.0.0.1:9/churn")
    forge.set_deployment_status(first.id, "success", "alias production -> 6", "http://127.0.0.1:9/churn")
    assert [s.state for s in hub.hub.state.deployments[first.id].statuses] == ["success"]


def test_dispatched_runs_are_found_by_workflow_and_commit_and_not_asked_for_a_merge_this_run_made(
    hub: RunningHub, forge: GitHubForge
) -> None:
    """A re-run learns from GitHub's list of runs that its killed predecessor dispatched the deploy."""
    inputs = "on:\n  workflow_dispatch:\n    inputs: {task: {}, after: {}, pull: {}}\njobs: {}\n"
    hub.hub.as_user("bob").push("main", {f".github/workflows/{name}": inputs for name in
                                         ("modelbot-deploy.yml", "modelbot-pr.yml")}, "the workflows")
    tip = hub.hub.git.resolve_commit("refs/heads/main")
    assert tip is not None
    # A writer dispatches the deploy workflow too (with inputs of his own): it is not the bot's deploy.
    status, _, _ = hub.request("POST", "/repos/acme/models/actions/workflows/modelbot-deploy.yml/dispatches", "bob",
                               {"ref": "main", "inputs": {"task": "sync"}})
    assert status == 204
    forge.dispatch_workflow("modelbot-deploy.yml", "main", {"task": "deploy", "after": tip})
    forge.dispatch_workflow("modelbot-pr.yml", "main", {"task": "validate", "pull": "1"})
    later = forge.create_commit("later", hub.hub.git.commit(tip).tree, [tip])
    mark = hub.log.mark()
    [run] = hub.forge().dispatched_runs("modelbot-deploy.yml", tip)
    assert (run.workflow, run.event, run.head_sha, run.status) == (
        ".github/workflows/modelbot-deploy.yml", "workflow_dispatch", tip, "queued")
    assert hub.forge().dispatched_runs("modelbot-deploy.yml", later) == []  # another commit
    assert hub.forge().dispatched_runs("modelbot-other.yml", tip) == []  # another workflow
    assert len(hub.log.since(mark)) == 3
    number = forge.promotion_pr("churn", "production", {"models.yaml": PROMOTED}, "Promote churn 6 to production",
                                "body", base="main").pull.number
    head = forge.pull_request(number).head_sha
    merged = forge.merge_pull(number, head, "Merge", "message")
    mark = hub.log.mark()
    assert forge.dispatched_runs("modelbot-deploy.yml", merged) == [] and hub.log.since(mark) == []


def test_permissions_and_teams_are_cached_for_the_run(hub: RunningHub, forge: GitHubForge) -> None:
    mark = hub.log.mark()
    roles = [forge.permission(login) for login in ("bob", "alice", "bob", "frank", "nobody")]
    assert roles == ["maintain", "write", "maintain", "read", "none"]
    assert len(hub.log.since(mark)) == 4
    with pytest.raises(ForgeError, match="team acme/ghosts"):
        forge.team_members("acme", "ghosts")


def test_labels_reactions_history_and_files(hub: RunningHub, forge: GitHubForge) -> None:
    number = hub.hub.as_user("alice").open_issue("Promote churn")
    comment = hub.hub.as_user("alice").comment(number, "/promote churn 7 to staging")
    forge.react(comment.id, "eyes")
    forge.react(comment.id, "eyes")
    forge.add_labels(number, ["promotion", "churn"])
    forge.add_labels(number, ["promotion"])
    assert [(r.user, r.content) for r in comment.reactions] == [("github-actions[bot]", "eyes")]
    assert hub.hub.state.issues[number].labels == ["promotion", "churn"]
    _merged_promotion(hub, forge)
    history = forge.history("models.yaml")
    expected = hub.hub.git.git("log", "--format=%H %s", "main", "--", "models.yaml").splitlines()
    assert [f"{h.sha} {h.message.splitlines()[0]}" for h in history] == expected
    assert history[0].author == "bob"  # GitHub links the merge commit to the user who merged
    assert forge.file_text("models.yaml") == PROMOTED
    assert forge.file_text("models.yaml", history[-1].sha) == MODELS
    assert forge.file_text("absent.yaml") is None


def test_a_token_without_write_access_gets_a_clear_refusal(hub: RunningHub) -> None:
    reader = hub.forge("frank")
    with pytest.raises(ForgeError, match=r"set status .*403"):
        reader.set_status(hub.hub.git.resolve_commit("refs/heads/main") or "", "success", "x")


def test_git_cli_sees_what_the_adapter_wrote(hub: RunningHub, forge: GitHubForge, tmp_path: Path) -> None:
    pull = forge.promotion_pr("churn", "staging", {"models.yaml": "new\n"}, "t", "b", base="main").pull
    out = subprocess.run(["git", "ls-remote", hub.hub.clone_url()], capture_output=True, text=True, check=True)
    assert f"{pull.head_sha}\trefs/heads/modelbot/promote/churn/staging" in out.stdout


def test_the_bot_never_adopts_someone_elses_comment_carrying_its_marker(hub: RunningHub,
                                                                        forge: GitHubForge) -> None:
    number = hub.hub.as_user("alice").open_issue("Promote churn")
    mark = "<!-- modelbot:churn:staging:report -->"
    hub.hub.as_user("alice").comment(number, f"{mark}\nfake report: all gates pass")
    result = forge.upsert_comment(number, mark, "real report: 1 gate fails")
    bodies = {c.user: c.body for c in hub.hub.state.comments.values()}
    assert result.action == "created"
    assert bodies == {"alice": f"{mark}\nfake report: all gates pass",
                      "github-actions[bot]": f"{mark}\nreal report: 1 gate fails"}
