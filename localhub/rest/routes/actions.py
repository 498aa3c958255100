"""Workflow runs' artifacts: what `actions/upload-artifact` kept (localhub/actions/artifacts.py records them),
listed per run, newest first, with GitHub's `name` filter; expired ones stay listed, marked so."""

from __future__ import annotations

from typing import TYPE_CHECKING

from localhub.errors import not_found
from localhub.rest.api import Request, Response, Route, ok, page, require
from localhub.rest.render import actions as render

if TYPE_CHECKING:
    from localhub.hub import Hub


def list_run_artifacts(hub: Hub, req: Request) -> Response:
    require(hub, req, "read")
    run_id = int(req.params["run_id"]) if req.params["run_id"].isdigit() else -1
    found = sorted(
        (a for a in hub.state.artifacts.values() if a.run_id == run_id),
        key=lambda a: -a.id,
    )
    if req.query.get("name"):
        found = [a for a in found if a.name == req.query["name"]]
    paged = page(hub, req, found, lambda a: render.artifact(hub, a))
    return Response(200, {"total_count": len(found), "artifacts": paged.body}, paged.headers)


def get_artifact(hub: Hub, req: Request) -> Response:
    require(hub, req, "read")
    ident = req.params["artifact_id"]
    item = hub.state.artifacts.get(int(ident)) if ident.isdigit() else None
    if item is None:
        raise not_found()
    return ok(render.artifact(hub, item))


ROUTES = [
    Route("GET", "/repos/{owner}/{repo}/actions/runs/{run_id}/artifacts", list_run_artifacts),
    Route("GET", "/repos/{owner}/{repo}/actions/artifacts/{artifact_id}", get_artifact),
]
