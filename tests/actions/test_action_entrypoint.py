"""`modelbot action`: GitHub's own example payloads, and the variants the bot meets most (a comment on a
pull request, a merged pull request, an approving review) built from them and validated against
webhooks.json, routed to their handlers; unknown events ignored in one line; missing fields named."""

from __future__ import annotations

import copy
import json
import os
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest

from bot.actions import run
from bot.actions.events import CommentEvent, PayloadError, PullRequestEvent, ReviewEvent, parse
from bot.actions.runtime import Runtime, write_outputs
from bot.routing import COMMANDS, EVENTS, TASKS, event_handler, load
from localhub.actions.outputs import read_outputs
from tests.support.github_schemas import SHARED, webhook_problems

EXAMPLES = SHARED / "webhook-examples"


def _example(relative: str) -> dict[str, Any]:
    return json.loads((EXAMPLES / relative).read_text(encoding="utf-8"))


def _modernise(payload: dict[str, Any]) -> dict[str, Any]:
    """Add the repository fields GitHub's schemas now require and the 2019 examples predate."""

    def fix(repo: Any) -> None:
        if isinstance(repo, dict) and "full_name" in repo:
            repo.setdefault("has_discussions", False)
            repo.setdefault("disabled", False)

    fix(payload.get("repository"))
    for end in ("head", "base"):
        fix(payload.get("pull_request", {}).get(end, {}).get("repo"))
    return payload


def comment_on_pull_request() -> dict[str, Any]:
    payload = _modernise(copy.deepcopy(_example("issue_comment/created.payload.json")))
    number = payload["issue"]["number"]
    html = payload["repository"]["html_url"]
    api = payload["repository"]["url"]
    payload["issue"]["pull_request"] = {
        "url": f"{api}/pulls/{number}",
        "html_url": f"{html}/pull/{number}",
        "diff_url": f"{html}/pull/{number}.diff",
        "patch_url": f"{html}/pull/{number}.patch",
        "merged_at": None,
    }
    payload["comment"]["body"] = "/promote churn 7 to staging"
    return payload


def merged_pull_request() -> dict[str, Any]:
    payload = _modernise(copy.deepcopy(_example("pull_request/closed.payload.json")))
    pull = payload["pull_request"]
    pull.update(
        merged=True, merged_at=pull["closed_at"], merge_commit_sha="c" * 40, merged_by=copy.deepcopy(payload["sender"])
    )
    return payload


def approving_review() -> dict[str, Any]:
    payload = _modernise(copy.deepcopy(_example("pull_request_review/submitted.payload.json")))
    payload["review"]["state"] = "approved"
    payload["review"]["commit_id"] = payload["pull_request"]["head"]["sha"]
    return payload


VARIANTS = {
    "issue_comment": comment_on_pull_request,
    "pull_request": merged_pull_request,
    "pull_request_review": approving_review,
}


@pytest.mark.parametrize("event", sorted(VARIANTS))
def test_built_variants_validate_against_githubs_schemas(event: str) -> None:
    assert webhook_problems(event, VARIANTS[event]()) == []


def test_the_variants_parse_into_what_handlers_need() -> None:
    comment = parse("issue_comment", comment_on_pull_request())
    assert isinstance(comment, CommentEvent) and comment.is_pull_request
    assert (comment.body, comment.author) == ("/promote churn 7 to staging", "Codertocat")
    merged = parse("pull_request", merged_pull_request())
    assert isinstance(merged, PullRequestEvent) and merged.merged and merged.merge_commit_sha == "c" * 40
    review = parse("pull_request_review", approving_review())
    assert isinstance(review, ReviewEvent) and review.state == "approved" and review.commit_id == review.head_sha
    plain = parse("issue_comment", _example("issue_comment/created.payload.json"))
    assert isinstance(plain, CommentEvent) and not plain.is_pull_request


# The entrypoint's mechanics (routing, outputs, summary) with every route on the facts-only handler; the
# promotion handlers themselves are tested against localhub in tests/flows and tests/actions/test_promotion.py.
FACTS = {key: "bot.actions.handlers:acknowledge" for key in EVENTS}

STOCK = sorted(str(p.relative_to(EXAMPLES)) for p in EXAMPLES.glob("*/*.json"))


@pytest.mark.parametrize("relative", STOCK)
def test_every_stock_example_is_routed_and_its_facts_output(relative: str, tmp_path: Path) -> None:
    event = relative.split("/")[0]
    payload = _example(relative)
    result = _dispatch(tmp_path, event, payload)
    action = payload.get("action")
    assert result.handled is (event_handler(event, action, FACTS) is not None)
    if result.handled:
        outputs = read_outputs((tmp_path / "output").read_text())
        assert outputs["event"] == event and outputs["sender"] == payload["sender"]["login"]
        assert outputs["repository"] == payload["repository"]["full_name"]
        assert f"`{event}" in (tmp_path / "summary").read_text()


def test_stock_examples_validate_as_the_readme_says_about_half() -> None:
    valid = [r for r in STOCK if not webhook_problems(r.split("/")[0], _example(r))]
    assert 0 < len(valid) < len(STOCK)
    assert all(not webhook_problems(r.split("/")[0], _modernise(_example(r))) for r in STOCK)


