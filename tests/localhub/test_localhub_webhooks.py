"""Every change on localhub emits the webhook GitHub would send; each payload is validated against
webhooks.json (x-webhooks) as it is emitted, and what handlers rely on is asserted here."""

from __future__ import annotations

from typing import Any

import pytest

from tests.support.github_schemas import webhook_problems
from tests.support.localhub import RunningHub


def _events(hub: RunningHub, start: int = 0) -> list[tuple[str, Any]]:
    return [(d.event, d.payload.get("action")) for d in hub.hub.deliveries[start:]]


def _last(hub: RunningHub, event: str) -> dict[str, Any]:
    return next(d.payload for d in reversed(hub.hub.deliveries) if d.event == event)


def _valid_now(hub: RunningHub) -> None:
    assert hub.problems == []
    assert hub.checked_webhooks == len(hub.hub.deliveries) > 0


def test_a_whole_promotion_story_emits_valid_payloads_in_order(localhub: RunningHub) -> None:
    hub = localhub.hub
    hub.add_user("alice", role="write")
    hub.add_user("bob", role="maintain")
    alice, bob = hub.as_user("alice"), hub.as_user("bob")
    alice.push("promote", {"models.yaml": "models: {churn: 7}\n"}, "promote churn")
    number = alice.open_pull("promote", "main", "Promote churn 7")
    comment = alice.comment(number, "/promote churn 7 to staging")
    alice.edit_comment(comment.id, "/promote churn 7 to production")
    alice.label(number, "promotion")
    alice.push("promote", {"models.yaml": "models: {churn: 8}\n"}, "actually 8")
    review = bob.review(number, "APPROVE")
    bob.merge(number, "squash")
    bob.deploy("main", "staging", required_contexts=[])
    assert _events(localhub) == [
        ("push", None), ("pull_request", "opened"), ("issue_comment", "created"), ("issue_comment", "edited"),
        ("pull_request", "labeled"), ("push", None), ("pull_request", "synchronize"),
        ("pull_request_review", "submitted"), ("push", None), ("pull_request", "closed"),
        ("deployment", "created"),
    ]
    _valid_now(localhub)
    assert review.state == "APPROVED"


def test_a_comment_on_a_pull_request_says_so_in_issue_pull_request(localhub: RunningHub) -> None:
    hub = localhub.hub
    hub.add_user("alice", role="write")
    hub.as_user("alice").push("p", {"a.txt": "a\n"}, "a")
    number = hub.as_user("alice").open_pull("p", "main", "P")
    hub.as_user("alice").comment(number, "/promote churn 7 to staging")
    payload = _last(localhub, "issue_comment")
    assert payload["issue"]["pull_request"]["url"] == f"{localhub.url}/repos/acme/models/pulls/{number}"
    assert payload["comment"]["body"] == "/promote churn 7 to staging"
    assert payload["sender"]["login"] == "alice" and payload["comment"]["author_association"] == "COLLABORATOR"
    _valid_now(localhub)


def test_a_merged_pull_request_closes_with_merged_true_and_the_merge_sha(localhub: RunningHub) -> None:
    hub = localhub.hub
    hub.add_user("alice", role="write")
    hub.as_user("alice").push("p", {"a.txt": "a\n"}, "a")
    number = hub.as_user("alice").open_pull("p", "main", "P")
    sha = hub.as_user("alice").merge(number)
    payload = _last(localhub, "pull_request")
    assert (payload["action"], payload["pull_request"]["merged"]) == ("closed", True)
    assert payload["pull_request"]["merge_commit_sha"] == sha == hub.git.resolve_commit("refs/heads/main")
    pushed = _last(localhub, "push")
    assert (pushed["ref"], pushed["after"]) == ("refs/heads/main", sha)
    _valid_now(localhub)


def test_an_approving_review_carries_state_and_commit(localhub: RunningHub) -> None:
    hub = localhub.hub
    hub.add_user("alice", role="write")
    hub.add_user("bob", role="write")
    head = hub.as_user("alice").push("p", {"a.txt": "a\n"}, "a")
    number = hub.as_user("alice").open_pull("p", "main", "P")
    hub.as_user("bob").review(number, "APPROVE", "ship it")
    payload = _last(localhub, "pull_request_review")
    assert (payload["review"]["state"], payload["review"]["commit_id"]) == ("approved", head)
    assert payload["pull_request"]["head"]["sha"] == head
    _valid_now(localhub)


