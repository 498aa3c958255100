"""Crash consistency of `task: sync` (issue 20): the maintenance run that opens the registration pull request
for MLflow versions models.yaml does not list, killed right after each of its requests and re-run ("Re-run
job"), then the story goes on as in Actions (the validation it dispatched runs, the next schedule's sweep an
hour later): it ends where an uninterrupted run ends, with one registration PR, validated once, and one
validation dispatched.

Left instead to the next schedule tick (its sweep, an hour later: no re-run), it ends there too once the pull
request had opened, labels included: the run records them on the new head before the pull request shows it.
Killed before, it leaves nothing any run could see (the next tick's sync opens it then).

MLflow (diabetes-progression 1 and 2, models.yaml lists 1) is one store for the module: sync only reads it.
"""

from __future__ import annotations

from dataclasses import replace
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest
from sklearn.linear_model import Ridge

from bot.flows.sweep import sweep
from localhub.hub import ACTIONS_BOT
from tests.flows.conftest import next_run, seeded_hub
from tests.flows.test_crash_consistency import assert_same, end_state
from tests.support.baselines import baseline
from tests.support.handler_runs import last_delivery, run_validations, task
from tests.support.jobs import run_job
from tests.support.mlflow_models import MlflowStore, dataset
from tests.support.ticks import next_tick

SYNC_REQUESTS = 10  # API requests of an uninterrupted sync run (measured by the first test)
OPEN_PULL = "POST /repos/acme/models/pulls"


@pytest.fixture(scope="module")
def store(tmp_path_factory: pytest.TempPathFactory) -> MlflowStore:
    store = MlflowStore(tmp_path_factory.mktemp("mlflow-sync"))
    data = dataset("regression")
    for alpha in (1.0, 0.5):
        store.register("diabetes-progression", Ridge(alpha=alpha), data)
    return store


def sync_story(running: Any, tmp_path: Path, store: MlflowStore, kill_after: int | None, then: str = "re-run"
               ) -> tuple[dict[str, Any], list[str]]:
    """The sync run (killed after `kill_after` requests, or not), then re-run and the validation it dispatched
    run, and the sweep of the next schedule an hour later; or (`then="tick"`) left to that tick. Returns the end
    state and the first run's requests."""
    mark, since = running.log.mark(), last_delivery(running)
    job = run_job(running, tmp_path / "sync-job", task, {"task": "sync"}, now=datetime.now(UTC), env=store.env(),
                  kill_after=kill_after)
    requests = [f"{r.method} {r.path}" for r in running.log.since(mark) if r.user == ACTIONS_BOT]
    if kill_after is None:
        assert job.outcome == "opened", job
    else:
        assert job.killed and len(requests) == kill_after, (job, requests)
    if then == "tick":
        next_tick(running, lambda: next_run(running, tmp_path), since)
        return end_state(running), requests
    if kill_after is not None:
        assert task(next_run(running, tmp_path), {"task": "sync"}).outcome in ("opened", "unchanged", "updated")
    assert run_validations(running, lambda: next_run(running, tmp_path), since) == ["success"]
    swept = sweep(replace(next_run(running, tmp_path), now=datetime.now(UTC) + timedelta(minutes=61)))
    assert swept.finished == (), swept  # nothing left for the schedule
    return end_state(running), requests


def uninterrupted(localhub_factory: Any, tmp_path: Path, store: MlflowStore) -> dict[str, Any]:
    def tell() -> dict[str, Any]:
        where = tmp_path / "baseline"
        state, requests = sync_story(seeded_hub(localhub_factory, where), where, store, None)
        return {"state": state, "requests": len(requests), "opens": requests.index(OPEN_PULL) + 1}

    return baseline(__name__, tell)


@pytest.mark.slow
def test_an_uninterrupted_sync_makes_the_requests_the_kill_points_cover(localhub_factory, tmp_path, store):
    found = uninterrupted(localhub_factory, tmp_path, store)
    assert found["requests"] == SYNC_REQUESTS
    state = found["state"]
    assert [i[2:5] for i in state["issues"] if i[1] == "pull"] == [
        ("Register 1 model version(s) from MLflow", "open", ("registration",))]
    assert [(c[0][0], c[0][1], c[0][3]) for c in state["check runs"]] == [
        ("head of #1", "modelbot/approvals", "success"), ("head of #1", "modelbot/validation", "success")]
    assert state["workflow dispatches"] == [
        ((".github/workflows/modelbot-pull-request.yml",
          (("head", "head of #1"), ("pull", "1"), ("task", "validate"))), 1)]


@pytest.mark.slow
@pytest.mark.parametrize("k", range(1, SYNC_REQUESTS + 1))
def test_a_sync_killed_after_each_request_then_re_run_ends_as_an_uninterrupted_one(
    localhub_factory, hub, tmp_path, store, k
):
    expected = uninterrupted(localhub_factory, tmp_path, store)["state"]
    got, _ = sync_story(hub, tmp_path, store, k)
    assert_same(got, expected, "after the re-run of sync, its validation and the next schedule")


@pytest.mark.slow
@pytest.mark.parametrize("k", range(1, SYNC_REQUESTS + 1))
def test_a_sync_killed_after_each_request_is_finished_by_the_next_schedule_once_its_pull_request_opened(
    localhub_factory, hub, tmp_path, store, k
):
    found = uninterrupted(localhub_factory, tmp_path, store)
    got, _ = sync_story(hub, tmp_path, store, k, then="tick")
    if k >= found["opens"]:
        assert_same(got, found["state"], "after the next schedule's sweep and the validation it dispatched")
    else:  # killed before the pull request opened: nothing any later run could see, and nothing half-done
        assert (got["issues"], got["bot comments"], got["workflow dispatches"]) == ([], [], []), got
