"""Commit statuses, check runs, deployments with their statuses, dispatch events and the runs they create."""

from __future__ import annotations

import json
from collections.abc import Mapping
from typing import TYPE_CHECKING, Any, TypeVar

import yaml

from localhub.errors import ApiError, invalid, not_found
from localhub.expressions import ExpressionError, substitute
from localhub.rest import webhooks
from localhub.rest.api import Request, Response, Route, ok, page, require
from localhub.rest.ops import checks as ops
from localhub.rest.ops import deployments as deploy_ops
from localhub.rest.ops import runs as run_ops
from localhub.rest.queries import latest_statuses
from localhub.rest.render import checks as render
from localhub.rest.render.common import app
from localhub.state import CheckRun, Deployment

if TYPE_CHECKING:
    from localhub.hub import Hub

T = TypeVar("T")


def create_status(hub: Hub, req: Request) -> Response:
    actor = require(hub, req, "write")
    item = ops.create_status(
        hub,
        actor,
        req.params["sha"],
        req.json_field("state", "Status", required=True),
        str(req.json_field("context", "Status", default="default")),
        req.json_field("description", "Status"),
        req.json_field("target_url", "Status"),
    )
    return ok(render.status(hub, item), 201)


def combined_status(hub: Hub, req: Request) -> Response:
    sha = ops.resolve_sha(hub, req.params["ref"])
    latest = latest_statuses(hub, sha)
    response = ok(render.combined_status(hub, sha, latest))
    paged = page(hub, req, latest, lambda s: s)
    response.headers.update(paged.headers)
    return response


def list_statuses(hub: Hub, req: Request) -> Response:
    sha = ops.resolve_sha(hub, req.params["ref"])
    found = [s for s in reversed(hub.state.statuses) if s.sha == sha]
    return page(hub, req, found, lambda s: render.status(hub, s))


CHECKS_DOCS = "https://docs.github.com/rest/checks/runs#create-a-check-run"


def create_check_run(hub: Hub, req: Request) -> Response:
    actor = require(hub, req, "write")
    if hub.state.users[actor].type != "Bot":  # only an app's token (an installation's, a workflow's) may
        raise ApiError(403, "You must authenticate via a GitHub App.", documentation_url=CHECKS_DOCS)
    return ok(render.check_run(hub, ops.create_check_run(hub, actor, _object_body(req))), 201)


def _object_body(req: Request) -> dict[str, Any]:
    """The request's JSON object; anything else is GitHub's 400."""
    if not isinstance(req.body, dict):
        raise ApiError(400, "Problems parsing JSON")
    return req.body


def _by_id(items: Mapping[int, T], req: Request, param: str) -> T:
    """The item a numeric path parameter names, or 404."""
    found = items.get(req.int_param(param))
    if found is None:
        raise not_found()
    return found


def _check_run(hub: Hub, req: Request) -> CheckRun:
    return _by_id(hub.state.check_runs, req, "check_run_id")


def get_check_run(hub: Hub, req: Request) -> Response:
    return ok(render.check_run(hub, _check_run(hub, req)))


def update_check_run(hub: Hub, req: Request) -> Response:
    actor = require(hub, req, "write")
    run = _check_run(hub, req)
    if app(hub, actor)["id"] != app(hub, run.creator)["id"]:
        raise ApiError(403, "Invalid app_id: a check run can only be modified by the app that created it.")
    fields = req.body if isinstance(req.body, dict) else {}
    return ok(render.check_run(hub, ops.update_check_run(hub, run, fields)))


def list_check_runs(hub: Hub, req: Request) -> Response:
    """Check runs on a commit, newest first; `check_name` filters, `filter=latest` keeps the newest per name."""
    sha = ops.resolve_sha(hub, req.params["ref"])
    runs = sorted((r for r in hub.state.check_runs.values() if r.head_sha == sha), key=lambda r: -r.id)
    if req.query.get("check_name"):
        runs = [r for r in runs if r.name == req.query["check_name"]]
    if req.query.get("status"):
        runs = [r for r in runs if r.status == req.query["status"]]
    if req.query.get("filter", "latest") == "latest":
        seen: set[str] = set()
        runs = [r for r in runs if not (r.name in seen or seen.add(r.name))]  # type: ignore[func-returns-value]  # set.add in a comprehension: keep the first of each name
    paged = page(hub, req, runs, lambda r: render.check_run(hub, r))
    return Response(200, {"total_count": len(runs), "check_runs": paged.body}, paged.headers)


