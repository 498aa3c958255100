"""Files, branches and commits: contents (get/create/update/delete), branches, commit lists, compare, merges."""

from __future__ import annotations

import base64
import binascii
from typing import TYPE_CHECKING

from localhub.errors import ApiError, invalid, missing, not_found
from localhub.gitrepo import TreeEntry
from localhub.rest.api import Request, Response, Route, ok, page, require
from localhub.rest.ops.commits import commit_changes, signature
from localhub.rest.ops.refs import move_ref
from localhub.rest.render import git as render
from localhub.rest.render import issues as render_issues

if TYPE_CHECKING:
    from localhub.hub import Hub


def _ref_sha(hub: Hub, ref: str | None) -> str:
    ref = ref or hub.state.repo.default_branch
    for candidate in (f"refs/heads/{ref}", f"refs/tags/{ref}", ref):
        sha = hub.git.resolve_commit(candidate)
        if sha:
            return sha
    raise ApiError(404, f"No commit found for the ref {ref}")


def get_content(hub: Hub, req: Request) -> Response:
    ref = req.query.get("ref") or hub.state.repo.default_branch
    sha = _ref_sha(hub, ref)
    path = req.params["path"].strip("/")
    entry = hub.git.file_at(sha, path)
    if entry is None:
        raise not_found()
    if entry.type == "tree":
        return ok([render.content_file(hub, e.path, e, ref, with_content=False) for e in hub.git.list_dir(sha, path)])
    return ok(render.content_file(hub, path, entry, ref))


def put_content(hub: Hub, req: Request) -> Response:
    """Create or update one file as a new commit on a branch; `sha` must name the blob being replaced."""
    actor = require(hub, req, "write")
    message = req.json_field("message", "Content", required=True)
    encoded = req.json_field("content", "Content", required=True)
    try:
        data = base64.b64decode(encoded, validate=True)
    except (binascii.Error, TypeError):
        raise invalid("Content", "content", "invalid", "content is not valid Base64") from None
    path, branch, parent, existing = _target(hub, req)
    given = req.json_field("sha", "Content")
    if existing is not None and given is None:
        raise ApiError(422, 'Invalid request.\n\n"sha" wasn\'t supplied.')
    if existing is not None and given != existing.sha:
        raise ApiError(409, f"{path} does not match {given}")
    commit = commit_changes(hub, actor, parent, {path: data}, str(message))
    move_ref(hub, actor, f"refs/heads/{branch}", commit, expected_old=parent)
    entry = hub.git.file_at(commit, path)
    return ok(render.file_commit(hub, path, entry, hub.git.commit(commit), branch), 200 if existing else 201)


def delete_content(hub: Hub, req: Request) -> Response:
    actor = require(hub, req, "write")
    message = req.json_field("message", "Content", required=True)
    given = req.json_field("sha", "Content", required=True)
    path, branch, parent, existing = _target(hub, req)
    if existing is None:
        raise not_found()
    if given != existing.sha:
        raise ApiError(409, f"{path} does not match {given}")
    commit = commit_changes(hub, actor, parent, {path: None}, str(message))
    move_ref(hub, actor, f"refs/heads/{branch}", commit, expected_old=parent)
    return ok(render.file_commit(hub, path, None, hub.git.commit(commit), branch))


def _target(hub: Hub, req: Request) -> tuple[str, str, str | None, TreeEntry | None]:
    path = req.params["path"].strip("/")
    branch = req.json_field("branch", "Content") or hub.state.repo.default_branch
    parent = hub.git.resolve_commit(f"refs/heads/{branch}")
    if parent is None and branch != hub.state.repo.default_branch:
        raise ApiError(404, f"Branch {branch} not found")
    existing = hub.git.file_at(parent, path) if parent else None
    return path, branch, parent, existing


