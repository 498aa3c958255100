"""PyGithub's objects turned into the forge's plain values (`forge.py`), so nothing past the adapter holds a
live object that may fetch on attribute access."""

from __future__ import annotations

from typing import Any

from bot.github.forge import Comment, PullRequest


def to_pull(pr: Any) -> PullRequest:
    """Plain values from a PyGithub pull request, reading only fields that list answers carry too."""
    return PullRequest(
        number=pr.number,
        title=pr.title,
        body=pr.body or "",
        state=pr.state,
        merged=pr.merged_at is not None,
        author=pr.user.login if pr.user else "",
        head_ref=pr.head.ref,
        head_sha=pr.head.sha,
        base_ref=pr.base.ref,
        base_sha=pr.base.sha,
        merge_commit_sha=pr.merge_commit_sha,
        html_url=pr.html_url,
        labels=tuple(label.name for label in pr.labels),
        updated_at=pr.updated_at.strftime("%Y-%m-%dT%H:%M:%SZ") if getattr(pr, "updated_at", None) else None,
        fork=_from_fork(pr),
    )


def _from_fork(pr: Any) -> bool:
    """Whether the head lives in another repository (a deleted fork leaves no repository: a fork too)."""
    head, base = pr.head.repo, pr.base.repo
    return head is None or base is None or head.full_name.lower() != base.full_name.lower()


def to_comment(comment: Any) -> Comment:
    return Comment(comment.id, comment.body or "", comment.user.login if comment.user else "", comment.html_url)
