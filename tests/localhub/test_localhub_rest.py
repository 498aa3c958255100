"""localhub answers GitHub's REST operations as GitHub does: shapes (checked against rest-api.json by the
fixture), pagination, error codes, permissions, and real git underneath (checked against git itself)."""

from __future__ import annotations

import base64
import re
from collections.abc import Callable

import pytest
from github import GithubException

from localhub.hub import ACTIONS_BOT
from tests.support.localhub import RunningHub

MODELS = "models:\n  churn:\n    staging: 6\n    production: 5\n"


@pytest.fixture
def hub(localhub_factory: Callable[..., RunningHub]) -> RunningHub:
    running = localhub_factory(files={"README.md": "# models\n", "models.yaml": MODELS,
                                      "policies/default.yaml": "stages: [staging, production]\n"})
    running.hub.add_user("alice", role="write")
    running.hub.add_user("bob", role="admin")
    running.hub.add_user("carol", role="triage")
    running.hub.add_user("dave")  # no role: reads a public repository, writes nothing
    return running


def test_every_url_in_answers_is_on_the_hubs_own_address(hub: RunningHub) -> None:
    status, _, body = hub.request("GET", "/repos/acme/models", "alice")
    assert status == 200
    assert body["url"] == f"{hub.url}/repos/acme/models"
    assert body["clone_url"] == f"{hub.url}/acme/models.git"
    assert body["permissions"] == {"pull": True, "triage": True, "push": True, "maintain": False, "admin": False}
    assert hub.checked_responses == 1 and hub.problems == []


def test_lists_paginate_with_link_headers_that_pygithub_follows(hub: RunningHub) -> None:
    number = hub.hub.as_user("alice").open_issue("many comments")
    for i in range(7):
        hub.hub.as_user("alice").comment(number, f"comment {i}")
    status, headers, body = hub.request("GET", f"/repos/acme/models/issues/{number}/comments?per_page=3&page=2",
                                        "alice")
    assert status == 200 and [c["body"] for c in body] == ["comment 3", "comment 4", "comment 5"]
    links = dict((rel, url) for url, rel in re.findall(r'<([^>]+)>; rel="(\w+)"', headers["Link"]))
    assert set(links) == {"first", "prev", "next", "last"}
    assert links["last"].startswith(hub.url) and "page=3" in links["last"]
    small_pages = hub.github("alice", per_page=2)
    mark = hub.log.mark()
    bodies = [c.body for c in small_pages.get_repo("acme/models").get_issue(number).get_comments()]
    assert bodies == [f"comment {i}" for i in range(7)]
    assert sum(1 for e in hub.log.since(mark) if e.path.endswith("/comments")) == 4  # 2+2+2+1


@pytest.mark.parametrize(("method", "path", "login", "body", "status", "message"), [
    ("GET", "/repos/acme/models/pulls/99", "alice", None, 404, "Not Found"),
    ("GET", "/repos/acme/other", "alice", None, 404, "Not Found"),
    ("GET", "/repos/acme/models/contents/nope.txt", "alice", None, 404, "Not Found"),
    ("POST", "/repos/acme/models/issues/1/comments", None, {"body": "x"}, 401, "Requires authentication"),
    ("POST", "/repos/acme/models/statuses/main", "dave", {"state": "success"}, 403, "Must have write access"),
    ("POST", "/repos/acme/models/statuses/main", "alice", {"state": "great"}, 422, "Invalid request."),
    ("POST", "/repos/acme/models/git/refs", "alice", {"ref": "refs/heads/main", "sha": "0" * 40}, 422,
     "Reference already exists"),
])
def test_errors_have_githubs_codes_and_shapes(hub: RunningHub, method: str, path: str, login: str | None,
                                             body: object, status: int, message: str) -> None:
    hub.hub.as_user("alice").open_issue("an issue")
    got, _, answer = hub.request(method, path, login, body)
    assert got == status
    assert answer["message"].startswith(message)
    assert answer["documentation_url"].startswith("https://docs.github.com/")


