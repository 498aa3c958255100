"""Branch moves and what follows them: every ref change goes through `move_ref` (or `announce_ref` for a
`git push`), which emits the `push` webhook and brings the open pull requests along: a new head is a
`synchronize`, a deleted head closes, a head that reached its base merges, as GitHub detects them."""

from __future__ import annotations

from typing import TYPE_CHECKING

from localhub.errors import ApiError
from localhub.gitrepo import ZERO_SHA
from localhub.rest import webhooks
from localhub.state import Issue, now

if TYPE_CHECKING:
    from localhub.hub import Hub


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
    for issue in list(hub.state.issues.values()):
        pr = issue.pull
        if pr is None or issue.state != "open":
            continue
        if pr.head_ref == branch and pr.head_owner is None:  # a fork's branch of that name is not this one
            if new is None:
                close_pull(hub, actor, issue)
            elif new != pr.head_sha:
                before = pr.head_sha
                pr.head_sha = new
                issue.updated_at = now()
                hub.emit(
                    "pull_request",
                    webhooks.pull_request(hub, "synchronize", issue, actor, before=before, after=new),
                    actor,
                )
        if pr.base_ref == branch and new is not None:
            pr.base_sha = new
            if hub.git.is_ancestor(pr.head_sha, new):
                mark_merged_by_push(hub, actor, issue, new)


def sync_fork_pulls(hub: Hub, actor: str, owner: str, branch: str, new: str) -> None:
    """A push to a fork's branch moves the open pull requests from it (and their `refs/pull/N/head`)."""
    for issue in list(hub.state.issues.values()):
        pr = issue.pull
        if pr is None or issue.state != "open" or pr.head_owner != owner or pr.head_ref != branch:
            continue
        if new != pr.head_sha:
            before = pr.head_sha
            pr.head_sha = new
            hub.git.update_ref(f"refs/pull/{issue.number}/head", new)
            issue.updated_at = now()
            hub.emit(
                "pull_request", webhooks.pull_request(hub, "synchronize", issue, actor, before=before, after=new), actor
            )


def close_pull(hub: Hub, actor: str, issue: Issue) -> None:
    issue.state, issue.closed_at, issue.updated_at = "closed", now(), now()
    hub.emit("pull_request", webhooks.pull_request(hub, "closed", issue, actor), actor)


def mark_merged_by_push(hub: Hub, actor: str, issue: Issue, base_tip: str) -> None:
    """A push that brings a PR's head into its base merges the PR, as GitHub detects it."""
    pr = issue.pull
    assert pr is not None
    pr.merged, pr.merged_at, pr.merged_by, pr.merge_commit_sha = True, now(), actor, pr.head_sha
    issue.state, issue.closed_at, issue.updated_at = "closed", pr.merged_at, pr.merged_at
    hub.emit("pull_request", webhooks.pull_request(hub, "closed", issue, actor), actor)
