"""Crash consistency (issue 20): a bot run killed right after its k-th API request, then re-run as GitHub's
"Re-run job" does (the same event, a fresh run), ends where an uninterrupted run ends.

The killed run is a job of its own (tests.support.jobs): localhub applies its k-th request, then SIGKILLs it and
everything it started (localhub.faults.JobKill). The story then goes on as it would on GitHub: the re-run,
the approvals of the ML lead and risk (each review a run of its own), the merge under branch protection. Its end
state (pull requests, bot comments by marker, reactions, check runs and statuses by commit, labels, branches,
deployments) is compared with the uninterrupted story's.
"""

from __future__ import annotations

from collections import Counter
from typing import Any

import pytest

from bot.flows.commands import handle_comment
from bot.flows.validate_pr import refresh_approvals
from bot.github.client import GitHubForge
from bot.github.config import GitHubConfig
from bot.github.markers import markers_in
from localhub.hub import ACTIONS_BOT
from tests.flows.conftest import WEDNESDAY, next_run, seeded_hub
from tests.flows.test_commands import comment
from tests.support.baselines import baseline
from tests.support.crash_states import commit_names, named
from tests.support.handler_runs import command, last_delivery, run_validations
from tests.support.jobs import run_job
from tests.support.ticks import next_tick

PROMOTE = "/promote diabetes-progression 1 to production"
BRANCH = "modelbot/promote/diabetes-progression/production"
OPEN_PULL = "POST /repos/acme/models/pulls"
REQUESTS = 16  # API requests of an uninterrupted `/promote` run (measured by the first test)
REVIEW_REQUESTS = 5  # and of the run for the review that completes the approvals


def _hub(localhub_factory: Any, tmp_path: Any) -> Any:
    """The `hub` fixture's repository and people, for a second, independent story."""
    return seeded_hub(localhub_factory, tmp_path)


def end_state(running: Any) -> dict[str, Any]:
    """What GitHub shows at the end, with commits named by what they are (the bot's commits carry the time
    they were made, so their ids differ from one story to another)."""
    state = running.hub.state
    names = commit_names(running)
    issues = sorted(
        (i.number, "pull" if i.pull else "issue", i.title, i.state, tuple(sorted(i.labels)),
         (i.pull.head_ref, i.pull.merged) if i.pull else None)
        for i in state.issues.values()
    )
    def text(body: str | None) -> str:
        # The one wording a re-run may not share: it finds the pull request its killed run opened.
        return named(body, names).replace("Already open, unchanged: #", "Opened #")

    comments = Counter((c.issue_number, c.user, *markers_in(c.body)) for c in state.comments.values())
    bodies = {(c.issue_number, *markers_in(c.body)): text(c.body) for c in state.comments.values()
              if c.user == ACTIONS_BOT}
    reactions = Counter((c.issue_number, r.user, r.content) for c in state.comments.values() for r in c.reactions)
    checks = Counter((names.get(r.head_sha, r.head_sha), r.name, r.status, r.conclusion, r.creator,
                      r.output.get("title"), text(r.output.get("summary"))) for r in state.check_runs.values())
    statuses = Counter((names.get(s.sha, s.sha), s.context, s.state, s.creator) for s in state.statuses)
    dispatches = Counter((d.payload["workflow"], tuple(sorted((k, names.get(v, v))
                                                              for k, v in d.payload["inputs"].items())))
                         for d in running.hub.deliveries if d.event == "workflow_dispatch")
    deployments = Counter((names.get(d.sha, d.sha), d.environment, tuple(s.state for s in d.statuses))
                          for d in state.deployments.values())
    return {
        "issues": issues,
        "bot comments": sorted(Counter({k: v for k, v in comments.items() if k[1] == ACTIONS_BOT}).items()),
        "bot comment bodies": sorted(bodies.items()),
        "reactions": sorted(reactions.items()),
        "check runs": sorted(checks.items(), key=repr),
        "statuses": sorted(statuses.items(), key=repr),
        "deployments": sorted(deployments.items(), key=repr),
        "workflow dispatches": sorted(dispatches.items()),
        "labels": sorted(state.labels),
        "branches": sorted(running.hub.git.refs("refs/heads/")),
    }