def test_bad_token_is_401_bad_credentials_and_pygithub_says_so(hub: RunningHub) -> None:
    status, _, body = hub.request("GET", "/repos/acme/models", token="ghp_not_a_token")
    assert (status, body["message"]) == (401, "Bad credentials")


def test_validation_errors_name_the_field(hub: RunningHub) -> None:
    status, _, body = hub.request("POST", "/repos/acme/models/pulls", "alice",
                                  {"title": "t", "head": "nope", "base": "main"})
    assert status == 422
    assert body["errors"] == [{"resource": "PullRequest", "field": "head", "code": "invalid"}]


def test_contents_create_update_conflict_and_delete_are_commits(hub: RunningHub) -> None:
    repo = hub.github("alice").get_repo("acme/models")
    created = repo.create_file("policies/production.yaml", "add policy", "stages: [staging]\n", branch="main")
    assert created["content"].path == "policies/production.yaml"
    current = repo.get_contents("models.yaml")
    updated = repo.update_file("models.yaml", "promote", MODELS.replace("6", "7"), current.sha)
    assert hub.hub.git.read_blob(hub.hub.git.file_at(updated["commit"].sha, "models.yaml").sha).decode() == \
        MODELS.replace("6", "7")
    with pytest.raises(GithubException) as stale:
        repo.update_file("models.yaml", "stale", "x\n", current.sha)
    assert stale.value.status == 409
    log = hub.hub.git.git("log", "--format=%s", "main").split("\n")
    assert log[:3] == ["promote", "add policy", "Initial commit"]


def test_directory_listing_and_file_content(hub: RunningHub) -> None:
    status, _, listing = hub.request("GET", "/repos/acme/models/contents/policies", "alice")
    assert status == 200 and [(item["name"], item["type"]) for item in listing] == [("default.yaml", "file")]
    status, _, file = hub.request("GET", "/repos/acme/models/contents/models.yaml?ref=main", "alice")
    assert base64.b64decode(file["content"]).decode() == MODELS
    assert file["sha"] == hub.hub.git.git("rev-parse", "main:models.yaml").strip()


def _branch_with(hub: RunningHub, branch: str, text: str) -> None:
    hub.hub.as_user("alice").push(branch, {"models.yaml": text}, f"edit on {branch}")


def test_mergeability_is_a_real_trial_merge(hub: RunningHub) -> None:
    _branch_with(hub, "a", MODELS.replace("staging: 6", "staging: 7"))
    _branch_with(hub, "b", MODELS.replace("staging: 6", "staging: 8"))
    _branch_with(hub, "c", MODELS + "  fraud:\n    staging: 1\n")
    alice = hub.hub.as_user("alice")
    numbers = {name: alice.open_pull(name, "main", f"PR {name}") for name in "abc"}
    alice.merge(numbers["a"])
    repo = hub.github("bob").get_repo("acme/models")
    conflicting, clean = repo.get_pull(numbers["b"]), repo.get_pull(numbers["c"])
    assert (conflicting.mergeable, conflicting.mergeable_state) == (False, "dirty")
    assert (clean.mergeable, clean.mergeable_state) == (True, "clean")
    with pytest.raises(GithubException) as refused:
        conflicting.merge()
    assert refused.value.status == 405


