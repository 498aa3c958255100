"""Crash consistency of `/promote` as Actions runs it (issue 20): the comment workflow's job holds a write token
and never loads a model (`validate-by: dispatch`), so the command's run opens the promotion pull request, records
who asked on its head, and dispatches the pull request workflow to validate it. That run killed right after each
of its requests and re-run ("Re-run job"), then the validation it dispatched run as Actions would, the ML lead's
and risk's approvals (each review a run) and the merge under branch protection, ends where the uninterrupted
story ends: one promotion pull request, labelled, validated once (one dispatch) with dana-ds recorded as who
asked, one reply, the approvals, the merge, and the validation's records in MLflow.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest

from bot.flows.validate_pr import refresh_approvals
from bot.github.client import GitHubForge
from bot.github.config import GitHubConfig
from localhub.hub import ACTIONS_BOT
from tests.flows.conftest import WEDNESDAY, next_run, seeded_hub
from tests.flows.test_commands import comment
from tests.flows.test_crash_consistency import BRANCH, PROMOTE, assert_same, end_state
from tests.flows.test_crash_pull_request import validations
from tests.support.baselines import baseline
from tests.support.crash_states import commit_names, normalized, pull_bodies
from tests.support.handler_runs import command, last_delivery, run_validations
from tests.support.jobs import run_job

REQUESTS = 12  # API requests of an uninterrupted `/promote` run that dispatches its validation (the first test)


def story(running: Any, tmp_path: Path, store: Any, kill_after: int | None) -> tuple[dict[str, Any], int]:
    """The promotion as a team lives it in Actions; the command's run killed after `kill_after` requests and
    re-run, or not. Returns the end state and the requests of the command's first run."""
    running.hub.protect_branch("main", ["modelbot/validation", "modelbot/approvals"])
    event = comment(running, "dana-ds", PROMOTE)
    mark, since = running.log.mark(), last_delivery(running)
    job = run_job(running, tmp_path / "job", command, event, now=WEDNESDAY, env=store.env(), kill_after=kill_after)
    requests = len([r for r in running.log.since(mark) if r.user == ACTIONS_BOT])
    if kill_after is None:
        assert job.outcome == "done", job
    else:
        assert job.killed and requests == kill_after, (job, requests)
        assert command(next_run(running, tmp_path), event).outcome == "done"  # "Re-run job"
    assert run_validations(running, lambda: next_run(running, tmp_path), since) == ["success"]
    as_person = GitHubForge(GitHubConfig(running.url, "acme/models", running.hub.token_for("pat-platform")))
    number = as_person.open_pull_for(BRANCH).number
    for reviewer in ("lena-ml", "rita-risk"):
        running.hub.as_user(reviewer).review(number, "APPROVE")
        refresh_approvals(next_run(running, tmp_path), as_person.pull_request(number), ["models.yaml"])
    running.hub.as_user("pat-platform").merge(number)
    state = {**end_state(running), "pull bodies": pull_bodies(running), "mlflow": validations(store.tracking_uri)}
    return normalized(state, commit_names(running)), requests


def uninterrupted(localhub_factory: Any, tmp_path: Path, store: Any) -> dict[str, Any]:
    def tell() -> dict[str, Any]:
        where = tmp_path / "baseline"
        state, requests = story(seeded_hub(localhub_factory, where), where, store, None)
        return {"state": state, "requests": requests}

    return baseline(__name__, tell)


@pytest.mark.slow
def test_an_uninterrupted_promote_by_dispatch_makes_the_requests_the_kill_points_cover(
    localhub_factory, tmp_path, diabetes_v1
):
    found = uninterrupted(localhub_factory, tmp_path, diabetes_v1[0])
    assert found["requests"] == REQUESTS
    state = found["state"]
    assert [i[2:6] for i in state["issues"] if i[1] == "pull"] == [
        ("Promote diabetes-progression 1 to production", "closed",
         ("model:diabetes-progression", "promotion", "stage:production"), (BRANCH, True))]
    assert state["workflow dispatches"] == [
        ((".github/workflows/modelbot-pull-request.yml",
          (("head", "head of #2"), ("pull", "2"), ("task", "validate"))), 1)]
    [validation] = [c[0] for c in state["check runs"] if c[0][1] == "modelbot/validation"]
    assert validation[:4] == ("head of #2", "modelbot/validation", "completed", "success")
    assert '"actors":["dana-ds"]' in validation[6], validation
    [body] = [b for k, b in state["bot comment bodies"] if k[1].startswith("<!-- modelbot:command:")]
    assert "\nOpened #2 for `/promote diabetes-progression 1 to production`" in body, body
    assert "Its validation was requested" in body, body


@pytest.mark.slow
@pytest.mark.parametrize("k", range(1, REQUESTS + 1))
def test_a_promote_by_dispatch_killed_after_each_request_then_re_run_ends_as_an_uninterrupted_one(
    localhub_factory, hub, tmp_path, diabetes_v1, k
):
    expected = uninterrupted(localhub_factory, tmp_path, diabetes_v1[0])["state"]
    got, _ = story(hub, tmp_path, diabetes_v1[0], k)
    assert_same(got, expected, "after the re-run of /promote, its validation, the approvals and the merge")
