"""The git data API: blobs, trees, commits and refs, each a real git object or ref."""

from __future__ import annotations

import base64
import binascii
from typing import TYPE_CHECKING, Any

from localhub.errors import ApiError, invalid, not_found
from localhub.gitrepo import Signature
from localhub.rest.api import Request, Response, Route, ok, require
from localhub.rest.ops.commits import signature
from localhub.rest.ops.refs import move_ref
from localhub.rest.render import git as render
from localhub.state import now

if TYPE_CHECKING:
    from localhub.hub import Hub


def _object(hub: Hub, sha: str, kind: str) -> str:
    if len(sha) != 40 or hub.git.object_type(sha) != kind:
        raise not_found()
    return sha


def create_blob(hub: Hub, req: Request) -> Response:
    require(hub, req, "write")
    content = req.json_field("content", "Blob", required=True)
    encoding = req.json_field("encoding", "Blob", default="utf-8")
    if encoding == "base64":
        try:
            data = base64.b64decode(content)
        except (binascii.Error, TypeError):
            raise invalid("Blob", "content", "invalid") from None
    elif encoding in ("utf-8", "utf8"):
        data = str(content).encode()
    else:
        raise invalid("Blob", "encoding", "invalid")
    sha = hub.git.write_blob(data)
    return ok({"url": f"{hub.base_url}/repos/{hub.state.repo.full_name}/git/blobs/{sha}", "sha": sha}, 201)


def get_blob(hub: Hub, req: Request) -> Response:
    sha = _object(hub, req.params["file_sha"], "blob")
    return ok(render.blob(hub, sha, hub.git.read_blob(sha)))


def create_tree(hub: Hub, req: Request) -> Response:
    """A tree from `base_tree` plus entries: a blob sha, inline `content`, or `sha: null` to delete a path."""
    require(hub, req, "write")
    entries = req.json_field("tree", "Tree", required=True)
    base_tree = req.json_field("base_tree", "Tree")
    if base_tree is not None:
        _object(hub, base_tree, "tree")
    if not isinstance(entries, list):
        raise invalid("Tree", "tree", "invalid")
    changes: dict[str, tuple[str, str] | None] = {}
    for index, entry in enumerate(entries):
        changes[_entry_path(entry, index)] = _entry_target(hub, entry, index)
    sha = hub.git.build_tree(base_tree, changes)
    return ok(render.git_tree(hub, sha, hub.git.tree(sha, recursive=True)), 201)


def _entry_path(entry: Any, index: int) -> str:
    if not isinstance(entry, dict) or not isinstance(entry.get("path"), str) or not entry["path"].strip("/"):
        raise ApiError(
            422, "Validation Failed", [{"resource": "Tree", "field": f"tree[{index}].path", "code": "missing_field"}]
        )
    return str(entry["path"]).strip("/")


def _entry_target(hub: Hub, entry: dict[str, Any], index: int) -> tuple[str, str] | None:
    mode = str(entry.get("mode", "100644"))
    if "content" in entry:
        return mode, hub.git.write_blob(str(entry["content"]).encode())
    if entry.get("sha", "") is None:
        return None
    sha = entry.get("sha")
    if not isinstance(sha, str) or hub.git.object_type(sha) is None:
        raise ApiError(
            422, "Validation Failed", [{"resource": "Tree", "field": f"tree[{index}].sha", "code": "invalid"}]
        )
    return mode, sha


def get_tree(hub: Hub, req: Request) -> Response:
    sha = req.params["tree_sha"]
    tree = hub.git.resolve(f"{sha}^{{tree}}")
    if tree is None:
        raise not_found()
    recursive = req.query.get("recursive") not in (None, "", "0", "false")
    return ok(render.git_tree(hub, tree, hub.git.tree(tree, recursive=recursive)))


