"""Revert a merged pull request into a new pull request holding one true revert commit.

There is no REST endpoint for GitHub's Revert button (it is the GraphQL `revertPullRequest`), so the
commit is built with the git data API, as `git revert` would: the commit's parent is the base branch's tip
and its tree undoes the merge. When the base has not moved since the merge, that tree is simply the tree
of the merge's first parent; otherwise GitHub merges the inverse change onto the tip (`POST /merges`, a
real three-way merge) and the revert commit takes that merge's tree with the tip as its only parent.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import TYPE_CHECKING, Any

from bot.errors import RefusedError
from bot.github.branches import force_branch, open_pull, point_branch
from bot.github.forge import PullRequest
from bot.github.retry import status_of

if TYPE_CHECKING:
    from bot.github.client import GitHubForge


class RevertConflict(RefusedError):
    """Later changes touch the lines the revert would restore; git cannot apply it on its own."""


def revert_branch(number: int) -> str:
    return f"modelbot/revert/{number}"


def revert_message(title: str, sha: str) -> str:
    return f'Revert "{title}"\n\nThis reverts commit {sha}.'


def revert_pull(forge: GitHubForge, number: int, on_head: Callable[[str], None] | None = None) -> PullRequest:
    """`on_head(sha)` is called with the revert commit once its branch points at it, before the pull request
    shows it (the caller's record of it)."""
    original = forge.pull_request(number)
    if not original.merged or not original.merge_commit_sha:
        raise RefusedError(f"#{number} is not merged: only a merged pull request can be reverted")
    branch = revert_branch(number)
    existing = forge.open_pull_for(branch)
    if existing is not None:
        return existing
    merged = original.merge_commit_sha
    repo = forge.repo
    merge_commit = forge.retrier.call(f"read commit {merged[:12]}", lambda: _loaded_commit(repo, merged))
    before = merge_commit.parents[0].sha
    tip = forge.retrier.call(f"read branch {original.base_ref}", lambda: repo.get_branch(original.base_ref).commit.sha)
    message = revert_message(original.title, merged)
    commit = _revert_commit(forge, merge_commit, before, tip, branch, message)
    if on_head is not None:
        on_head(commit)
    title, body = message.split("\n\n", 1)
    return open_pull(forge, branch, original.base_ref, title, f"{body}\n\nReverts #{number}.")


def _loaded_commit(repo: Any, sha: str) -> Any:
    commit = repo.get_git_commit(sha)
    _ = commit.tree.sha
    return commit


def _revert_commit(forge: GitHubForge, merge_commit: Any, before: str, tip: str, branch: str, message: str) -> str:
    """The revert commit, `branch` pointing at it: on the merge itself, the tree from before it (the branch kept
    where it holds that very commit: `point_branch`); on a later tip, the inverse change merged onto it, unless
    the branch holds that revert already (`_onto_tip`)."""
    repo = forge.repo
    before_commit = forge.retrier.call("read the commit before the merge", lambda: _loaded_commit(repo, before))
    if tip == merge_commit.sha:
        return point_branch(forge, branch, forge.create_commit(message, before_commit.tree.sha, [tip]))
    kept = _onto_tip(forge, branch, tip, message)
    if kept is not None:
        return kept
    commit = forge.create_commit(message, _revert_tree(forge, merge_commit, before_commit, tip, branch), [tip])
    force_branch(forge, branch, commit)
    return commit


def _onto_tip(forge: GitHubForge, branch: str, tip: str, message: str) -> str | None:
    """Point `branch` at `tip`, for the inverse change to be merged onto it. Unless the branch holds this very
    revert already, made by the bot: `message` on `tip`, with the bot's check run on it (no other writer can
    create one under the bot's identity), left by a run killed before it opened the pull request. That commit
    is kept and returned: its record stays on the head the pull request shows, instead of on a commit the
    branch was forced away from. 1 request; 3 or 4 when the branch exists."""

    def create() -> str | None:
        try:
            forge.repo.create_git_ref(f"refs/heads/{branch}", tip)
            return None
        except Exception as exc:
            if status_of(exc) != 422:
                raise
        found = forge.repo.get_branch(branch).commit
        same = ([p.sha for p in found.parents], found.commit.message) == ([tip], message)
        if same and forge.own_check_runs(found.sha):
            return str(found.sha)
        force_branch(forge, branch, tip)
        return None

    return forge.retrier.call(f"create {branch}", create)


def _revert_tree(forge: GitHubForge, merge_commit: Any, before_commit: Any, tip: str, branch: str) -> str:
    """The tree of the revert commit onto a later `tip` (`branch` points at it): the inverse change merged."""
    repo = forge.repo
    merged = merge_commit.sha
    inverse = forge.create_commit("inverse", before_commit.tree.sha, [merged])
    try:
        result = forge.retrier.call(
            "merge the inverse change onto the tip", lambda: repo.merge(branch, inverse, "revert")
        )
    except Exception as exc:
        if status_of(exc.__cause__ or exc) == 409:
            raise RevertConflict(
                f"the merge of {merged[:12]} cannot be reverted cleanly onto {tip[:12]}: "
                "later changes touch the same lines; revert it by hand"
            ) from exc
        raise
    if result is None:
        return str(before_commit.tree.sha)
    return str(result.commit.tree.sha)
