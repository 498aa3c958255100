"""Commits and branch moves: every ref change goes through `move_ref`, which emits the `push` webhook and
keeps the pull requests on that branch in step (synchronize, base moves, merged-by-push), as GitHub does."""

from __future__ import annotations

from typing import TYPE_CHECKING

from localhub.errors import ApiError
from localhub.gitrepo import ZERO_SHA, Signature
from localhub.rest import webhooks
from localhub.state import now

if TYPE_CHECKING:
    from localhub.hub import Hub


def signature(hub: Hub, login: str) -> Signature:
    user = hub.state.users[login]
    return Signature(user.name or login, user.email or f"{login}@users.noreply.localhub", now())


def commit_changes(hub: Hub, actor: str, parent: str | None, changes: dict[str, bytes | None],
                   message: str) -> str:
    """A new commit on top of `parent` with files written (bytes) or deleted (None); no ref moves."""
    git = hub.git
    base_tree = git.commit(parent).tree if parent else None
    entries: dict[str, tuple[str, str] | None] = {}
    for path, data in changes.items():
        entries[path.strip("/")] = None if data is None else ("100644", git.write_blob(data))
    tree = git.build_tree(base_tree, entries)
    sig = signature(hub, actor)
    return git.commit_tree(tree, [parent] if parent else [], message, sig, sig)


def move_ref(hub: Hub, actor: str, ref: str, new: str | None, expected_old: str | None = None) -> None:
    """Point `ref` at `new` (None deletes it), then tell the world: push webhook and pull request sync."""
    git = hub.git
    old = git.resolve(ref)
    if expected_old is not None and old != expected_old:
        raise ApiError(409, f"{ref} is at {old} but expected {expected_old}")
    if new is None:
        if old is None:
            raise ApiError(422, "Reference does not exist")
        git.delete_ref(ref)
    else:
        git.update_ref(ref, new, old or ZERO_SHA)
    announce_ref(hub, actor, ref, old, new)


def announce_ref(hub: Hub, actor: str, ref: str, old: str | None, new: str | None) -> None:
    """What follows a ref move, however it moved (API, test API, or a `git push` over HTTP)."""
    git = hub.git
    hub.state.repo.pushed_at = now()
    if ref.startswith("refs/heads/"):
        forced = bool(old and new and not git.is_ancestor(old, new))
        hub.emit("push", webhooks.push(hub, actor, ref, old, new, forced), actor)
        _sync_pulls(hub, actor, ref.removeprefix("refs/heads/"), new)


def _sync_pulls(hub: Hub, actor: str, branch: str, new: str | None) -> None:
    from localhub.rest.ops.pulls import close_pull, mark_merged_by_push

    for issue in list(hub.state.issues.values()):
        pr = issue.pull
        if pr is None or issue.state != "open":
            continue
        if pr.head_ref == branch:
            if new is None:
                close_pull(hub, actor, issue)
            elif new != pr.head_sha:
                before = pr.head_sha
                pr.head_sha = new
                issue.updated_at = now()
                hub.emit("pull_request", webhooks.pull_request(hub, "synchronize", issue, actor,
                                                              before=before, after=new), actor)
        if pr.base_ref == branch and new is not None:
            pr.base_sha = new
            if hub.git.is_ancestor(pr.head_sha, new):
                mark_merged_by_push(hub, actor, issue, new)
