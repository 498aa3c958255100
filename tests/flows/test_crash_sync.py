"""Crash consistency of `task: sync` (issue 20): the maintenance run that opens the registration pull request
for MLflow versions models.yaml does not list, killed right after each of its requests and re-run ("Re-run
job"), then the story goes on as in Actions (the validation it dispatched runs, the next schedule's sweep an
hour later): it ends where an uninterrupted run ends, with one registration PR, validated once, and one
validation dispatched.

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
from tests.support.handler_runs import last_delivery, run_validations, task
from tests.support.jobs import run_job
from tests.support.mlflow_models import MlflowStore, dataset

SYNC_REQUESTS = 10  # API requests of an uninterrupted sync run (measured by the first test)
_BASELINE: dict[str, Any] = {}


@pytest.fixture(scope="module")
def store(tmp_path_factory: pytest.TempPathFactory) -> MlflowStore:
    store = MlflowStore(tmp_path_factory.mktemp("mlflow-sync"))
    data = dataset("regression")
    for alpha in (1.0, 0.5):
        store.register("diabetes-progression", Ridge(alpha=alpha), data)
    return store


def sync_story(running: Any, tmp_path: Path, store: MlflowStore, kill_after: int | None) -> tuple[dict[str, Any], int]:
    """The sync run (killed after `kill_after` requests and re-run, or not), the validation it dispatched, and
    the sweep of the next schedule an hour later. Returns the end state and the first run's requests."""
    mark, since = running.log.mark(), last_delivery(running)
    job = run_job(running, tmp_path / "sync-job", task, {"task": "sync"}, now=datetime.now(UTC), env=store.env(),
                  kill_after=kill_after)
    requests = len([r for r in running.log.since(mark) if r.user == ACTIONS_BOT])
    if kill_after is None:
        assert job.outcome == "opened", job
    else:
        assert job.killed and requests == kill_after, (job, requests)
        assert task(next_run(running, tmp_path), {"task": "sync"}).outcome in ("opened", "unchanged", "updated")
    assert run_validations(running, lambda: next_run(running, tmp_path), since) == ["success"]
    swept = sweep(replace(next_run(running, tmp_path), now=datetime.now(UTC) + timedelta(minutes=61)))
    assert swept.finished == (), swept  # nothing left for the schedule
    return end_state(running), requests


def baseline(localhub_factory: Any, tmp_path: Path, store: MlflowStore) -> dict[str, Any]:
    if not _BASELINE:
        where = tmp_path / "baseline"
        state, requests = sync_story(seeded_hub(localhub_factory, where), where, store, None)
        _BASELINE.update(state=state, requests=requests)
    return _BASELINE


@pytest.mark.slow
def test_an_uninterrupted_sync_makes_the_requests_the_kill_points_cover(localhub_factory, tmp_path, store):
    found = baseline(localhub_factory, tmp_path, store)
    assert found["requests"] == SYNC_REQUESTS
    state = found["state"]
    assert [i[2:5] for i in state["issues"] if i[1] == "pull"] == [
        ("Register 1 model version(s) from MLflow", "open", ("registration",))]
    assert [(c[0][0], c[0][1], c[0][3]) for c in state["check runs"]] == [
        ("head of #1", "modelbot/approvals", "success"), ("head of #1", "modelbot/validation", "success")]
    assert state["workflow dispatches"] == [
        ((".github/workflows/modelbot-pull-request.yml", (("pull", "1"), ("task", "validate"))), 1)]


@pytest.mark.slow
@pytest.mark.parametrize("k", range(1, SYNC_REQUESTS + 1))
def test_a_sync_killed_after_each_request_then_re_run_ends_as_an_uninterrupted_one(
    localhub_factory, hub, tmp_path, store, k
):
    expected = baseline(localhub_factory, tmp_path, store)["state"]
    got, _ = sync_story(hub, tmp_path, store, k)
    assert_same(got, expected, "after the re-run of sync, its validation and the next schedule")