def _dispatch(tmp_path: Path, event: str, payload: dict[str, Any]) -> Any:
    path = tmp_path / "event.json"
    path.write_text(json.dumps(payload))
    env = {
        "GITHUB_EVENT_NAME": event,
        "GITHUB_EVENT_PATH": str(path),
        "GITHUB_OUTPUT": str(tmp_path / "output"),
        "GITHUB_STEP_SUMMARY": str(tmp_path / "summary"),
    }

    def no_forge() -> Any:
        raise AssertionError("a placeholder handler must not reach GitHub")

    return run(Runtime.from_env(env), forge_factory=no_forge, events=FACTS)


@pytest.mark.parametrize(
    ("event", "payload"),
    [
        ("issues", {"action": "opened"}),
        ("pull_request", {"action": "assigned"}),
        ("issue_comment", {"action": "deleted"}),
        ("check_suite", {"action": "completed"}),
    ],
)
def test_unknown_events_and_actions_are_ignored_in_one_line(
    tmp_path: Path, event: str, payload: dict[str, Any]
) -> None:
    result = _dispatch(tmp_path, event, payload)
    assert not result.handled and "\n" not in result.message
    assert result.message == f"modelbot: ignoring {event}.{payload['action']} (no handler)"
    assert not (tmp_path / "output").exists()


@pytest.mark.parametrize(
    ("event", "mutate", "field"),
    [
        ("issue_comment", lambda p: p["comment"].pop("id"), "comment.id"),
        ("issue_comment", lambda p: p["issue"].pop("number"), "issue.number"),
        ("pull_request", lambda p: p["pull_request"]["head"].pop("sha"), "pull_request.head.sha"),
        ("pull_request_review", lambda p: p["review"]["user"].pop("login"), "review.user.login"),
        ("pull_request", lambda p: p.pop("sender"), "sender.login"),
    ],
)
def test_a_missing_field_is_named(event: str, mutate: Any, field: str) -> None:
    payload = VARIANTS[event]()
    mutate(payload)
    with pytest.raises(PayloadError, match=rf"{event} payload: missing field {field}$"):
        parse(event, payload)


def test_a_mistyped_field_is_named() -> None:
    payload = comment_on_pull_request()
    payload["issue"]["number"] = "7"
    with pytest.raises(PayloadError, match=r"field issue\.number should be int, not str"):
        parse("issue_comment", payload)


def test_outputs_survive_newlines_the_way_the_runner_reads_them(tmp_path: Path) -> None:
    path = tmp_path / "out"
    write_outputs(str(path), {"plain": "a=b", "report": "line 1\nline 2\n=ghadelimiter"})
    write_outputs(str(path), {"plain": "second"})
    assert read_outputs(path.read_text()) == {"plain": "second", "report": "line 1\nline 2\n=ghadelimiter"}


def test_every_route_task_and_command_names_a_handler_that_exists() -> None:
    from bot.chatops import USAGE

    for target in {*EVENTS.values(), *TASKS.values(), *COMMANDS.values()}:
        assert callable(load(target)), target
    assert set(COMMANDS) == set(USAGE)  # every verb the grammar knows has a handler, and no other


def _cli(tmp_path: Path, env: dict[str, str], *args: str) -> subprocess.CompletedProcess[str]:
    base = {k: v for k, v in os.environ.items() if not k.startswith("GITHUB_")}
    return subprocess.run(
        [sys.executable, "-m", "bot", "action", *args],
        capture_output=True,
        text=True,
        env={**base, **env},
        cwd=tmp_path,
    )


def test_the_cli_entrypoint_writes_outputs_and_summary(tmp_path: Path) -> None:
    path = tmp_path / "event.json"
    path.write_text(json.dumps(_example("deployment/payload.json")))
    env = {
        "GITHUB_EVENT_NAME": "deployment",
        "GITHUB_EVENT_PATH": str(path),
        "GITHUB_OUTPUT": str(tmp_path / "out"),
        "GITHUB_STEP_SUMMARY": str(tmp_path / "summary"),
    }
    done = _cli(tmp_path, env, "--json")
    assert done.returncode == 0, done.stderr
    assert json.loads(done.stdout)["outputs"]["event"] == "deployment"
    assert read_outputs((tmp_path / "out").read_text())["handled"] == "true"


def test_the_cli_fails_naming_the_missing_field_or_variable(tmp_path: Path) -> None:
    payload = comment_on_pull_request()
    del payload["comment"]["user"]
    (tmp_path / "event.json").write_text(json.dumps(payload))
    env = {"GITHUB_EVENT_NAME": "issue_comment", "GITHUB_EVENT_PATH": str(tmp_path / "event.json")}
    done = _cli(tmp_path, env)
    assert done.returncode == 1
    assert "issue_comment payload: missing field comment.user.login" in done.stderr
    assert "Traceback" not in done.stderr
    unset = _cli(tmp_path, {})
    assert unset.returncode == 2 and "GITHUB_EVENT_NAME is not set" in unset.stderr