def test_merge_and_squash_produce_the_commits_git_would(hub: RunningHub) -> None:
    _branch_with(hub, "m", MODELS.replace("staging: 6", "staging: 7"))
    hub.hub.as_user("alice").push("m", {"README.md": "# models v2\n"}, "second commit")
    _branch_with(hub, "s", MODELS + "  fraud:\n    staging: 1\n")
    alice = hub.hub.as_user("alice")
    merge_pr, squash_pr = alice.open_pull("m", "main", "Merge me"), alice.open_pull("s", "main", "Squash me")
    repo = hub.github("bob").get_repo("acme/models")
    merged = repo.get_pull(merge_pr).merge(merge_method="merge")
    git = hub.hub.git
    assert merged.merged and len(git.commit(merged.sha).parents) == 2
    assert git.commit(merged.sha).message.startswith(f"Merge pull request #{merge_pr} from acme/m")
    pr = repo.get_pull(squash_pr)
    with pytest.raises(GithubException) as moved:
        pr.merge(merge_method="squash", sha="0" * 40)
    assert moved.value.status == 409
    squashed = pr.merge(merge_method="squash")
    info = git.commit(squashed.sha)
    assert len(info.parents) == 1 and info.message.startswith(f"Squash me (#{squash_pr})")
    expected_tree = git.git("merge-tree", "--write-tree", merged.sha, "refs/heads/s").split()[0]
    assert info.tree == expected_tree
    refreshed = repo.get_pull(squash_pr)
    assert refreshed.merged and refreshed.merge_commit_sha == squashed.sha and refreshed.state == "closed"


def test_pull_list_filters_by_head_and_state(hub: RunningHub) -> None:
    _branch_with(hub, "x", "one\n")
    _branch_with(hub, "y", "two\n")
    alice = hub.hub.as_user("alice")
    alice.open_pull("x", "main", "X")
    number_y = alice.open_pull("y", "main", "Y")
    alice.close(number_y)
    repo = hub.github("alice").get_repo("acme/models")
    assert [p.title for p in repo.get_pulls(state="open", head="acme:x")] == ["X"]
    assert [p.title for p in repo.get_pulls(state="open", head="acme:y")] == []
    assert [p.title for p in repo.get_pulls(state="all")] == ["Y", "X"]
    with pytest.raises(GithubException) as duplicate:
        repo.create_pull(base="main", head="x", title="again")
    assert duplicate.value.status == 422
    assert "already exists" in duplicate.value.data["errors"][0]["message"]


def test_reviews_carry_the_commit_they_saw_and_refuse_self_approval(hub: RunningHub) -> None:
    _branch_with(hub, "r", "v1\n")
    number = hub.hub.as_user("alice").open_pull("r", "main", "Review me")
    first_head = hub.hub.git.resolve_commit("refs/heads/r")
    hub.github("bob").get_repo("acme/models").get_pull(number).create_review(event="APPROVE")
    _branch_with(hub, "r", "v2\n")
    with pytest.raises(GithubException) as own:
        hub.github("alice").get_repo("acme/models").get_pull(number).create_review(event="APPROVE")
    assert own.value.status == 422
    reviews = list(hub.github("carol").get_repo("acme/models").get_pull(number).get_reviews())
    assert [(r.user.login, r.state, r.commit_id) for r in reviews] == [("bob", "APPROVED", first_head)]


def test_permissions_come_from_collaborators_org_owners_and_teams(hub: RunningHub) -> None:
    hub.hub.add_team("acme", "ml-leads", ["erin"], repo_role="maintain")
    hub.hub.add_org_member("acme", "frank", role="admin")
    repo = hub.github("alice").get_repo("acme/models")
    roles = {login: repo.get_collaborator_role_name(login) for login in ("alice", "bob", "carol", "dave",
                                                                          "erin", "frank")}
    assert roles == {"alice": "write", "bob": "admin", "carol": "triage", "dave": "read", "erin": "maintain",
                     "frank": "admin"}
    assert repo.get_collaborator_permission("erin") == "write"  # the legacy field folds maintain into write
    team = hub.github("alice").get_organization("acme").get_team_by_slug("ml-leads")
    assert [m.login for m in team.get_members()] == ["erin"]
    status, _, body = hub.request("GET", "/orgs/acme/teams/ml-leads/memberships/erin", "alice")
    assert (status, body["state"], body["role"]) == (200, "active", "member")
    assert hub.request("GET", "/orgs/acme/teams/ml-leads/memberships/alice", "alice")[0] == 404