def review_run(ctx: Any, pull: Any) -> Any:
    """The review workflow's run: the approval state again (and a merge where the policy allows one)."""
    return refresh_approvals(ctx, pull, ["models.yaml"])


def story(running: Any, tmp_path: Any, store: Any, kill_after: int | None,
          kill_review_after: int | None = None) -> tuple[list[dict[str, Any]], dict[str, int]]:
    """The promotion as a team lives it; the command's first run killed after `kill_after` requests (then
    re-run), or not; the last review's run likewise after `kill_review_after`. Returns the states after the
    command and at the end, and the requests of the command's first run and of the last review's first run."""
    running.hub.protect_branch("main", ["modelbot/validation", "modelbot/approvals"])
    as_person = GitHubForge(GitHubConfig(running.url, "acme/models", running.hub.token_for("pat-platform")))
    event = comment(running, "dana-ds", PROMOTE)
    start = running.log.mark()
    if kill_after is None and kill_review_after is not None:
        # the story up to the review being killed: the command's run, uninterrupted, as the baseline's job ran
        # it (the same requests as the same bot; the killed command's re-runs are run so too)
        first = None
        assert handle_comment(next_run(running, tmp_path), event).outcome == "done"
    else:
        first = run_job(running, tmp_path / "job", handle_comment, event, now=WEDNESDAY, env=store.env(),
                        kill_after=kill_after)
    requests = {"command": len([r for r in running.log.since(start) if r.user == ACTIONS_BOT])}
    if kill_after is not None:
        assert first is not None and first.killed and requests["command"] == kill_after, (first, requests)
        assert handle_comment(next_run(running, tmp_path), event).outcome == "done"  # "Re-run job"
    elif first is not None:
        assert first.outcome == "done", first
    after_command = end_state(running)
    number = as_person.open_pull_for(BRANCH).number
    for reviewer in ("lena-ml", "rita-risk"):
        running.hub.as_user(reviewer).review(number, "APPROVE")
        payload = as_person.pull_request(number)  # the pull request as the review event carries it
        if reviewer == "rita-risk" and kill_review_after is not None:
            start = running.log.mark()
            killed = run_job(running, tmp_path / "review-job", review_run, payload,
                             now=WEDNESDAY, env=store.env(), kill_after=kill_review_after)
            requests["review"] = len([r for r in running.log.since(start) if r.user == ACTIONS_BOT])
            assert killed.killed and requests["review"] == kill_review_after, (killed, requests)
        start = running.log.mark()
        review_run(next_run(running, tmp_path), payload)
        if reviewer == "rita-risk":
            requests.setdefault("review", len([r for r in running.log.since(start) if r.user == ACTIONS_BOT]))
    try:
        running.hub.as_user("pat-platform").merge(number)
    except Exception as exc:  # the end state says it was not merged
        print(f"merge refused: {exc}")
    return [after_command, end_state(running)], requests


def uninterrupted(localhub_factory: Any, tmp_path: Any, store: Any) -> dict[str, Any]:
    def tell() -> dict[str, Any]:
        state, requests = story(_hub(localhub_factory, tmp_path / "baseline"), tmp_path / "baseline", store, None)
        return {"state": state, "requests": requests["command"], "review_requests": requests["review"]}

    return baseline(f"{__name__}:promote", tell)


def test_an_uninterrupted_promote_makes_the_requests_the_kill_points_cover(localhub_factory, tmp_path, diabetes_v1):
    store, _ = diabetes_v1
    found = uninterrupted(localhub_factory, tmp_path, store)
    assert (found["requests"], found["review_requests"]) == (REQUESTS, REVIEW_REQUESTS)
    state = found["state"][1]
    assert [i[2:5] for i in state["issues"] if i[1] == "pull"] == [
        ("Promote diabetes-progression 1 to production", "closed",
         ("model:diabetes-progression", "promotion", "stage:production"))]
    assert ("head of #2", "modelbot/validation", "completed", "success") in [c[0][:4] for c in state["check runs"]]


