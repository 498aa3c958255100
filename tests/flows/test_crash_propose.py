"""Crash consistency of `task: propose` (issue 20): the maintenance workflow dispatched by pat-platform to promote
diabetes-progression 1 to production; the bot opens the promotion pull request itself (branch, commit, pull
request, labels) and asks the pull request workflow to validate it. That run killed right after each of its
requests, then re-run ("Re-run job"), and the validation dispatched run as Actions would, ends where an
uninterrupted run ends: one promotion pull request, labelled, validated once with who asked recorded (their
approval does not count), one validation dispatched. Left instead to the next schedule tick an hour later (its
sweep: no re-run), it ends there too once the pull request had opened (the run records who asked and the labels
on the new head before the pull request shows it); killed before, it leaves nothing any run could see or finish.
"""

from __future__ import annotations

from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import pytest

from localhub.hub import ACTIONS_BOT
from tests.flows.conftest import next_run, seeded_hub
from tests.flows.test_crash_consistency import assert_same, end_state
from tests.flows.test_crash_pull_request import validations
from tests.support.baselines import baseline
from tests.support.crash_states import commit_names, normalized, pull_bodies
from tests.support.handler_runs import last_delivery, run_validations, task
from tests.support.jobs import run_job
from tests.support.ticks import next_tick

PROPOSE = {"task": "propose", "model": "diabetes-progression", "version": "1", "stage": "production"}
PROPOSE_REQUESTS = 8  # API requests of an uninterrupted propose run (measured by the first test)


def propose_story(running: Any, tmp_path: Path, store: Any, kill_after: int | None, then: str = "re-run"
                  ) -> tuple[dict[str, Any], list[str]]:
    """The propose run, killed after `kill_after` requests (or not), then re-run or (`then="tick"`) left to
    the next schedule, an hour later: the validations dispatched, run as Actions would in the meantime, then the
    tick's sweep and the validations it dispatched. Returns the end state and the first run's requests."""
    mark, since = running.log.mark(), last_delivery(running)
    job = run_job(running, tmp_path / "propose-job", task, PROPOSE, now=datetime.now(UTC), env=store.env(),
                  kill_after=kill_after)
    requests = [f"{r.method} {r.path}" for r in running.log.since(mark) if r.user == ACTIONS_BOT]
    if kill_after is None:
        assert job.outcome == "requested", job
    else:
        assert job.killed and len(requests) == kill_after, (job, requests)
        if then == "re-run":
            assert task(next_run(running, tmp_path), PROPOSE).outcome == "requested"  # "Re-run job"
    if then == "tick":
        next_tick(running, lambda: next_run(running, tmp_path), since)
    else:
        run_validations(running, lambda: next_run(running, tmp_path), since)
    state = {**end_state(running), "pull bodies": pull_bodies(running), "mlflow": validations(store.tracking_uri)}
    return normalized(state, commit_names(running)), requests


def uninterrupted(localhub_factory: Any, tmp_path: Path, store: Any) -> dict[str, Any]:
    def tell() -> dict[str, Any]:
        where = tmp_path / "baseline"
        state, requests = propose_story(seeded_hub(localhub_factory, where), where, store, None)
        return {"state": state, "requests": len(requests), "opens": requests.index("POST /repos/acme/models/pulls") + 1}

    return baseline(__name__, tell)


@pytest.mark.slow
def test_an_uninterrupted_propose_makes_the_requests_the_kill_points_cover(localhub_factory, tmp_path, diabetes_v1):
    store, _ = diabetes_v1
    found = uninterrupted(localhub_factory, tmp_path, store)
    assert found["requests"] == PROPOSE_REQUESTS
    state = found["state"]
    assert [i[2:5] for i in state["issues"] if i[1] == "pull"] == [
        ("Promote diabetes-progression 1 to production", "open",
         ("model:diabetes-progression", "promotion", "stage:production"))]
    assert state["workflow dispatches"] == [
        ((".github/workflows/modelbot-pull-request.yml",
          (("head", "head of #1"), ("pull", "1"), ("task", "validate"))), 1)]
    [validation] = [c[0] for c in state["check runs"] if c[0][1] == "modelbot/validation"]
    assert validation[3] == "success" and '"actors":["pat-platform"]' in validation[6], validation


@pytest.mark.slow
@pytest.mark.parametrize("k", range(1, PROPOSE_REQUESTS + 1))
def test_a_propose_killed_after_each_request_then_re_run_ends_as_an_uninterrupted_one(
    localhub_factory, hub, tmp_path, diabetes_v1, k
):
    store, _ = diabetes_v1
    expected = uninterrupted(localhub_factory, tmp_path, store)["state"]
    got, _ = propose_story(hub, tmp_path, store, k)
    assert_same(got, expected, "after the re-run of propose and the validation it dispatched")


@pytest.mark.slow
@pytest.mark.parametrize("k", range(1, PROPOSE_REQUESTS + 1))
def test_a_propose_killed_after_each_request_is_finished_by_the_next_schedule_once_its_pull_request_opened(
    localhub_factory, hub, tmp_path, diabetes_v1, k
):
    store, _ = diabetes_v1
    found = uninterrupted(localhub_factory, tmp_path, store)
    got, _ = propose_story(hub, tmp_path, store, k, then="tick")
    if k >= found["opens"]:
        assert_same(got, found["state"], "after the next schedule's sweep and the validation it dispatched")
    else:  # killed before the pull request opened: nothing any later run could see, and nothing half-done
        assert (got["issues"], got["bot comments"], got["workflow dispatches"]) == ([], [], []), got