def list_deployments(hub: Hub, req: Request) -> Response:
    found = sorted(hub.state.deployments.values(), key=lambda d: -d.id)
    for key in ("sha", "ref", "task", "environment"):
        if req.query.get(key):
            found = [d for d in found if getattr(d, key) == req.query[key]]
    return page(hub, req, found, lambda d: render.deployment(hub, d))


def create_deployment(hub: Hub, req: Request) -> Response:
    actor = require(hub, req, "write")
    return ok(render.deployment(hub, deploy_ops.create_deployment(hub, actor, _object_body(req))), 201)


def _deployment(hub: Hub, req: Request) -> Deployment:
    return _by_id(hub.state.deployments, req, "deployment_id")


def list_deployment_statuses(hub: Hub, req: Request) -> Response:
    item = _deployment(hub, req)
    return page(hub, req, list(reversed(item.statuses)), lambda s: render.deployment_status(hub, s))


def create_deployment_status(hub: Hub, req: Request) -> Response:
    actor = require(hub, req, "write")
    item = _deployment(hub, req)
    fields = req.body if isinstance(req.body, dict) else {}
    return ok(render.deployment_status(hub, deploy_ops.create_status(hub, actor, item, fields)), 201)


def workflow_dispatch(hub: Hub, req: Request) -> Response:
    """Dispatch a workflow by file name on a ref; the event reaches the Actions runner like any other."""
    actor = require(hub, req, "write")
    ref = req.json_field("ref", "Dispatch", required=True)
    if hub.git.resolve_commit(f"refs/heads/{ref}") is None and hub.git.resolve_commit(str(ref)) is None:
        raise invalid("Dispatch", "ref", "invalid", f"No ref found for: {ref}")
    workflow = req.params["workflow_id"]
    path = workflow if "/" in workflow else f".github/workflows/{workflow}"
    inputs = req.json_field("inputs", "Dispatch", default={}) or {}
    branch = str(ref).removeprefix("refs/heads/")
    sha = hub.git.resolve_commit(f"refs/heads/{branch}") or hub.git.resolve_commit(str(ref)) or ""
    template, declared = _check_dispatch(hub, sha, path, inputs)
    payload = webhooks.workflow_dispatch(hub, f"refs/heads/{branch}", path, inputs, actor)
    delivery = hub.emit("workflow_dispatch", payload, actor)
    run = run_ops.dispatched(hub, path, branch, sha, actor, delivery.id, _run_name(template, declared, payload))
    if req.json_field("return_run_details", "Dispatch") is True:
        shown = render.workflow_run(hub, run)
        return ok({"workflow_run_id": run.id, "run_url": shown["url"], "html_url": shown["html_url"]})
    return Response(204)


def _run_name(template: object, declared: dict[str, Any], payload: dict[str, Any]) -> str | None:
    """The workflow's `run-name:` for this dispatch, evaluated with its `github` and `inputs` contexts as GitHub
    does when it creates the run; None when the workflow has none or it comes out empty (GitHub's default)."""
    if not isinstance(template, str):
        return None
    given = payload.get("inputs") or {}
    values = {name: given.get(name, (item or {}).get("default", "")) for name, item in declared.items()}
    github = {"event_name": "workflow_dispatch", "event": payload, "ref": payload.get("ref")}
    try:
        title = substitute(template, {"github": github, "inputs": values})
    except ExpressionError as exc:
        raise ApiError(422, f"run-name: {exc}") from exc
    return title.strip() or None