@pytest.mark.slow
@pytest.mark.parametrize("k", range(1, REQUESTS + 1))
def test_a_promote_killed_after_each_request_then_re_run_ends_as_an_uninterrupted_one(
    localhub_factory, hub, tmp_path, diabetes_v1, k
):
    store, _ = diabetes_v1
    expected = uninterrupted(localhub_factory, tmp_path, store)["state"]
    got, _ = story(hub, tmp_path, store, k)
    assert_same(got[0], expected[0], "after the re-run of the command")
    assert_same(got[1], expected[1], "at the end of the story")


def assert_same(got: dict[str, Any], expected: dict[str, Any], when: str) -> None:
    import difflib
    import pprint

    diffs = [
        f"{key}:\n" + "\n".join(difflib.unified_diff(pprint.pformat(expected[key], width=160).splitlines(),
                                                      pprint.pformat(got[key], width=160).splitlines(),
                                                      "uninterrupted", "killed and re-run", lineterm="", n=1))
        for key in expected if got.get(key) != expected[key]
    ]
    assert not diffs, f"{when}, unlike an uninterrupted run:\n" + "\n".join(diffs)


def test_a_promote_killed_before_labelling_then_delivered_again_labels_and_validates_the_pr(
    hub, tmp_path, diabetes_v1
):
    """A new delivery of the event (a new run, so a new run URL in the PR body: the PR is "updated", not
    "unchanged") after a run killed between opening the PR (request 9) and labelling it (request 10)."""
    from dataclasses import replace

    store, _ = diabetes_v1
    event = comment(hub, "dana-ds", PROMOTE)
    assert run_job(hub, tmp_path / "job", handle_comment, event, now=WEDNESDAY, env=store.env(), kill_after=9).killed
    pull = hub.hub.state.issues[2]
    assert pull.pull is not None and pull.labels == []
    again = next_run(hub, tmp_path)
    again = replace(again, run_url=again.run_url.replace("/runs/1", "/runs/2"))
    reply = handle_comment(again, event)
    assert reply.outcome == "done" and "Updated #2" in reply.text and "Validation passed" in reply.text, reply.text
    assert sorted(pull.labels) == ["model:diabetes-progression", "promotion", "stage:production"]
    state = end_state(hub)
    assert [c[0][1:4] for c in state["check runs"]] == [
        ("modelbot/approvals", "in_progress", None), ("modelbot/validation", "completed", "success")]
    assert [k[2] for k, n in state["bot comments"] if n == 1] == [
        "<!-- modelbot:command:1015:reply -->", "<!-- modelbot:diabetes-progression:production:approvals -->",
        "<!-- modelbot:diabetes-progression:production:report -->"]


@pytest.mark.slow
@pytest.mark.parametrize("k", range(1, REVIEW_REQUESTS + 1))
def test_the_review_run_killed_after_each_request_then_re_run_ends_as_an_uninterrupted_one(
    localhub_factory, hub, tmp_path, diabetes_v1, k
):
    store, _ = diabetes_v1
    expected = uninterrupted(localhub_factory, tmp_path, store)["state"]
    got, _ = story(hub, tmp_path, store, None, kill_review_after=k)
    assert_same(got[1], expected[1], "at the end of the story")


ROLLBACK_REVIEW_REQUESTS = 8  # the on-call review's run that merges the rollback and dispatches its deploy


