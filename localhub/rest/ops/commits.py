"""Commits written through the API (contents, git data): a commit on a parent with files changed, signed as
the acting user. Moving a branch to it is `refs.move_ref`'s job."""

from __future__ import annotations

from typing import TYPE_CHECKING

from localhub.gitrepo import Signature
from localhub.state import now

if TYPE_CHECKING:
    from localhub.hub import Hub


def signature(hub: Hub, login: str) -> Signature:
    user = hub.state.users[login]
    return Signature(user.name or login, user.email or f"{login}@users.noreply.localhub", now())


def commit_changes(hub: Hub, actor: str, parent: str | None, changes: dict[str, bytes | None], message: str) -> str:
    """A new commit on top of `parent` with files written (bytes) or deleted (None); no ref moves."""
    git = hub.git
    base_tree = git.commit(parent).tree if parent else None
    entries: dict[str, tuple[str, str] | None] = {}
    for path, data in changes.items():
        entries[path.strip("/")] = None if data is None else ("100644", git.write_blob(data))
    tree = git.build_tree(base_tree, entries)
    sig = signature(hub, actor)
    return git.commit_tree(tree, [parent] if parent else [], message, sig, sig)
