"""Crash consistency (issue 20), its residual findings: a run killed after its k-th request (real localhub, real
git, a job of its own: tests.support.jobs), then what GitHub does next, and what the next runs ask for.

1. The schedule's tick runs sync, then the sweep: sync asks for the validation of a registration pull request a
   killed run left pending, and the sweep, finding that pull request stale and pending, must not ask again.
2. A re-run after main moved finds the validation its killed run dispatched (a dispatch runs at main's tip of
   then, which is no longer the pull request's base): it dispatches nothing twice.
3. A `/rollback` after main moved (its revert branch forced onto the tip), killed after it recorded the revert's
   head and before it opened the pull request, then re-run: no record is left on a commit no pull request shows
   (the re-run keeps the revert its killed run recorded; a look-alike someone else pushed there is not kept).
"""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest
from sklearn.linear_model import Ridge

from bot.actions import tasks
from bot.flows.commands import handle_comment
from bot.flows.context import BotContext
from bot.flows.record import CHECK
from localhub.hub import ACTIONS_BOT
from tests.flows.conftest import WEDNESDAY, next_run
from tests.flows.test_commands import comment
from tests.support.handler_runs import command, dispatch, last_delivery, run_handler, run_validations, task
from tests.support.jobs import run_job
from tests.support.mlflow_models import MlflowStore, dataset

LABELS = "POST /repos/acme/models/issues/1/labels"
DISPATCH = "POST /repos/acme/models/actions/workflows/modelbot-pull-request.yml/dispatches"
CHECK_RUN = "POST /repos/acme/models/check-runs"
REVERT = "modelbot/revert/2"  # the branch of the revert of the promotion, #2
SYNC_LABELS = 8  # sync's request that labels the registration pull request it opened (its record written before)
SYNC_DISPATCHES = 10  # and the one that dispatches its validation: the last
ROLLBACK_RECORDS = 14  # /rollback's request that records the revert's head, after main moved: the next opens it


@pytest.fixture(scope="module")
def store(tmp_path_factory: pytest.TempPathFactory) -> MlflowStore:
    """diabetes-progression 1 and 2 in MLflow (models.yaml lists 1): sync only reads it."""
    store = MlflowStore(tmp_path_factory.mktemp("mlflow-residuals"))
    data = dataset("regression")
    for alpha in (1.0, 0.5):
        store.register("diabetes-progression", Ridge(alpha=alpha), data)
    return store


def killed_sync(running: Any, tmp_path: Path, store: MlflowStore, k: int, last: str) -> int:
    """The maintenance run's sync as a job, killed after its `k`-th request (which must be `last`): the delivery
    before it."""
    mark, since = running.log.mark(), last_delivery(running)
    job = run_job(running, tmp_path / "sync-job", task, {"task": "sync"}, now=datetime.now(UTC), env=store.env(),
                  kill_after=k)
    requests = [f"{r.method} {r.path}" for r in running.log.since(mark) if r.user == ACTIONS_BOT]
    assert job.killed and len(requests) == k and requests[-1] == last, (job, requests)
    return since


def validations_asked(running: Any, since: int) -> list[tuple[str, ...]]:
    """The validations dispatched after delivery `since`: (pull, head) each."""
    return [tuple(str(d.payload["inputs"].get(key, "")) for key in ("pull", "head"))
            for d in running.hub.deliveries
            if d.id > since and d.event == "workflow_dispatch" and d.payload["inputs"].get("task") == "validate"]


def an_hour_passes(running: Any) -> None:
    """Every open pull request was last updated two hours ago (localhub's clock is the wall's): the sweep of the
    next tick finds them stale, as a tick an hour after a killed run does."""
    earlier = (datetime.now(UTC) - timedelta(hours=2)).strftime("%Y-%m-%dT%H:%M:%SZ")
    for issue in running.hub.state.issues.values():
        if issue.pull is not None and issue.state == "open":
            issue.updated_at = earlier


def sweep_then_sync(ctx: BotContext, extra: dict[str, str]) -> str:
    """A tick that runs the sweep first, then sync (one run: one adapter, as the scheduled task's)."""
    event = dispatch("pat-platform", {"task": "scheduled"}, ".github/workflows/modelbot-maintenance.yml")
    run_handler(ctx, tasks.sweep, event, extra)
    return str(run_handler(ctx, tasks.sync, event, extra).outputs["result"])


@pytest.mark.slow
@pytest.mark.parametrize("order", ["sync, sweep", "sweep, sync"])
def test_one_schedule_tick_asks_once_for_the_validation_a_killed_sync_left_pending(hub, tmp_path, store, order):
    since = killed_sync(hub, tmp_path, store, SYNC_LABELS, LABELS)
    [pull] = [i for i in hub.hub.state.issues.values() if i.pull is not None]
    assert validations_asked(hub, since) == []  # opened and labelled, its record pending, nothing asked yet
    an_hour_passes(hub)
    tick = last_delivery(hub)
    if order == "sync, sweep":  # the scheduled task's order
        outcome = task(next_run(hub, tmp_path), {"task": "scheduled"}, store.env()).outcome
    else:
        outcome = sweep_then_sync(next_run(hub, tmp_path), store.env())
    assert outcome == "unchanged"  # sync found its pull request; the sweep served it too
    assert validations_asked(hub, tick) == [(str(pull.number), pull.pull.head_sha)]
    assert run_validations(hub, lambda: next_run(hub, tmp_path), tick) == ["success"]