def rollback_story(running: Any, tmp_path: Any, store: Any, kill_after: int | None) -> tuple[dict[str, Any], int]:
    """diabetes-progression 1 promoted and merged, `/rollback` opened; on-call approves and the review's run
    merges the rollback and dispatches the deploy: that run killed after `kill_after` requests, then re-run
    with the same event."""
    from tests.flows.test_automerge import open_rollback

    number = open_rollback(running, tmp_path)
    running.hub.as_user("omar-oncall").review(number, "APPROVE")
    as_person = GitHubForge(GitHubConfig(running.url, "acme/models", running.hub.token_for("pat-platform")))
    payload = as_person.pull_request(number)
    start = running.log.mark()
    job = run_job(running, tmp_path / "review-job", review_run, payload, now=WEDNESDAY, env=store.env(),
                  kill_after=kill_after)
    requests = len([r for r in running.log.since(start) if r.user == ACTIONS_BOT])
    if kill_after is not None:
        assert job.killed and requests == kill_after, (job, requests)
        review_run(next_run(running, tmp_path), payload)  # "Re-run job": the same event
    return end_state(running), requests


def uninterrupted_rollback_review(localhub_factory: Any, tmp_path: Any, store: Any) -> dict[str, Any]:
    def tell() -> dict[str, Any]:
        state, requests = rollback_story(_hub(localhub_factory, tmp_path / "rb"), tmp_path / "rb", store, None)
        return {"state": state, "requests": requests}

    return baseline(f"{__name__}:rollback review", tell)


def test_an_uninterrupted_rollback_review_run_makes_the_requests_the_kill_points_cover(
    localhub_factory, tmp_path, diabetes_v1
):
    found = uninterrupted_rollback_review(localhub_factory, tmp_path, diabetes_v1[0])
    assert found["requests"] == ROLLBACK_REVIEW_REQUESTS
    assert len(found["state"]["workflow dispatches"]) == 1


@pytest.mark.slow
@pytest.mark.parametrize("k", range(1, ROLLBACK_REVIEW_REQUESTS + 1))
def test_a_rollback_review_run_killed_after_each_request_then_re_run_merges_and_deploys_once(
    localhub_factory, hub, tmp_path, diabetes_v1, k
):
    expected = uninterrupted_rollback_review(localhub_factory, tmp_path, diabetes_v1[0])["state"]
    got, _ = rollback_story(hub, tmp_path, diabetes_v1[0], k)
    assert_same(got, expected, "after the re-run of the review")


ROLLBACK_COMMAND_REQUESTS = 15  # API requests of an uninterrupted `/rollback` run (measured by the test below)
COMMAND_REPLY = "<!-- modelbot:command:"


def rollback_command_story(running: Any, tmp_path: Any, store: Any, kill_after: int | None, then: str = "re-run"
                           ) -> tuple[dict[str, Any], list[str]]:
    """diabetes-progression 1 promoted and merged; `/rollback diabetes-progression` by the ML lead, its run (the
    comment workflow's: validating by dispatch) killed after `kill_after` requests and re-run, or not, or
    (`then="tick"`) left to the next schedule's sweep; the validation dispatched runs; then on-call approves and
    the review's run merges the rollback itself and dispatches its deploy."""
    promote = comment(running, "dana-ds", PROMOTE)
    assert handle_comment(next_run(running, tmp_path), promote).outcome == "done"
    number = running.hub.state.issues[2].number
    for reviewer in ("lena-ml", "rita-risk"):
        running.hub.as_user(reviewer).review(number, "APPROVE")
    running.hub.as_user("pat-platform").merge(number)
    event = comment(running, "lena-ml", "/rollback diabetes-progression")
    mark, since = running.log.mark(), last_delivery(running)
    job = run_job(running, tmp_path / "rollback-job", command, event, now=WEDNESDAY, env=store.env(),
                  kill_after=kill_after)
    requests = [f"{r.method} {r.path}" for r in running.log.since(mark) if r.user == ACTIONS_BOT]
    if kill_after is not None:
        assert job.killed and len(requests) == kill_after, (job, requests)
    if then == "tick":
        next_tick(running, lambda: next_run(running, tmp_path), since)
    else:
        if kill_after is not None:
            assert command(next_run(running, tmp_path), event).outcome == "done"  # "Re-run job"
        assert run_validations(running, lambda: next_run(running, tmp_path), since) == ["success"]
    as_person = GitHubForge(GitHubConfig(running.url, "acme/models", running.hub.token_for("pat-platform")))
    revert = next((i.number for i in running.hub.state.issues.values() if i.title.startswith("Revert")), None)
    if revert is not None:
        running.hub.as_user("omar-oncall").review(revert, "APPROVE")
        review_run(next_run(running, tmp_path), as_person.pull_request(revert))
    return end_state(running), requests