def create_commit(hub: Hub, req: Request) -> Response:
    actor = require(hub, req, "write")
    message = req.json_field("message", "Commit", required=True)
    tree = _object(hub, str(req.json_field("tree", "Commit", required=True)), "tree")
    parents = req.json_field("parents", "Commit", default=[])
    for parent in parents:
        if hub.git.object_type(parent) != "commit":
            raise ApiError(422, f"Parent SHA does not exist or is not a commit object: {parent}")
    default = signature(hub, actor)
    author = _signature(req.json_field("author", "Commit"), default)
    committer = _signature(req.json_field("committer", "Commit"), author)
    sha = hub.git.commit_tree(tree, list(parents), str(message), author, committer)
    return ok(render.git_commit(hub, hub.git.commit(sha)), 201)


def _signature(given: Any, default: Signature) -> Signature:
    if not isinstance(given, dict):
        return default
    return Signature(
        str(given.get("name") or default.name),
        str(given.get("email") or default.email),
        str(given.get("date") or now()),
    )


def get_commit(hub: Hub, req: Request) -> Response:
    sha = _object(hub, req.params["commit_sha"], "commit")
    return ok(render.git_commit(hub, hub.git.commit(sha)))


def _full_ref(ref: str) -> str:
    return ref if ref.startswith("refs/") else f"refs/{ref}"


def get_ref(hub: Hub, req: Request) -> Response:
    ref = _full_ref(req.params["ref"])
    sha = hub.git.refs(ref).get(ref)
    if sha is None:
        raise not_found()
    return ok(render.git_ref(hub, ref, sha))


def create_ref(hub: Hub, req: Request) -> Response:
    actor = require(hub, req, "write")
    ref = req.json_field("ref", "Reference", required=True)
    sha = req.json_field("sha", "Reference", required=True)
    if not isinstance(ref, str) or not ref.startswith("refs/") or ref.count("/") < 2:
        raise ApiError(422, "Reference name must start with 'refs/' and have at least two slashes.")
    if hub.git.resolve(ref) is not None:
        raise ApiError(422, "Reference already exists")
    if not isinstance(sha, str) or hub.git.object_type(sha) is None:
        raise ApiError(422, "Object does not exist")
    move_ref(hub, actor, ref, sha)
    return ok(render.git_ref(hub, ref, sha), 201)


def update_ref(hub: Hub, req: Request) -> Response:
    actor = require(hub, req, "write")
    ref = _full_ref(req.params["ref"])
    sha = req.json_field("sha", "Reference", required=True)
    old = hub.git.resolve(ref)
    if old is None:
        raise ApiError(422, "Reference does not exist")
    if not isinstance(sha, str) or hub.git.object_type(sha) != "commit":
        raise ApiError(422, "Object does not exist")
    if not req.json_field("force", "Reference", default=False) and not hub.git.is_ancestor(old, sha):
        raise ApiError(422, "Update is not a fast forward")
    move_ref(hub, actor, ref, sha, expected_old=old)
    return ok(render.git_ref(hub, ref, sha))


def delete_ref(hub: Hub, req: Request) -> Response:
    actor = require(hub, req, "write")
    ref = _full_ref(req.params["ref"])
    if hub.git.resolve(ref) is None:
        raise ApiError(422, "Reference does not exist")
    move_ref(hub, actor, ref, None)
    return Response(204)


ROUTES = [
    Route("POST", "/repos/{owner}/{repo}/git/blobs", create_blob),
    Route("GET", "/repos/{owner}/{repo}/git/blobs/{file_sha}", get_blob),
    Route("POST", "/repos/{owner}/{repo}/git/trees", create_tree),
    Route("GET", "/repos/{owner}/{repo}/git/trees/{tree_sha}", get_tree),
    Route("POST", "/repos/{owner}/{repo}/git/commits", create_commit),
    Route("GET", "/repos/{owner}/{repo}/git/commits/{commit_sha}", get_commit),
    Route("GET", "/repos/{owner}/{repo}/git/ref/{ref}", get_ref),
    Route("POST", "/repos/{owner}/{repo}/git/refs", create_ref),
    Route("PATCH", "/repos/{owner}/{repo}/git/refs/{ref}", update_ref),
    Route("DELETE", "/repos/{owner}/{repo}/git/refs/{ref}", delete_ref),
]
