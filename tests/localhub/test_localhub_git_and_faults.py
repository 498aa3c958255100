"""localhub's repository speaks git over HTTP (clone, fetch, push with a token), and its request log and
fault injection behave as tests need them to."""

from __future__ import annotations

import subprocess
from pathlib import Path

import pytest

from localhub.faults import SECONDARY_MESSAGE
from tests.support.localhub import RunningHub, git


def test_clone_and_push_over_http_move_branches_and_sync_pull_requests(localhub: RunningHub,
                                                                       tmp_path: Path) -> None:
    hub = localhub.hub
    hub.add_user("alice", role="write")
    hub.as_user("alice").push("feature", {"a.txt": "one\n"}, "one")
    number = hub.as_user("alice").open_pull("feature", "main", "Feature")
    token = hub.token_for("alice")
    url = hub.clone_url().replace("http://", f"http://x-access-token:{token}@")
    work = tmp_path / "clone"
    git(tmp_path, "clone", "-q", "--branch", "feature", url, str(work))
    assert (work / "a.txt").read_text() == "one\n"
    (work / "a.txt").write_text("two\n")
    git(work, "commit", "-qam", "two")
    git(work, "push", "-q", "origin", "feature")
    head = git(work, "rev-parse", "HEAD").strip()
    assert hub.git.resolve_commit("refs/heads/feature") == head
    assert hub.state.issues[number].pull.head_sha == head  # type: ignore[union-attr]
    assert [d.event for d in hub.deliveries[-2:]] == ["push", "pull_request"]
    assert hub.deliveries[-1].payload["action"] == "synchronize"
    assert localhub.log.since(0, api_only=False)[-1].api is False


def test_anonymous_push_is_refused(localhub: RunningHub, tmp_path: Path) -> None:
    work = tmp_path / "anon"
    git(tmp_path, "clone", "-q", localhub.hub.clone_url(), str(work))
    (work / "x.txt").write_text("x\n")
    git(work, "add", "x.txt")
    git(work, "commit", "-qm", "x")
    with pytest.raises(subprocess.CalledProcessError):
        git(work, "push", "-q", "origin", "HEAD:main")
    assert localhub.hub.git.file_at("refs/heads/main", "x.txt") is None


def test_the_request_log_names_method_path_status_and_acting_user(localhub: RunningHub) -> None:
    localhub.hub.add_user("alice", role="write")
    mark = localhub.log.mark()
    localhub.request("GET", "/repos/acme/models", "alice")
    localhub.request("POST", "/repos/acme/models/issues", "alice", {"title": "t"})
    localhub.request("GET", "/repos/acme/models/pulls/9", None)
    entries = localhub.log.since(mark)
    assert [(e.method, e.path, e.status, e.user) for e in entries] == [
        ("GET", "/repos/acme/models", 200, "alice"), ("POST", "/repos/acme/models/issues", 201, "alice"),
        ("GET", "/repos/acme/models/pulls/9", 404, None)]
    assert [e.path for e in localhub.log.writes(mark)] == ["/repos/acme/models/issues"]


def test_a_secondary_rate_limit_is_a_403_with_retry_after_once(localhub: RunningHub) -> None:
    localhub.hub.add_user("alice", role="write")
    localhub.faults.secondary_limits = 1
    localhub.faults.retry_after = 3
    status, headers, body = localhub.request("GET", "/repos/acme/models", "alice")
    assert (status, headers["Retry-After"], body["message"]) == (403, "3", SECONDARY_MESSAGE)
    assert localhub.request("GET", "/repos/acme/models", "alice")[0] == 200


def test_an_exhausted_primary_limit_says_when_it_resets(localhub: RunningHub) -> None:
    localhub.hub.add_user("alice", role="write")
    localhub.faults.primary_limits = 1
    status, headers, body = localhub.request("GET", "/repos/acme/models", "alice")
    assert (status, headers["X-RateLimit-Remaining"]) == (403, "0")
    assert int(headers["X-RateLimit-Reset"]) > 0 and body["message"].startswith("API rate limit exceeded")


def test_a_share_of_502s_is_seeded_and_some_writes_take_effect_before_failing(localhub: RunningHub) -> None:
    hub = localhub.hub
    hub.add_user("alice", role="write")
    localhub.faults.reseed(3)
    localhub.faults.error_rate = 0.5
    localhub.faults.write_applied_share = 1.0
    results = [localhub.request("POST", "/repos/acme/models/issues", "alice", {"title": f"t{i}"})[0]
               for i in range(40)]
    failed = results.count(502)
    assert 8 < failed < 32  # about half, for this seed
    assert len(hub.state.issues) == 40  # every failed write had taken effect first
    faulted = [e.fault for e in localhub.log.entries if e.fault]
    assert faulted == ["502-after-write"] * failed


def test_slow_answers_are_delayed(localhub: RunningHub) -> None:
    import time

    localhub.faults.slow_rate = 1.0
    localhub.faults.slow_seconds = 0.2
    started = time.monotonic()
    localhub.request("GET", "/rate_limit")
    assert time.monotonic() - started >= 0.2


def test_branch_protection_refuses_a_merge_until_the_required_checks_pass(localhub) -> None:
    hub = localhub.hub
    hub.add_user("dana", role="admin")
    hub.protect_branch("main", ["modelbot/validation"])
    dana = hub.as_user("dana")
    dana.push("feature", {"notes.md": "x\n"}, "notes", base="main")
    number = dana.open_pull("feature", "main", "Notes")
    head = localhub.request("GET", f"/repos/acme/models/pulls/{number}", "dana")[2]["head"]["sha"]
    status, _, body = localhub.request("PUT", f"/repos/acme/models/pulls/{number}/merge", "dana", {})
    assert (status, body["message"]) == (405, 'Required status check "modelbot/validation" is expected.')
    dana.set_status(head, "failure", "modelbot/validation")
    status, _, body = localhub.request("PUT", f"/repos/acme/models/pulls/{number}/merge", "dana", {})
    assert (status, body["message"]) == (405, 'Required status check "modelbot/validation" is failing.')
    dana.set_status(head, "success", "modelbot/validation")
    status, _, body = localhub.request("PUT", f"/repos/acme/models/pulls/{number}/merge", "dana", {})
    assert status == 200 and body["merged"] is True
