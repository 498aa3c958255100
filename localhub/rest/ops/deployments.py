"""Deployments and their statuses, with GitHub's commit-status gate (`required_contexts`)."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from localhub.errors import ApiError, invalid
from localhub.rest import webhooks
from localhub.rest.queries import latest_statuses
from localhub.state import Deployment, DeploymentStatus, now

if TYPE_CHECKING:
    from localhub.hub import Hub

STATES = ("error", "failure", "inactive", "in_progress", "queued", "pending", "success")


def create_deployment(hub: Hub, actor: str, fields: dict[str, Any]) -> Deployment:
    ref = fields.get("ref")
    if not isinstance(ref, str) or not ref:
        raise invalid("Deployment", "ref", "missing_field")
    git = hub.git
    sha = git.resolve_commit(f"refs/heads/{ref}") or git.resolve_commit(f"refs/tags/{ref}") or git.resolve_commit(ref)
    if sha is None:
        raise invalid("Deployment", "ref", "custom", f"No ref found for: {ref}")
    _check_contexts(hub, sha, ref, fields.get("required_contexts"))
    environment = str(fields.get("environment") or "production")
    item = Deployment(
        id=hub.state.next_id(),
        sha=sha,
        ref=ref,
        task=str(fields.get("task") or "deploy"),
        environment=environment,
        payload=fields.get("payload", {}) or {},
        description=fields.get("description"),
        creator=actor,
        transient_environment=bool(fields.get("transient_environment", False)),
        production_environment=bool(fields.get("production_environment", environment == "production")),
    )
    hub.state.deployments[item.id] = item
    hub.emit("deployment", webhooks.deployment(hub, item, actor), actor)
    return item


def _check_contexts(hub: Hub, sha: str, ref: str, required: object) -> None:
    """By default every status context on the commit must be `success` (GitHub's deployment gate)."""
    latest = {s.context: s.state for s in latest_statuses(hub, sha)}
    contexts = list(latest) if required is None else list(required)  # type: ignore[call-overload]  # required is checked to be a list of strings by the request schema
    failing = [c for c in contexts if latest.get(c) != "success"]
    if failing:
        raise ApiError(
            409,
            f"Conflict: Commit status checks failed for {ref}.",
            [
                {
                    "contexts": [{"context": c, "state": latest.get(c, "missing")} for c in failing],
                    "resource": "Deployment",
                    "field": "required_contexts",
                    "code": "invalid",
                }
            ],
        )


def create_status(hub: Hub, actor: str, deployment: Deployment, fields: dict[str, Any]) -> DeploymentStatus:
    state = fields.get("state")
    if state not in STATES:
        raise invalid("DeploymentStatus", "state", "invalid")
    item = DeploymentStatus(
        id=hub.state.next_id(),
        deployment_id=deployment.id,
        state=str(state),
        creator=actor,
        description=str(fields.get("description") or ""),
        environment=str(fields.get("environment") or deployment.environment),
        environment_url=str(fields.get("environment_url") or ""),
        log_url=str(fields.get("log_url") or fields.get("target_url") or ""),
    )
    deployment.statuses.append(item)
    deployment.updated_at = now()
    if item.state == "success" and fields.get("auto_inactive", True):
        _deactivate_previous(hub, actor, deployment)
    hub.emit("deployment_status", webhooks.deployment_status(hub, item, deployment, actor), actor)
    return item


def _deactivate_previous(hub: Hub, actor: str, current: Deployment) -> None:
    """GitHub marks earlier successful deployments of a non-production, non-transient environment inactive."""
    for other in hub.state.deployments.values():
        if (
            other.id < current.id
            and other.environment == current.environment
            and not other.transient_environment
            and not other.production_environment
            and other.statuses
            and other.statuses[-1].state == "success"
        ):
            other.statuses.append(
                DeploymentStatus(
                    id=hub.state.next_id(),
                    deployment_id=other.id,
                    state="inactive",
                    creator=actor,
                    environment=other.environment,
                )
            )
