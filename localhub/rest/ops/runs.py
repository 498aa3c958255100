"""Workflow runs: the one a `workflow_dispatch` creates, and what a runner reports of it.

GitHub creates a run for each dispatch it accepts (queued until a runner takes it) and lists it under its
workflow with the commit the ref pointed at then (`head_sha`). That listing is how a job learns, after the
fact, whether a dispatch it cannot remember happened. localhub records dispatched runs only: push and pull
request events are delivered to the Actions runner, but no run of theirs is listed.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from localhub.state import WorkflowRun, now

if TYPE_CHECKING:
    from localhub.hub import Hub


def dispatched(
    hub: Hub, workflow: str, branch: str | None, sha: str, actor: str, delivery: int, title: str | None = None
) -> WorkflowRun:
    """The run a dispatch of `workflow` (its path) on `branch` at `sha` creates, titled by its `run-name:`."""
    number = 1 + sum(1 for run in hub.state.workflow_runs.values() if run.workflow == workflow)
    run = WorkflowRun(hub.state.next_id(), workflow, "workflow_dispatch", branch, sha, actor, number, delivery)
    run.title = title
    hub.state.workflow_runs[run.id] = run
    return run


def finished(hub: Hub, delivery: int, conclusion: str) -> None:
    """The runner ran the dispatch `delivery`: its run is completed with `conclusion`."""
    with hub.state.lock:
        for run in hub.state.workflow_runs.values():
            if run.delivery == delivery:
                run.status, run.conclusion, run.updated_at = "completed", conclusion, now()


def listed(hub: Hub, workflow: str, filters: dict[str, str]) -> list[WorkflowRun]:
    """The runs of `workflow`, newest first, narrowed by GitHub's filters (`event`, `head_sha`, `branch`,
    `actor`, `status`: a status or a conclusion)."""
    runs = sorted((r for r in hub.state.workflow_runs.values() if r.workflow == workflow), key=lambda r: -r.id)
    fields = {"event": "event", "head_sha": "head_sha", "branch": "head_branch", "actor": "actor"}
    for name, attribute in fields.items():
        if filters.get(name):
            runs = [r for r in runs if getattr(r, attribute) == filters[name]]
    if filters.get("status"):
        runs = [r for r in runs if filters["status"] in (r.status, r.conclusion)]
    return runs