def test_statuses_combine_by_latest_per_context(hub: RunningHub) -> None:
    repo = hub.github("alice").get_repo("acme/models")
    sha = repo.get_branch("main").commit.sha
    commit = repo.get_commit(sha)
    commit.create_status("pending", context="modelbot/validate")
    commit.create_status("success", context="ci")
    assert commit.get_combined_status().state == "pending"
    commit.create_status("success", context="modelbot/validate")
    combined = commit.get_combined_status()
    assert combined.state == "success" and combined.total_count == 2
    _, _, listed = hub.request("GET", f"/repos/acme/models/commits/{sha}/statuses", "alice")
    assert [s["state"] for s in listed] == ["success", "success", "pending"]


def test_check_runs_complete_with_a_conclusion(hub: RunningHub) -> None:
    repo = hub.github(ACTIONS_BOT).get_repo("acme/models")  # only an app's token may write check runs
    sha = repo.get_branch("main").commit.sha
    run = repo.create_check_run(name="modelbot", head_sha=sha, status="in_progress")
    assert (run.status, run.conclusion) == ("in_progress", None)
    run.edit(conclusion="failure", output={"title": "gates", "summary": "auc below threshold"})
    listed = list(repo.get_commit(sha).get_check_runs(check_name="modelbot"))
    assert [(r.status, r.conclusion, r.output.summary) for r in listed] == [
        ("completed", "failure", "auc below threshold")]


def test_deployments_wait_for_commit_statuses_unless_told_otherwise(hub: RunningHub) -> None:
    repo = hub.github("alice").get_repo("acme/models")
    sha = repo.get_branch("main").commit.sha
    repo.get_commit(sha).create_status("failure", context="ci")
    with pytest.raises(GithubException) as gated:
        repo.create_deployment(ref="main", environment="staging", auto_merge=False)
    assert gated.value.status == 409
    deployment = repo.create_deployment(ref="main", environment="staging", required_contexts=[],
                                        auto_merge=False, payload={"model": "churn"})
    deployment.create_status("in_progress")
    deployment.create_status("success", environment_url="http://127.0.0.1:9/churn")
    assert [s.state for s in deployment.get_statuses()] == ["success", "in_progress"]
    assert [d.id for d in repo.get_deployments(environment="staging")] == [deployment.id]
    assert deployment.payload == {"model": "churn"}


def test_history_of_a_path_matches_git_log(hub: RunningHub) -> None:
    alice = hub.hub.as_user("alice")
    alice.push("main", {"models.yaml": MODELS + "# 1\n"}, "touch models 1")
    alice.push("main", {"README.md": "readme\n"}, "touch readme")
    alice.push("main", {"models.yaml": MODELS + "# 2\n"}, "touch models 2")
    commits = list(hub.github("alice").get_repo("acme/models").get_commits(path="models.yaml"))
    expected = hub.hub.git.git("log", "--format=%H", "main", "--", "models.yaml").split()
    assert [c.sha for c in commits] == expected and len(expected) == 3


def test_git_data_api_builds_trees_and_commits(hub: RunningHub) -> None:
    from github import InputGitTreeElement

    repo = hub.github("alice").get_repo("acme/models")
    main = repo.get_git_commit(repo.get_branch("main").commit.sha)
    tree = repo.create_git_tree([InputGitTreeElement("a/b.txt", "100644", "blob", content="deep\n"),
                                 InputGitTreeElement("README.md", "100644", "blob", sha=None)], base_tree=main.tree)
    assert sorted(e.path for e in tree.tree if e.type == "blob") == ["a/b.txt", "models.yaml", "policies/default.yaml"]
    commit = repo.create_git_commit("restructure", tree, [main])
    ref = repo.create_git_ref("refs/heads/restructure", commit.sha)
    assert hub.hub.git.git("show", "refs/heads/restructure:a/b.txt") == "deep\n"
    status, _, body = hub.request("PATCH", "/repos/acme/models/git/refs/heads/restructure", "alice",
                                  {"sha": main.sha})
    assert (status, body["message"]) == (422, "Update is not a fast forward")
    assert ref.object.sha == commit.sha
