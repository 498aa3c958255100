"""One forge is one run, and a run asks GitHub each question once (issue 6's request budget): an issue's
comments are listed once and kept current by the bot's own writes; a pull request the run opened has no
comments and, at first look, no reviews; a check run on a commit the run created needs no look-up; and a
caller that knows the base tip saves reading the base branch. Counted in localhub's request log; with 502s
(some after the write took effect) and a secondary rate limit, the end state is the same, without duplicates."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import pytest

from bot.github.client import GitHubForge
from bot.github.forge import BaseTip
from bot.github.markers import marker
from tests.support.localhub import RunningHub

MODELS = "models:\n  churn:\n    stages: {staging: 6, production: 5}\n"  # as the `hub` fixture seeds it
STAGED = MODELS.replace("staging: 6", "staging: 7")
REPORT = marker("churn", "staging", "report")
APPROVALS = marker("churn", "staging", "approvals")


def _propose(forge: GitHubForge, tip: BaseTip | None = None, text: str = STAGED, version: str = "7") -> Any:
    return forge.promotion_pr("churn", "staging", {"models.yaml": text}, f"Promote churn {version} to staging",
                              "Evidence follows.", base="main", labels=["promotion"], base_tip=tip)


def _tip(hub: RunningHub) -> BaseTip:
    sha = hub.hub.git.resolve_commit("refs/heads/main")
    assert sha is not None
    return BaseTip(sha, hub.hub.git.commit(sha).tree)


def _requests(hub: RunningHub, action: Callable[[], Any]) -> tuple[Any, list[str]]:
    mark = hub.log.mark()
    result = action()
    return result, [f"{r.method} {r.path}" for r in hub.log.since(mark)]


def _bot_comments(hub: RunningHub, mark: str) -> list[str]:
    return [c.body for c in hub.hub.state.comments.values() if mark in c.body]


def test_a_run_lists_an_issues_comments_once_and_keeps_the_listing_current(hub: RunningHub) -> None:
    number = _propose(hub.forge()).pull.number
    for i in range(30):
        hub.hub.as_user("alice").comment(number, f"discussion {i}")
    run = hub.forge()
    listing = f"GET /repos/acme/models/issues/{number}/comments"
    costs = [_requests(hub, step)[1] for step in (
        lambda: run.find_comment(number, REPORT),
        lambda: run.upsert_comment(number, REPORT, "gates: running"),
        lambda: run.upsert_comment(number, APPROVALS, "ml-lead 0/1"),
        lambda: run.find_comment(number, REPORT),
        lambda: run.upsert_comment(number, REPORT, "gates: running"),
        lambda: run.upsert_comment(number, REPORT, "gates: all pass"),
    )]
    assert costs == [[listing], [f"POST /repos/acme/models/issues/{number}/comments"],
                     [f"POST /repos/acme/models/issues/{number}/comments"], [], [],
                     [f"PATCH /repos/acme/models/issues/comments/{run.find_comment(number, REPORT).id}"]]
    assert run.find_comment(number, REPORT).body == f"{REPORT}\ngates: all pass"  # type: ignore[union-attr]
    assert _bot_comments(hub, REPORT) == [f"{REPORT}\ngates: all pass"]
    assert _bot_comments(hub, APPROVALS) == [f"{APPROVALS}\nml-lead 0/1"]


def test_a_comment_deleted_after_the_listing_is_posted_again_once(hub: RunningHub) -> None:
    number = _propose(hub.forge()).pull.number
    run = hub.forge()
    first = run.upsert_comment(number, REPORT, "v1").comment
    status, _, _ = hub.request("DELETE", f"/repos/acme/models/issues/comments/{first.id}", "bob")
    assert status == 204
    again = run.upsert_comment(number, REPORT, "v2")
    assert again.action == "created" and again.comment.id != first.id
    assert _bot_comments(hub, REPORT) == [f"{REPORT}\nv2"]
    assert _requests(hub, lambda: run.upsert_comment(number, REPORT, "v2"))[1] == []


def test_a_pull_request_opened_in_this_run_has_no_comments_and_no_reviews_at_first_look(hub: RunningHub) -> None:
    run = hub.forge()
    pull = _propose(run).pull
    created, used = _requests(hub, lambda: run.upsert_comment(pull.number, REPORT, "gates: all pass"))
    assert created.action == "created" and used == [f"POST /repos/acme/models/issues/{pull.number}/comments"]
    reviews, used = _requests(hub, lambda: run.reviews(pull.number))
    assert reviews == [] and used == []
    hub.hub.as_user("bob").review(pull.number, "APPROVE")
    reviews, used = _requests(hub, lambda: run.reviews(pull.number))  # later looks ask GitHub
    assert [(r.author, r.state) for r in reviews] == [("bob", "APPROVED")]
    assert used == [f"GET /repos/acme/models/pulls/{pull.number}/reviews"]


def test_reading_the_pull_request_again_means_its_reviews_are_read_again(hub: RunningHub) -> None:
    run = hub.forge()
    pull = _propose(run).pull
    hub.hub.as_user("bob").review(pull.number, "APPROVE")
    run.pull_request(pull.number)
    reviews, used = _requests(hub, lambda: run.reviews(pull.number))
    assert [r.author for r in reviews] == ["bob"] and len(used) == 1


def test_a_check_run_on_a_commit_this_run_created_needs_no_look_up(hub: RunningHub) -> None:
    run = hub.forge()
    head = _propose(run).pull.head_sha
    foreign = hub.hub.as_user("alice").push("experiment", {"notes.md": "x\n"}, "notes")
    costs = [_requests(hub, lambda sha=sha, c=c: run.set_check_run(sha, "modelbot/validation", c, "t", "s"))[1]
             for sha, c in ((head, None), (head, "success"), (foreign, None), (foreign, "failure"))]
    post, patch = "POST /repos/acme/models/check-runs", "PATCH /repos/acme/models/check-runs/"
    assert [[r.rsplit("/", 1)[0] + "/" if r.startswith("PATCH") else r for r in c] for c in costs] == [
        [post], [patch],
        [f"GET /repos/acme/models/commits/{foreign}/check-runs", post], [patch]]
    runs = sorted((r.head_sha, r.status, r.conclusion) for r in hub.hub.state.check_runs.values())
    assert runs == sorted([(head, "completed", "success"), (foreign, "completed", "failure")])


def test_the_base_tip_saves_reading_the_base_branch_and_is_what_the_commit_builds_on(hub: RunningHub) -> None:
    tip = _tip(hub)
    hub.hub.as_user("alice").push("main", {"README.md": "# models, moved on\n"}, "docs")  # main moves on
    result, used = _requests(hub, lambda: _propose(hub.forge(), tip))
    assert result.action == "opened" and len(used) == 6 and not any("/branches/" in r for r in used), used
    head = hub.hub.git.commit(result.pull.head_sha)
    assert head.parents == (tip.commit,)  # the revision the caller computed models.yaml from
    assert hub.hub.git.git("show", f"{result.pull.head_sha}:models.yaml") == STAGED
    assert hub.hub.git.git("show", f"{result.pull.head_sha}:README.md") == "# models\n"
    newer, used = _requests(hub, lambda: _propose(hub.forge(), tip, STAGED.replace("7", "8"), "8"))
    assert newer.action == "updated" and newer.superseded is not None
    assert not any("/branches/" in r for r in used) and len(used) == 6, used  # supersede: 7 without the tip
    hub.hub.as_user("bob").merge(result.pull.number, "merge")  # built on an older tip, still merges cleanly
    main = hub.hub.git.resolve_commit("refs/heads/main")
    assert hub.hub.git.git("show", f"{main}:README.md") == "# models, moved on\n"


def test_without_the_base_tip_the_branch_is_read_as_before(hub: RunningHub) -> None:
    result, used = _requests(hub, lambda: _propose(hub.forge()))
    assert len(used) == 7 and "GET /repos/acme/models/branches/main" in used
    assert hub.hub.git.commit(result.pull.head_sha).parents == (hub.hub.git.resolve_commit("refs/heads/main"),)


def _two_runs(hub: RunningHub, waits: list[float]) -> None:
    """The run that opens the PR (with the base tip) and reports on it, then a review's run that updates
    the same comments and check run twice over."""
    opener = hub.forge(waits=waits)
    pull = _propose(opener, _tip(hub)).pull
    opener.upsert_comment(pull.number, REPORT, "gates: running")
    opener.set_check_run(pull.head_sha, "modelbot/validation", None, "Validating", "running")
    opener.upsert_comment(pull.number, REPORT, "gates: all pass")
    opener.set_check_run(pull.head_sha, "modelbot/validation", "success", "Pass", "all pass")
    assert opener.reviews(pull.number) == []
    opener.upsert_comment(pull.number, APPROVALS, "ml-lead 0/1")
    hub.hub.as_user("bob").review(pull.number, "APPROVE")
    later = hub.forge(waits=waits)
    assert [r.author for r in later.reviews(pull.number)] == ["bob"]
    for _ in range(2):
        later.upsert_comment(pull.number, APPROVALS, "ml-lead 1/1")
        later.set_check_run(pull.head_sha, "modelbot/validation", "success", "Pass", "all pass")
    assert later.find_comment(pull.number, REPORT) is not None


def _state(hub: RunningHub) -> dict[str, Any]:
    state = hub.hub.state
    return {
        "pulls": sorted((i.title, i.state, tuple(i.labels)) for i in state.issues.values() if i.pull),
        "comments": sorted((c.user, c.body) for c in state.comments.values()),
        "check_runs": sorted((r.name, r.status, r.conclusion) for r in state.check_runs.values()),
        "branches": sorted(hub.hub.git.refs("refs/heads/")),
    }


@pytest.mark.parametrize("seed", [3, 4, 5])
def test_faults_leave_the_cached_paths_without_duplicates(localhub_factory: Callable[..., RunningHub],
                                                         seed: int) -> None:
    outcomes, faults_seen = [], []
    for error_rate, secondary in ((0.0, 0), (0.2, 1)):
        hub = localhub_factory(files={"README.md": "# models\n", "models.yaml": MODELS})
        hub.hub.add_user("bob", role="maintain")
        hub.faults.reseed(seed)
        hub.faults.error_rate, hub.faults.secondary_limits, hub.faults.retry_after = error_rate, secondary, 1
        _two_runs(hub, [])
        hub.faults.clear()
        outcomes.append(_state(hub))
        faults_seen.append([e.fault for e in hub.log.entries if e.fault])
    clean, faulty = outcomes
    assert faults_seen[0] == [] and len(faults_seen[1]) >= 3 and "secondary-rate-limit" in faults_seen[1]
    assert faulty == clean
    assert clean["comments"] == sorted([("github-actions[bot]", f"{REPORT}\ngates: all pass"),
                                        ("github-actions[bot]", f"{APPROVALS}\nml-lead 1/1")])
    assert clean["check_runs"] == [("modelbot/validation", "completed", "success")]
    assert len(clean["pulls"]) == 1
