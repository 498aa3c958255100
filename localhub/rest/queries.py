"""What GitHub computes from the stored state when it answers (the newest status per context, a pull
request's mergeability): read-only, so renderers and operations can both ask without depending on each other."""

from __future__ import annotations

from typing import TYPE_CHECKING

from localhub.state import Issue, Status

if TYPE_CHECKING:
    from localhub.hub import Hub


def latest_statuses(hub: Hub, sha: str) -> list[Status]:
    """The newest status per context, newest first, as the combined status counts them."""
    seen: dict[str, Status] = {}
    for item in reversed(hub.state.statuses):
        if item.sha == sha and item.context not in seen:
            seen[item.context] = item
    return list(seen.values())


def mergeability(hub: Hub, issue: Issue) -> tuple[bool | None, str]:
    """(mergeable, mergeable_state) as GitHub computes them: a real trial merge of head into base."""
    pr = issue.pull
    assert pr is not None
    if issue.state != "open":
        return None, "unknown"
    result = hub.git.merge_tree(pr.base_sha, pr.head_sha)
    if result.conflicts or result.tree is None:
        return False, "dirty"
    return True, "clean"
