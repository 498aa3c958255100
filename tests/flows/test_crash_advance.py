"""Crash consistency of `task: advance` (issue 20): tumor-malignancy 2 is in a canary in production, Prometheus
(a fake on loopback) says its traffic passes, and the maintenance run opens the pull request of the next step
and has it validated. That run killed right after each of its requests and re-run ("Re-run job"), then the
validation it dispatched run as Actions would, ends where an uninterrupted run ends: one step pull request,
labelled, validated once, one validation dispatched. Left instead to the next schedule tick (its sweep, an hour
later: no re-run), it ends there too once the pull request had opened, labels and the step's analysis
(`modelbot/rollout`) included: the run puts both on the new head before the pull request shows it.

The seed repository (the example registry, the canary policy, the promotion) is made once for the module.
"""

from __future__ import annotations

import http.server
import json
import threading
import urllib.parse
from collections.abc import Iterator
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import pytest

from localhub.hub import ACTIONS_BOT
from tests.deploy.conftest import set_policy_deploy
from tests.deploy.test_canary import CANARY
from tests.flows.conftest import next_run, with_people
from tests.flows.test_crash_consistency import assert_same, end_state
from tests.support.baselines import baseline
from tests.support.gitrepo import example_repo
from tests.support.handler_runs import last_delivery, run_validations, task
from tests.support.jobs import run_job
from tests.support.ticks import next_tick

MODEL = "tumor-malignancy"
ADVANCE = {"task": "advance", "model": MODEL, "stage": "production"}
ADVANCE_REQUESTS = 10  # API requests of an uninterrupted advance run (measured by the first test)
OPEN_PULL = "POST /repos/acme/models/pulls"


@pytest.fixture(scope="module")
def seed(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """The example registry under the canary policy, tumor-malignancy 2 promoted to production (its canary's
    first step)."""
    from bot.registry.edit import set_stage

    repo = example_repo(tmp_path_factory.mktemp("advance-seed") / "repo", when="2026-11-02T09:00:00Z")
    set_policy_deploy(repo, "production", CANARY)
    repo.commit("Set the deploy policy", when="2026-11-02T09:00:00Z")
    text, _ = set_stage(repo.read("models.yaml"), MODEL, "production", "2")
    repo.write("models.yaml", text)
    repo.commit(f"Promote {MODEL} 2 to production", when="2026-11-20T09:00:00Z")
    return repo.path


@pytest.fixture(scope="module")
def prometheus() -> Iterator[str]:
    """Answers /api/v1/query like Prometheus: 412 requests, 3 errors, 37.5 ms for every version."""

    class Handler(http.server.BaseHTTPRequestHandler):
        def do_GET(self) -> None:
            query = urllib.parse.parse_qs(urllib.parse.urlsplit(self.path).query)["query"][0]
            value = "412" if "requests_total" in query else "3" if "errors_total" in query else "37.5"
            body = {"status": "success", "data": {"resultType": "vector",
                                                  "result": [{"metric": {}, "value": [1763892000.0, value]}]}}
            self.send_response(200)
            self.send_header("Content-Type", "application/json")
            self.end_headers()
            self.wfile.write(json.dumps(body).encode())

        def log_message(self, format: str, *args: Any) -> None:
            pass

    server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    yield f"http://127.0.0.1:{server.server_address[1]}"
    server.shutdown()
    server.server_close()


def hub_of(localhub_factory: Any, seed: Path) -> Any:
    """A localhub of the repository `seed`, with the policy's people and teams."""
    return with_people(localhub_factory(seed=seed))


def advance_story(running: Any, tmp_path: Path, prometheus: str, kill_after: int | None, then: str = "re-run"
                  ) -> tuple[dict[str, Any], list[str]]:
    """The advance run (killed after `kill_after` requests, or not), then re-run and the validation it dispatched
    run; or (`then="tick"`) left to the next schedule's sweep. Returns the end state and the first run's
    requests."""
    extra = {"MODELBOT_PROMETHEUS_URL": prometheus}
    mark, since = running.log.mark(), last_delivery(running)
    job = run_job(running, tmp_path / "advance-job", task, ADVANCE, extra, now=datetime.now(UTC),
                  kill_after=kill_after)
    requests = [f"{r.method} {r.path}" for r in running.log.since(mark) if r.user == ACTIONS_BOT]
    if kill_after is None:
        assert job.outcome == "advanced", job
    else:
        assert job.killed and len(requests) == kill_after, (job, requests)
    if then == "tick":
        next_tick(running, lambda: next_run(running, tmp_path), since)
        return end_state(running), requests
    if kill_after is not None:
        assert task(next_run(running, tmp_path), ADVANCE, extra).outcome == "advanced"  # "Re-run job"
    assert run_validations(running, lambda: next_run(running, tmp_path), since) == ["success"]
    return end_state(running), requests


def uninterrupted(localhub_factory: Any, tmp_path: Path, seed: Path, prometheus: str) -> dict[str, Any]:
    def tell() -> dict[str, Any]:
        state, requests = advance_story(hub_of(localhub_factory, seed), tmp_path / "baseline", prometheus, None)
        return {"state": state, "requests": len(requests), "opens": requests.index(OPEN_PULL) + 1}

    return baseline(__name__, tell)


@pytest.mark.slow
def test_an_uninterrupted_advance_makes_the_requests_the_kill_points_cover(localhub_factory, tmp_path, seed,
                                                                          prometheus):
    found = uninterrupted(localhub_factory, tmp_path, seed, prometheus)
    assert found["requests"] == ADVANCE_REQUESTS
    state = found["state"]
    [(_, kind, title, status, labels, _)] = state["issues"]
    assert (kind, status, labels) == ("pull", "open", ("rollout",))
    assert title.startswith(f"Advance the canary of {MODEL} 2 in production")
    assert state["workflow dispatches"] == [
        ((".github/workflows/modelbot-pull-request.yml",
          (("head", "head of #1"), ("pull", "1"), ("task", "validate"))), 1)]
    assert [c[0][1:4] for c in state["check runs"]] == [
        ("modelbot/approvals", "in_progress", None), ("modelbot/rollout", "completed", "success"),
        ("modelbot/validation", "completed", "success")]


@pytest.mark.slow
@pytest.mark.parametrize("k", range(1, ADVANCE_REQUESTS + 1))
def test_an_advance_killed_after_each_request_then_re_run_ends_as_an_uninterrupted_one(
    localhub_factory, tmp_path, seed, prometheus, k
):
    expected = uninterrupted(localhub_factory, tmp_path, seed, prometheus)["state"]
    got, _ = advance_story(hub_of(localhub_factory, seed), tmp_path, prometheus, k)
    assert_same(got, expected, "after the re-run of advance and the validation it dispatched")


@pytest.mark.slow
@pytest.mark.parametrize("k", range(1, ADVANCE_REQUESTS + 1))
def test_an_advance_killed_after_each_request_is_finished_by_the_next_schedule_once_its_pull_request_opened(
    localhub_factory, tmp_path, seed, prometheus, k
):
    found = uninterrupted(localhub_factory, tmp_path, seed, prometheus)
    got, _ = advance_story(hub_of(localhub_factory, seed), tmp_path, prometheus, k, then="tick")
    if k >= found["opens"]:
        assert_same(got, found["state"], "after the next schedule's sweep and the validation it dispatched")
    else:  # killed before the pull request opened: nothing any later run could see (the tick's advance opens it)
        assert (got["issues"], got["bot comments"], got["workflow dispatches"]) == ([], [], []), got