def _check_dispatch(hub: Hub, sha: str, path: str, inputs: object) -> tuple[object, dict[str, Any]]:
    """GitHub's refusals of a dispatch: no such workflow at the ref (404), a workflow without the trigger, an
    input it does not declare, or a required one missing (422). The workflow's `run-name:` and declared inputs."""
    entry = hub.git.file_at(sha, path) if sha else None
    if entry is None:
        raise not_found()
    try:
        spec = yaml.safe_load(hub.git.read_blob(entry.sha))
    except yaml.YAMLError:
        spec = None
    triggers = (spec.get("on", spec.get(True)) if isinstance(spec, dict) else None) or {}
    if isinstance(triggers, str):
        triggers = {triggers: None}
    elif isinstance(triggers, list):
        triggers = dict.fromkeys(triggers)
    if not isinstance(triggers, dict) or "workflow_dispatch" not in triggers:
        raise ApiError(422, "Workflow does not have 'workflow_dispatch' trigger")
    declared = (triggers.get("workflow_dispatch") or {}).get("inputs") or {}
    given = inputs if isinstance(inputs, dict) else {}
    unexpected = sorted(name for name in given if name not in declared)
    if unexpected:
        raise ApiError(422, f"Unexpected inputs provided: {json.dumps(unexpected)}")
    for name, item in declared.items():
        if isinstance(item, dict) and item.get("required") and name not in given and "default" not in item:
            raise ApiError(422, f"Required input '{name}' not provided")
    return (spec.get("run-name") if isinstance(spec, dict) else None), declared


def list_workflow_runs(hub: Hub, req: Request) -> Response:
    """The runs of one workflow (by file name), newest first, narrowed by GitHub's filters."""
    workflow = req.params["workflow_id"]
    path = workflow if "/" in workflow else f".github/workflows/{workflow}"
    runs = run_ops.listed(hub, path, req.query)
    paged = page(hub, req, runs, lambda r: render.workflow_run(hub, r))
    return Response(200, {"total_count": len(runs), "workflow_runs": paged.body}, paged.headers)


DISPATCH_PAYLOAD_LIMIT = 65_536  # GitHub: "The total size of the JSON payload must be less than 64KB."


def repository_dispatch(hub: Hub, req: Request) -> Response:
    """A custom event: delivered as `repository_dispatch` (action: the event type), which starts the workflows
    whose `on: repository_dispatch` lists its type, on the default branch."""
    actor = require(hub, req, "write")
    event_type = str(req.json_field("event_type", "Dispatch", required=True))
    payload = req.json_field("client_payload", "Dispatch", default={}) or {}
    if len(json.dumps(payload, separators=(",", ":")).encode()) >= DISPATCH_PAYLOAD_LIMIT:
        raise invalid("Dispatch", "client_payload", "invalid", "client_payload must be less than 64KB")
    hub.emit("repository_dispatch", webhooks.repository_dispatch(hub, event_type, payload, actor), actor)
    return Response(204)


ROUTES = [
    Route("POST", "/repos/{owner}/{repo}/statuses/{sha}", create_status),
    Route("GET", "/repos/{owner}/{repo}/commits/{ref}/status", combined_status),
    Route("GET", "/repos/{owner}/{repo}/commits/{ref}/statuses", list_statuses),
    Route("POST", "/repos/{owner}/{repo}/check-runs", create_check_run),
    Route("GET", "/repos/{owner}/{repo}/check-runs/{check_run_id}", get_check_run),
    Route("PATCH", "/repos/{owner}/{repo}/check-runs/{check_run_id}", update_check_run),
    Route("GET", "/repos/{owner}/{repo}/commits/{ref}/check-runs", list_check_runs),
    Route("GET", "/repos/{owner}/{repo}/deployments", list_deployments),
    Route("POST", "/repos/{owner}/{repo}/deployments", create_deployment),
    Route("GET", "/repos/{owner}/{repo}/deployments/{deployment_id}/statuses", list_deployment_statuses),
    Route("POST", "/repos/{owner}/{repo}/deployments/{deployment_id}/statuses", create_deployment_status),
    Route("POST", "/repos/{owner}/{repo}/actions/workflows/{workflow_id}/dispatches", workflow_dispatch),
    Route("GET", "/repos/{owner}/{repo}/actions/workflows/{workflow_id}/runs", list_workflow_runs),
    Route("POST", "/repos/{owner}/{repo}/dispatches", repository_dispatch),
]
