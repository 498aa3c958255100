"""Commit statuses and check runs."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from localhub.errors import ApiError, invalid
from localhub.rest import webhooks
from localhub.state import CheckRun, Status, now

if TYPE_CHECKING:
    from localhub.hub import Hub

STATUS_STATES = ("error", "failure", "pending", "success")
CHECK_STATUSES = ("queued", "in_progress", "completed", "waiting", "requested", "pending")
CONCLUSIONS = ("action_required", "cancelled", "failure", "neutral", "success", "skipped", "stale", "timed_out")


def resolve_sha(hub: Hub, ref: str) -> str:
    sha = hub.git.resolve_commit(ref) or hub.git.resolve_commit(f"refs/heads/{ref}")
    if sha is None:
        raise ApiError(422, f"No commit found for SHA: {ref}")
    return sha


def create_status(
    hub: Hub,
    actor: str,
    sha: str,
    state: object,
    context: str = "default",
    description: str | None = None,
    target_url: str | None = None,
) -> Status:
    full = resolve_sha(hub, sha)
    if state not in STATUS_STATES:
        raise invalid("Status", "state", "custom", f"state must be one of {', '.join(STATUS_STATES)}")
    item = Status(
        id=hub.state.next_id(),
        sha=full,
        state=str(state),
        context=context or "default",
        description=description,
        target_url=target_url,
        creator=actor,
    )
    hub.state.statuses.append(item)
    hub.emit("status", webhooks.status(hub, item, actor), actor)
    return item


def create_check_run(hub: Hub, actor: str, fields: dict[str, Any]) -> CheckRun:
    name, head_sha = fields.get("name"), fields.get("head_sha")
    if not isinstance(name, str) or not name:
        raise invalid("CheckRun", "name", "missing_field")
    if not isinstance(head_sha, str):
        raise invalid("CheckRun", "head_sha", "missing_field")
    run = CheckRun(id=hub.state.next_id(), head_sha=resolve_sha(hub, head_sha), name=name, creator=actor)
    hub.state.check_runs[run.id] = run
    return update_check_run(hub, run, {k: v for k, v in fields.items() if k not in ("name", "head_sha")})


def update_check_run(hub: Hub, run: CheckRun, fields: dict[str, Any]) -> CheckRun:
    status, conclusion = fields.get("status"), fields.get("conclusion")
    if status is not None and status not in CHECK_STATUSES:
        raise invalid("CheckRun", "status", "invalid")
    if conclusion is not None and conclusion not in CONCLUSIONS:
        raise invalid("CheckRun", "conclusion", "invalid")
    if "name" in fields:
        run.name = str(fields["name"])
    for key in ("details_url", "external_id", "started_at"):
        if key in fields:
            setattr(run, key, fields[key])
    if isinstance(fields.get("output"), dict):
        run.output = {**run.output, **fields["output"]}
    if status is not None:
        run.status = str(status)
    if conclusion is not None:
        run.status, run.conclusion = "completed", str(conclusion)
    if run.status == "completed":
        if run.conclusion is None:
            raise invalid("CheckRun", "conclusion", "missing_field")
        run.completed_at = str(fields.get("completed_at") or run.completed_at or now())
    return run
