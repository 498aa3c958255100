"""localhub refuses request bodies GitHub's schemas do not admit (422 "Invalid request.", in every mode), and a
strict hub records, and writes to stderr, every answer or webhook of its own that GitHub would not produce,
while sending the answer unchanged."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest
from github import GithubException

import localhub
from localhub.conformance.recorder import Conformance, ConformanceError
from localhub.hub import ACTIONS_BOT, Delivery
from localhub.rest.render import issues as render_issues
from tests.support.localhub import RunningHub


@pytest.fixture
def hub(localhub_factory: Callable[..., RunningHub]) -> RunningHub:
    running = localhub_factory(files={"README.md": "# models\n"})
    running.hub.add_user("alice", role="write")
    running.hub.add_user("bob", role="maintain")
    return running


def _pull(hub: RunningHub) -> int:
    hub.hub.as_user("alice").push("p", {"a.txt": "a\n"}, "a")
    return hub.hub.as_user("alice").open_pull("p", "main", "P")


def test_a_check_run_with_an_unknown_conclusion_is_refused_with_githubs_422(hub: RunningHub) -> None:
    sha = hub.hub.git.resolve_commit("refs/heads/main")
    status, _, answer = hub.request("POST", "/repos/acme/models/check-runs", ACTIONS_BOT,
                                    {"name": "modelbot/validation", "head_sha": sha, "status": "completed",
                                     "conclusion": "great"})
    assert status == 422
    message = answer["message"]
    assert message.startswith("Invalid request.\n\n")
    assert "For 'properties/conclusion', \"great\" is not a member of [\"action_required\", " in message
    assert answer["documentation_url"] == "https://docs.github.com/rest/reference/checks#create-a-check-run"
    _, _, runs = hub.request("GET", f"/repos/acme/models/commits/{sha}/check-runs", ACTIONS_BOT)
    assert runs["total_count"] == 0
    status, _, _ = hub.request("POST", "/repos/acme/models/check-runs", ACTIONS_BOT,
                               {"name": "modelbot/validation", "head_sha": sha, "status": "completed",
                                "conclusion": "success"})
    assert status == 201


def test_a_comment_without_body_says_body_was_not_supplied_and_changes_nothing(hub: RunningHub) -> None:
    number = hub.hub.as_user("alice").open_issue("an issue")
    delivered = len(hub.hub.deliveries)
    status, _, answer = hub.request("POST", f"/repos/acme/models/issues/{number}/comments", "alice", {"bdy": "hi"})
    assert (status, answer["message"]) == (422, "Invalid request.\n\n\"body\" wasn't supplied.")
    assert answer["documentation_url"] == "https://docs.github.com/rest/issues/comments#create-an-issue-comment"
    status, _, answer = hub.request("POST", f"/repos/acme/models/issues/{number}/comments", "alice", ["hi"])
    assert (status, answer["message"]) == (422, 'Invalid request.\n\nFor the request body, ["hi"] is not an object.')
    status, _, answer = hub.request("POST", f"/repos/acme/models/issues/{number}/comments", "alice", {"body": 7})
    assert (status, answer["message"]) == (422, "Invalid request.\n\nFor 'properties/body', 7 is not a string.")
    assert hub.request("GET", f"/repos/acme/models/issues/{number}/comments", "alice")[2] == []
    assert len(hub.hub.deliveries) == delivered  # no webhook for a refused write


def test_a_merge_with_an_unknown_method_is_refused_and_pygithub_sees_the_422(hub: RunningHub) -> None:
    number = _pull(hub)
    pull = hub.github("bob").get_repo("acme/models").get_pull(number)
    with pytest.raises(GithubException) as caught:
        pull.merge(merge_method="rebasex")
    assert caught.value.status == 422
    assert caught.value.data["message"] == (
        "Invalid request.\n\nFor 'properties/merge_method', \"rebasex\" is not a member of "
        '["merge", "squash", "rebase"].'
    )
    assert not hub.github("bob").get_repo("acme/models").get_pull(number).merged
    assert pull.merge(merge_method="squash").merged


def test_labels_as_a_bare_array_are_accepted_as_githubs_description_says(hub: RunningHub) -> None:
    number = hub.hub.as_user("alice").open_issue("an issue")
    issue = hub.github("alice").get_repo("acme/models").get_issue(number)
    issue.add_to_labels("promotion", "stage:staging")  # PyGithub sends ["promotion", "stage:staging"]
    labels = hub.github("alice").get_repo("acme/models").get_issue(number).labels
    assert sorted(label.name for label in labels) == ["promotion", "stage:staging"]
    status, _, answer = hub.request("POST", f"/repos/acme/models/issues/{number}/labels", "alice", {"labels": []})
    assert (status, answer["message"]) == (422, 'Invalid request.\n\nNo subschema in "oneOf" matched. '
                                         "For 'properties/labels', [] should be non-empty.")


def _seed(tmp_path: Path) -> Path:
    seed = tmp_path / "seed"
    seed.mkdir()
    (seed / "README.md").write_text("# models\n")
    return seed


def test_a_hub_that_is_not_strict_refuses_bad_bodies_too_and_checks_nothing_else(tmp_path: Path) -> None:
    server = localhub.start(tmp_path / "hub", seed=_seed(tmp_path))
    try:
        running = RunningHub(server)
        server.hub.add_user("alice", role="write")
        number = server.hub.as_user("alice").open_issue("an issue")
        status, _, answer = running.request("POST", f"/repos/acme/models/issues/{number}/comments", "alice", {})
        assert (status, answer["message"]) == (422, "Invalid request.\n\n\"body\" wasn't supplied.")
        assert (server.conformance.checked_responses, server.conformance.checked_webhooks) == (0, 0)
    finally:
        server.stop()


def test_a_strict_hub_records_an_answer_and_a_webhook_outside_the_schemas(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    server = localhub.start(tmp_path / "hub", seed=_seed(tmp_path), strict=True)
    try:
        running = RunningHub(server)
        server.hub.add_user("alice", role="write")
        number = server.hub.as_user("alice").open_issue("an issue")
        path = f"/repos/acme/models/issues/{number}/comments"
        assert running.request("POST", path, "alice", {"body": "fine"})[0] == 201
        assert server.conformance.problems == [] and server.conformance.checked_responses == 1
        server.conformance.assert_none()

        real = render_issues.comment

        def without_node_id(*args: Any) -> dict[str, Any]:
            return {k: v for k, v in real(*args).items() if k != "node_id"}

        monkeypatch.setattr(render_issues, "comment", without_node_id)
        status, _, answer = running.request("POST", path, "alice", {"body": "broken"})
    finally:
        server.stop()
    assert status == 201 and answer["body"] == "broken" and "node_id" not in answer  # sent as it was
    assert server.conformance.problems == [
        "issue-comment-created comment: 'node_id' is a required property",
        "issues/create-comment 201 <root>: 'node_id' is a required property",
    ]
    assert (server.conformance.checked_responses, server.conformance.checked_webhooks) == (2, 2)
    err = capsys.readouterr().err
    assert "localhub --strict: issues/create-comment 201 <root>: 'node_id' is a required property" in err
    with pytest.raises(ConformanceError, match=r"2 problems\):\nissue-comment-created comment: 'node_id'"):
        server.conformance.assert_none()


def test_every_missing_field_is_named_in_one_line(hub: RunningHub) -> None:
    status, _, answer = hub.request("POST", "/repos/acme/models/git/refs", "alice", {})
    assert (status, answer["message"]) == (422, "Invalid request.\n\n\"ref\", \"sha\" weren't supplied.")
    assert answer["documentation_url"] == "https://docs.github.com/rest/git/refs#create-a-reference"


def test_an_event_github_does_not_describe_is_recorded_and_reported_not_raised() -> None:
    reported: list[str] = []
    conformance = Conformance("http://127.0.0.1:1", report=reported.append)
    conformance.check_webhook(Delivery(1, "issues", {"action": "opened"}, "alice"))
    assert conformance.problems == reported == ["issues-opened: not an event in webhooks.json x-webhooks"]
    assert conformance.checked_webhooks == 1
