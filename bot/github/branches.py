"""Branch and pull-request writes the bot's own branches share (promotion and revert pull requests): read a
tip, point or force a branch, open a pull request exactly once."""

from __future__ import annotations

from typing import TYPE_CHECKING

from bot.github.forge import BaseTip, PullRequest
from bot.github.retry import status_of
from bot.github.values import to_pull

if TYPE_CHECKING:
    from bot.github.client import GitHubForge


def branch_tip(forge: GitHubForge, name: str) -> BaseTip:
    """1 request: the branch answer carries the tip's id and its tree's."""
    commit = forge.repo.get_branch(name).commit
    return BaseTip(commit.sha, commit.commit.tree.sha)


def ref_url(forge: GitHubForge, branch: str) -> str:
    return f"{forge.repo.url}/git/refs/heads/{branch}"


def force_branch(forge: GitHubForge, branch: str, sha: str) -> None:
    """PATCH the branch to `sha` (forced: the branch holds only the bot's commit). 1 request."""
    forge.retrier.call(
        f"move {branch}",
        lambda: forge.gh.requester.requestJsonAndCheck(
            "PATCH", ref_url(forge, branch), input={"sha": sha, "force": True}
        ),
    )


def point_branch(forge: GitHubForge, branch: str, sha: str) -> str:
    """Create the branch at `sha`; if it already exists (left by a closed PR, by our own earlier attempt that
    GitHub applied before failing, or by a run killed before it opened its pull request), keep its tip when
    that is the same change (the same tree, parents and message as `sha`: that run's commit, which may carry the
    bot's record), else move it to `sha`. Returns the branch's tip. 1 request; 2 to 4 when it exists."""

    def create() -> str:
        try:
            forge.repo.create_git_ref(f"refs/heads/{branch}", sha)
        except Exception as exc:
            if status_of(exc) != 422:
                raise
            tip = forge.repo.get_branch(branch).commit
            if tip.sha == sha:  # the same commit, made by a run killed in the same second: not this run's alone
                forge.cache.own_commits.discard(sha)
                return sha
            new = forge.repo.get_git_commit(sha)
            if (tip.commit.tree.sha, [p.sha for p in tip.parents], tip.commit.message) == (
                new.tree.sha,
                [p.sha for p in new.parents],
                new.message,
            ):
                return str(tip.sha)
            force_branch(forge, branch, sha)
        return sha

    return str(forge.retrier.call(f"create {branch}", create))


def open_pull(forge: GitHubForge, branch: str, base: str, title: str, body: str) -> PullRequest:
    """Open the pull request once. Only when our own POST answered (not when an ambiguous failure made us
    find it) is it surely new, and so remembered as holding no comments and no reviews yet."""
    posted: list[int] = []

    def create() -> PullRequest:
        pull = to_pull(forge.repo.create_pull(base=base, head=branch, title=title, body=body))
        posted.append(pull.number)
        return pull

    created = forge.retrier.create_once(
        f"open the pull request for {branch}", create, lambda: forge.open_pull_for(branch)
    )
    if created.number in posted:
        forge.cache.opened(created.number, created.body)
    return created