def test_api_writes_emit_the_same_events_as_the_python_api(localhub: RunningHub) -> None:
    hub = localhub.hub
    hub.add_user("alice", role="write")
    hub.as_user("alice").push("main", {".github/workflows/modelbot.yml": DISPATCHED}, "Add the workflow")
    repo = localhub.github("alice").get_repo("acme/models")
    sha = repo.get_branch("main").commit.sha
    start = len(hub.deliveries)
    repo.get_commit(sha).create_status("success", context="modelbot/validate")
    deployment = repo.create_deployment(ref="main", environment="production", auto_merge=False,
                                        required_contexts=[])
    deployment.create_status("success")
    status, _, _ = localhub.request("POST", "/repos/acme/models/actions/workflows/modelbot.yml/dispatches",
                                    "alice", {"ref": "main", "inputs": {"model": "churn"}})
    assert status == 204
    assert _events(localhub, start) == [("status", None), ("deployment", "created"),
                                        ("deployment_status", "created"), ("workflow_dispatch", None)]
    assert _last(localhub, "status")["branches"][0]["name"] == "main"
    assert _last(localhub, "workflow_dispatch")["inputs"] == {"model": "churn"}
    _valid_now(localhub)


def test_the_validator_itself_refuses_a_broken_payload(localhub: RunningHub) -> None:
    hub = localhub.hub
    hub.add_user("alice", role="write")
    hub.as_user("alice").push("p", {"a.txt": "a\n"}, "a")
    number = hub.as_user("alice").open_pull("p", "main", "P")
    hub.as_user("alice").comment(number, "hello")
    broken = dict(_last(localhub, "issue_comment"))
    del broken["comment"]
    assert any("'comment' is a required property" in p for p in webhook_problems("issue_comment", broken))


def test_edits_reopens_dismissals_and_deletions_emit_valid_payloads(localhub: RunningHub) -> None:
    hub = localhub.hub
    hub.add_user("alice", role="write")
    hub.add_user("bob", role="maintain")
    alice, bob = hub.as_user("alice"), hub.as_user("bob")
    alice.push("p", {"a.txt": "a\n"}, "a")
    number = alice.open_pull("p", "main", "P")
    repo = localhub.github("alice").get_repo("acme/models")
    repo.get_pull(number).edit(title="P, renamed", body="now with a body")
    alice.close(number)
    repo.get_pull(number).edit(state="open")
    review = bob.review(number, "REQUEST_CHANGES", "not yet")
    bob.dismiss(number, review.id, "addressed")
    comment = repo.get_issue(number).create_comment("temporary")
    comment.delete()
    start = [d.event for d in hub.deliveries].index("pull_request")
    assert _events(localhub, start) == [
        ("pull_request", "opened"), ("pull_request", "edited"), ("pull_request", "closed"),
        ("pull_request", "reopened"), ("pull_request_review", "submitted"), ("pull_request_review", "dismissed"),
        ("issue_comment", "created"), ("issue_comment", "deleted")]
    edited = next(d.payload for d in hub.deliveries if d.payload.get("action") == "edited")
    assert edited["changes"] == {"title": {"from": "P"}, "body": {"from": ""}}
    _valid_now(localhub)


DISPATCHED = """on:
  workflow_dispatch:
    inputs:
      model: {required: true}
      stage: {default: production}
  push: {}
jobs: {}
"""


@pytest.mark.parametrize(("workflow", "inputs", "status", "said"), [
    ("missing.yml", {"model": "churn"}, 404, "Not Found"),
    ("on-push.yml", {}, 422, "Workflow does not have 'workflow_dispatch' trigger"),
    ("modelbot.yml", {"model": "churn", "after": "x"}, 422, 'Unexpected inputs provided: ["after"]'),
    ("modelbot.yml", {"stage": "staging"}, 422, "Required input 'model' not provided"),
    ("modelbot.yml", {"model": "churn"}, 204, None),
])
def test_a_dispatch_github_would_refuse_is_refused_and_starts_nothing(
        localhub: RunningHub, workflow: str, inputs: dict[str, str], status: int, said: str | None) -> None:
    hub = localhub.hub
    hub.add_user("alice", role="write")
    hub.as_user("alice").push("main", {".github/workflows/modelbot.yml": DISPATCHED,
                                       ".github/workflows/on-push.yml": "on: [push]\njobs: {}\n"}, "workflows")
    start = len(hub.deliveries)
    got, _, answer = localhub.request("POST", f"/repos/acme/models/actions/workflows/{workflow}/dispatches",
                                      "alice", {"ref": "main", "inputs": inputs})
    assert got == status and (said is None or answer["message"] == said)
    assert [d.event for d in hub.deliveries[start:]] == (["workflow_dispatch"] if status == 204 else [])