def get_branch(hub: Hub, req: Request) -> Response:
    name = req.params["branch"]
    sha = hub.git.resolve_commit(f"refs/heads/{name}")
    if sha is None:
        raise ApiError(404, "Branch not found")
    return ok(render.branch(hub, name, sha))


def branch_protection(hub: Hub, req: Request) -> Response:
    if hub.git.resolve_commit(f"refs/heads/{req.params['branch']}") is None:
        raise ApiError(404, "Branch not found")
    raise ApiError(404, "Branch not protected")


def list_commits(hub: Hub, req: Request) -> Response:
    """Commits reachable from `sha` (default branch by default), newest first, optionally touching `path`."""
    start = _ref_sha(hub, req.query.get("sha"))
    shas = hub.git.log(start, path=req.query.get("path") or None)
    if not shas:
        return page(hub, req, [], lambda s: s)
    return page(hub, req, shas, lambda sha: render.commit(hub, hub.git.commit(sha)))


def get_commit(hub: Hub, req: Request) -> Response:
    sha = _ref_sha(hub, req.params["ref"])
    info = hub.git.commit(sha)
    parent = info.parents[0] if info.parents else hub.git.build_tree(None, {})
    return ok(render.commit(hub, info, hub.git.changes(parent, sha)))


def commit_pulls(hub: Hub, req: Request) -> Response:
    """Pull requests whose head holds the commit, or that merged it."""
    sha = _ref_sha(hub, req.params["commit_sha"])
    found = [
        issue
        for issue in hub.state.issues.values()
        if issue.pull and (issue.pull.merge_commit_sha == sha or hub.git.is_ancestor(sha, issue.pull.head_sha))
    ]
    return page(hub, req, found, lambda issue: render_issues.pull(hub, issue, full=False))


def compare(hub: Hub, req: Request) -> Response:
    return ok(render.comparison(hub, _ref_sha(hub, req.params["base"]), _ref_sha(hub, req.params["head"])))


def merge_branches(hub: Hub, req: Request) -> Response:
    """POST /merges: merge `head` into the branch `base`; 204 when there is nothing to merge, 409 on conflict."""
    actor = require(hub, req, "write")
    base_name = req.json_field("base", "Merge", required=True)
    head_sha = _ref_sha(hub, req.json_field("head", "Merge", required=True))
    base_sha = hub.git.resolve_commit(f"refs/heads/{base_name}")
    if base_sha is None:
        raise missing("Merge", "base")
    if hub.git.is_ancestor(head_sha, base_sha):
        return Response(204)
    result = hub.git.merge_tree(base_sha, head_sha)
    if result.tree is None:
        raise ApiError(409, "Merge conflict")
    message = req.json_field("commit_message", "Merge") or f"Merge {req.body['head']} into {base_name}"
    sig = signature(hub, actor)
    merged = hub.git.commit_tree(result.tree, [base_sha, head_sha], message, sig, sig)
    move_ref(hub, actor, f"refs/heads/{base_name}", merged, expected_old=base_sha)
    return ok(render.commit(hub, hub.git.commit(merged)), 201)


ROUTES = [
    Route("GET", "/repos/{owner}/{repo}/contents/{path}", get_content),
    Route("PUT", "/repos/{owner}/{repo}/contents/{path}", put_content),
    Route("DELETE", "/repos/{owner}/{repo}/contents/{path}", delete_content),
    Route("GET", "/repos/{owner}/{repo}/branches/{branch}", get_branch),
    Route("GET", "/repos/{owner}/{repo}/branches/{branch}/protection", branch_protection),
    Route("GET", "/repos/{owner}/{repo}/commits", list_commits),
    Route("GET", "/repos/{owner}/{repo}/commits/{ref}", get_commit),
    Route("GET", "/repos/{owner}/{repo}/commits/{commit_sha}/pulls", commit_pulls),
    Route("GET", "/repos/{owner}/{repo}/compare/{base}...{head}", compare),
    Route("POST", "/repos/{owner}/{repo}/merges", merge_branches),
]