@pytest.mark.slow
def test_a_sync_re_run_after_main_moved_finds_the_validation_its_killed_run_dispatched(hub, tmp_path, store):
    since = killed_sync(hub, tmp_path, store, SYNC_DISPATCHES, DISPATCH)
    [pull] = [i for i in hub.hub.state.issues.values() if i.pull is not None]
    assert [p for p, _ in validations_asked(hub, since)] == [str(pull.number)]
    moved = hub.hub.as_user("pat-platform").push("main", {"NOTES.md": "Registry notes.\n"}, "Notes")
    assert hub.hub.state.issues[pull.number].pull.base_sha == moved  # GitHub's base follows the branch
    ran = task(next_run(hub, tmp_path), {"task": "sync"}, store.env())  # "Re-run job"
    assert ran.outcome == "unchanged", ran
    assert [p for p, _ in validations_asked(hub, since)] == [str(pull.number)]  # the killed run's, only
    assert run_validations(hub, lambda: next_run(hub, tmp_path), since) == ["success"]
    head = hub.hub.state.issues[pull.number].pull.head_sha
    assert [(r.conclusion, r.status) for r in hub.hub.state.check_runs.values()
            if (r.head_sha, r.name) == (head, CHECK)] == [("success", "completed")]
    # GitHub lists the killed run's dispatch at main's tip of then, titled by the workflow's run-name
    [run] = [r for r in hub.hub.state.workflow_runs.values() if r.workflow.endswith("modelbot-pull-request.yml")]
    assert (run.title, run.head_sha != moved) == (f"modelbot validates #{pull.number} at {head}", True)


def promoted_then_main_moved(running: Any, tmp_path: Path) -> tuple[str, str]:
    """diabetes-progression 1 promoted to production and merged, then a commit on main: the merge, main's tip."""
    promote = comment(running, "dana-ds", "/promote diabetes-progression 1 to production")
    assert handle_comment(next_run(running, tmp_path), promote).outcome == "done"
    [number] = [i.number for i in running.hub.state.issues.values() if i.pull is not None]
    for reviewer in ("lena-ml", "rita-risk"):
        running.hub.as_user(reviewer).review(number, "APPROVE")
    merged = running.hub.as_user("pat-platform").merge(number)
    tip = running.hub.as_user("pat-platform").push("main", {"NOTES.md": "Registry notes.\n"}, "Notes")
    assert tip != merged  # the revert goes onto a tip that is not the merge: its branch is forced there
    return merged, tip


@pytest.mark.slow
def test_a_rollback_re_run_after_main_moved_leaves_no_record_on_a_commit_no_pull_request_shows(
    hub, tmp_path, diabetes_v1
):
    store, _ = diabetes_v1
    promoted_then_main_moved(hub, tmp_path)
    event = comment(hub, "lena-ml", "/rollback diabetes-progression")
    mark, since = hub.log.mark(), last_delivery(hub)
    job = run_job(hub, tmp_path / "rollback-job", command, event, now=WEDNESDAY, env=store.env(),
                  kill_after=ROLLBACK_RECORDS)
    requests = [f"{r.method} {r.path}" for r in hub.log.since(mark) if r.user == ACTIONS_BOT]
    assert job.killed and requests[-1] == CHECK_RUN and f"PATCH /repos/acme/models/git/refs/heads/{REVERT}" \
        in requests, requests
    recorded = hub.hub.git.resolve(f"refs/heads/{REVERT}")  # the killed run's revert, its record on it
    assert command(next_run(hub, tmp_path), event).outcome == "done"  # "Re-run job"
    assert run_validations(hub, lambda: next_run(hub, tmp_path), since) == ["success"]
    state = hub.hub.state
    [revert] = [i.pull for i in state.issues.values() if i.pull is not None and i.title.startswith("Revert")]
    shown = {i.pull.head_sha for i in state.issues.values() if i.pull is not None}
    records = [(r.head_sha, r.status, r.conclusion) for r in state.check_runs.values() if r.name == CHECK]
    assert [r for r in records if r[0] not in shown] == [], (records, shown)
    assert [r[1:] for r in records if r[0] == revert.head_sha] == [("completed", "success")]
    assert revert.head_sha == recorded  # kept: the re-run made no second revert commit
    assert len(validations_asked(hub, since)) == 1


@pytest.mark.slow
def test_a_revert_branch_someone_else_filled_is_not_taken_for_the_bot_s_own(hub, tmp_path, diabetes_v1):
    """A writer's commit on the revert branch, with the revert's message on main's tip but a tree of their own,
    carries no record of the bot: /rollback moves the branch away from it and reverts as it would."""
    merged, tip = promoted_then_main_moved(hub, tmp_path)
    message = f'Revert "Promote diabetes-progression 1 to production"\n\nThis reverts commit {merged}.'
    planted = hub.hub.as_user("wes-writer").push(REVERT, {"NOTES.md": "Not a revert.\n"}, message)
    assert hub.hub.git.commit(planted).parents == (tip,)
    reply = command(next_run(hub, tmp_path), comment(hub, "lena-ml", "/rollback diabetes-progression"))
    assert reply.outcome == "done", reply.text
    [revert] = [i.pull for i in hub.hub.state.issues.values() if i.pull is not None and i.title.startswith("Revert")]
    before = hub.hub.git.commit(merged).parents[0]
    assert revert.head_sha != planted and hub.hub.git.commit(revert.head_sha).parents == (tip,)
    assert text_at(hub, revert.head_sha, "NOTES.md") == "Registry notes.\n"  # main's, not the writer's
    assert text_at(hub, revert.head_sha, "models.yaml") == text_at(hub, before, "models.yaml")  # undone


def text_at(running: Any, commit: str, path: str) -> str:
    entry = running.hub.git.file_at(commit, path)
    assert entry is not None, (commit, path)
    return running.hub.git.read_blob(entry.sha).decode()
