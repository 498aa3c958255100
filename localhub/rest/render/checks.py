"""Commit statuses, check runs, deployments and workflow runs as GitHub's REST API returns them."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from localhub.rest.render.common import app, node_id, simple_user
from localhub.rest.render.repos import repository
from localhub.state import CheckRun, Deployment, DeploymentStatus, Status, WorkflowRun

if TYPE_CHECKING:
    from localhub.hub import Hub


def _api(hub: Hub) -> str:
    return f"{hub.base_url}/repos/{hub.state.repo.full_name}"


def status(hub: Hub, item: Status) -> dict[str, Any]:
    creator = simple_user(hub, item.creator)
    return {
        "url": f"{_api(hub)}/statuses/{item.sha}",
        "avatar_url": creator["avatar_url"],
        "id": item.id,
        "node_id": node_id("StatusContext", item.id),
        "state": item.state,
        "description": item.description,
        "target_url": item.target_url,
        "context": item.context,
        "created_at": item.created_at,
        "updated_at": item.created_at,
        "creator": creator,
    }


def combined_status(hub: Hub, sha: str, latest: list[Status]) -> dict[str, Any]:
    """GitHub's rule: failure if any latest status failed or errored, pending if any is pending or none exist."""
    states = {s.state for s in latest}
    state = (
        "failure" if states & {"failure", "error"} else "pending" if not states or "pending" in states else "success"
    )
    simple = [{k: v for k, v in status(hub, s).items() if k != "creator"} for s in latest]
    return {
        "state": state,
        "sha": sha,
        "total_count": len(latest),
        "statuses": simple,
        "repository": repository(hub),
        "commit_url": f"{_api(hub)}/commits/{sha}",
        "url": f"{_api(hub)}/commits/{sha}/status",
    }


def check_run(hub: Hub, item: CheckRun) -> dict[str, Any]:
    url = f"{_api(hub)}/check-runs/{item.id}"
    output = {
        "title": item.output.get("title"),
        "summary": item.output.get("summary"),
        "text": item.output.get("text"),
        "annotations_count": 0,
        "annotations_url": f"{url}/annotations",
    }
    return {
        "id": item.id,
        "node_id": node_id("CheckRun", item.id),
        "head_sha": item.head_sha,
        "name": item.name,
        "external_id": item.external_id,
        "url": url,
        "html_url": f"{hub.base_url}/{hub.state.repo.full_name}/runs/{item.id}",
        "details_url": item.details_url,
        "status": item.status,
        "conclusion": item.conclusion,
        "started_at": item.started_at,
        "completed_at": item.completed_at,
        "output": output,
        "check_suite": {"id": item.id},
        "app": app(hub, item.creator),
        "pull_requests": _pulls_for(hub, item.head_sha),
    }


def _pulls_for(hub: Hub, sha: str) -> list[dict[str, Any]]:
    repo = {"id": hub.state.repo.id, "url": _api(hub), "name": hub.state.repo.name}
    out = []
    for issue in hub.state.issues.values():
        pr = issue.pull
        if pr and issue.state == "open" and pr.head_sha == sha:
            out.append(
                {
                    "id": issue.id,
                    "number": issue.number,
                    "url": f"{_api(hub)}/pulls/{issue.number}",
                    "head": {"ref": pr.head_ref, "sha": pr.head_sha, "repo": repo},
                    "base": {"ref": pr.base_ref, "sha": pr.base_sha, "repo": repo},
                }
            )
    return out


def deployment(hub: Hub, item: Deployment) -> dict[str, Any]:
    url = f"{_api(hub)}/deployments/{item.id}"
    return {
        "url": url,
        "id": item.id,
        "node_id": node_id("Deployment", item.id),
        "sha": item.sha,
        "ref": item.ref,
        "task": item.task,
        "payload": item.payload,
        "original_environment": item.environment,
        "environment": item.environment,
        "description": item.description,
        "creator": simple_user(hub, item.creator),
        "created_at": item.created_at,
        "updated_at": item.updated_at,
        "statuses_url": f"{url}/statuses",
        "repository_url": _api(hub),
        "transient_environment": item.transient_environment,
        "production_environment": item.production_environment,
        "performed_via_github_app": None,
    }


def deployment_status(hub: Hub, item: DeploymentStatus) -> dict[str, Any]:
    """Without a log_url, GitHub answers `""`, which its own schema (format uri) refuses: the repository's
    deployments page stands in."""
    deployment_url = f"{_api(hub)}/deployments/{item.deployment_id}"
    log_url = item.log_url or f"{hub.base_url}/{hub.state.repo.full_name}/deployments"
    out = {
        "url": f"{deployment_url}/statuses/{item.id}",
        "id": item.id,
        "node_id": node_id("DeploymentStatus", item.id),
        "state": item.state,
        "creator": simple_user(hub, item.creator),
        "description": item.description,
        "environment": item.environment,
        "target_url": log_url,
        "log_url": log_url,
        "created_at": item.created_at,
        "updated_at": item.created_at,
        "deployment_url": deployment_url,
        "repository_url": _api(hub),
        "performed_via_github_app": None,
    }
    if item.environment_url:
        out["environment_url"] = item.environment_url
    return out


def workflow_run(hub: Hub, item: WorkflowRun) -> dict[str, Any]:
    url = f"{_api(hub)}/actions/runs/{item.id}"
    info = hub.git.commit(item.head_sha)
    repo = repository(hub)
    actor = simple_user(hub, item.actor)
    return {
        "id": item.id,
        "name": item.workflow.rsplit("/", 1)[-1],
        "node_id": node_id("WorkflowRun", item.id),
        "check_suite_id": item.id,
        "check_suite_node_id": node_id("CheckSuite", item.id),
        "head_branch": item.head_branch,
        "head_sha": item.head_sha,
        "path": item.workflow,
        "run_number": item.run_number,
        "run_attempt": 1,
        "referenced_workflows": [],
        "event": item.event,
        "status": item.status,
        "conclusion": item.conclusion,
        "workflow_id": _workflow_id(item.workflow),
        "url": url,
        "html_url": f"{hub.base_url}/{hub.state.repo.full_name}/actions/runs/{item.id}",
        "pull_requests": [],
        "created_at": item.created_at,
        "updated_at": item.updated_at,
        "actor": actor,
        "triggering_actor": actor,
        "run_started_at": item.created_at,
        "jobs_url": f"{url}/jobs",
        "logs_url": f"{url}/logs",
        "check_suite_url": f"{_api(hub)}/check-suites/{item.id}",
        "artifacts_url": f"{url}/artifacts",
        "cancel_url": f"{url}/cancel",
        "rerun_url": f"{url}/rerun",
        "previous_attempt_url": None,
        "workflow_url": f"{_api(hub)}/actions/workflows/{_workflow_id(item.workflow)}",
        "head_commit": {
            "id": info.sha,
            "tree_id": info.tree,
            "message": info.message,
            "timestamp": info.committer.date,
            "author": {"name": info.author.name, "email": info.author.email},
            "committer": {"name": info.committer.name, "email": info.committer.email},
        },
        "repository": repo,
        "head_repository": repo,
        "display_title": item.title or item.workflow.rsplit("/", 1)[-1],
    }


def _workflow_id(path: str) -> int:
    """A stable id per workflow file (GitHub numbers workflows; localhub derives one from the path)."""
    import zlib

    return zlib.crc32(path.encode()) & 0x7FFFFFFF