def uninterrupted_rollback_command(localhub_factory: Any, tmp_path: Any, store: Any) -> dict[str, Any]:
    def tell() -> dict[str, Any]:
        where = tmp_path / "rc"
        state, requests = rollback_command_story(_hub(localhub_factory, where), where, store, None)
        return {"state": state, "requests": len(requests), "opens": requests.index(OPEN_PULL) + 1}

    return baseline(f"{__name__}:rollback command", tell)


@pytest.mark.slow
def test_an_uninterrupted_rollback_command_makes_the_requests_the_kill_points_cover(
    localhub_factory, tmp_path, diabetes_v1
):
    found = uninterrupted_rollback_command(localhub_factory, tmp_path, diabetes_v1[0])
    assert found["requests"] == ROLLBACK_COMMAND_REQUESTS
    state = found["state"]
    assert [i[2:5] for i in state["issues"] if i[2].startswith("Revert")] == [
        ('Revert "Promote diabetes-progression 1 to production"', "closed", ("rollback",))]
    assert [d[0] for d, _ in state["workflow dispatches"]] == [
        ".github/workflows/modelbot-deploy.yml", ".github/workflows/modelbot-pull-request.yml"]
    [validation] = [c[0] for c in state["check runs"] if c[0][:2] == ("head of #4", "modelbot/validation")]
    assert validation[3] == "success" and '"actors":["lena-ml"]' in validation[6], validation


@pytest.mark.slow
@pytest.mark.parametrize("k", range(1, ROLLBACK_COMMAND_REQUESTS + 1))
def test_a_rollback_command_killed_after_each_request_then_re_run_ends_as_an_uninterrupted_one(
    localhub_factory, hub, tmp_path, diabetes_v1, k
):
    expected = uninterrupted_rollback_command(localhub_factory, tmp_path, diabetes_v1[0])["state"]
    got, _ = rollback_command_story(hub, tmp_path, diabetes_v1[0], k)
    assert_same(got, expected, "after the re-run of /rollback and the review")


@pytest.mark.slow
@pytest.mark.parametrize("k", range(1, ROLLBACK_COMMAND_REQUESTS + 1))
def test_a_rollback_command_killed_after_each_request_is_finished_by_the_next_schedule_once_its_pull_request_opened(
    localhub_factory, hub, tmp_path, diabetes_v1, k
):
    """Who asked (whose approval must not count) and the label come from the record on the revert's head; only
    the command's reply is the command run's alone (a tick answers nobody)."""
    found = uninterrupted_rollback_command(localhub_factory, tmp_path, diabetes_v1[0])
    got, _ = rollback_command_story(hub, tmp_path, diabetes_v1[0], k, then="tick")
    if k >= found["opens"]:
        assert_same(without_reply(got), without_reply(found["state"]), "after the next schedule's sweep and the review")
    else:  # killed before the revert opened: nothing any later run could see, and nothing half-done
        assert [i[2] for i in got["issues"] if i[2].startswith("Revert")] == [], got["issues"]


def without_reply(state: dict[str, Any]) -> dict[str, Any]:
    """`state` without the command's reply to /rollback."""
    return {
        **state,
        "bot comments": [(k, n) for k, n in state["bot comments"] if not k[2].startswith(COMMAND_REPLY)],
        "bot comment bodies": [(k, b) for k, b in state["bot comment bodies"] if not k[1].startswith(COMMAND_REPLY)],
    }
