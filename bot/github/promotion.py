"""Find-or-create the promotion pull request of a (model, stage): one branch, one pull request.

A newer proposal for the same pair force-updates that branch with one commit on top of the current base
and edits the title and body, instead of opening a second pull request; the commit message and the result
say what it superseded. Repeating a proposal with nothing new writes nothing.

Costs (requests): open 6 (+1 with labels); repeat unchanged 2; supersede 7; only title/body changed 3.
Given the base tip (`BaseTip`), opening and superseding cost 1 less: the base branch is not read. A pull
request opened here is remembered by the forge's run cache as having no comments and no reviews yet.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import TYPE_CHECKING

from bot.github.branches import branch_tip, force_branch, open_pull, point_branch
from bot.github.forge import BaseTip, OnHead, PromotionPR, PullRequest, Superseded
from bot.github.markers import marker, promotion_branch, sections_of, with_marker, without_sections

if TYPE_CHECKING:
    from bot.github.client import GitHubForge


def find_or_create(
    forge: GitHubForge,
    model: str,
    stage: str,
    files: Mapping[str, str],
    title: str,
    body: str,
    base: str,
    labels: Sequence[str],
    tip: BaseTip | None = None,
    on_head: OnHead | None = None,
) -> PromotionPR:
    """`on_head(sha, labels)` is called with a new head commit once its branch points at it, before a pull
    request shows it (the caller's record of it, for whatever finishes a run killed after this)."""
    branch = promotion_branch(model, stage)
    text = with_marker(body, marker(model, stage, "promotion"))
    existing = forge.open_pull_for(branch)
    if existing is None:
        sha = point_branch(forge, branch, _commit_on_base(forge, base, files, title, None, tip))
        if on_head is not None:
            on_head(sha, labels)
        pull = open_pull(forge, branch, base, title, text)
        if labels:
            forge.add_labels(pull.number, labels)
            pull = PullRequest(**{**pull.__dict__, "labels": tuple(dict.fromkeys([*pull.labels, *labels]))})
        return PromotionPR(pull, "opened")
    # A pull request found open may lack its labels (a run killed between opening and labelling it): add them.
    missing = [name for name in labels if name not in existing.labels]
    forge.add_labels(existing.number, missing)
    existing = PullRequest(**{**existing.__dict__, "labels": tuple(dict.fromkeys([*existing.labels, *missing]))})
    if all(forge.file_text(path, existing.head_sha) == content for path, content in files.items()):
        # The same head: the bot's sections (the model card of its validation) stay; only its own text is compared.
        if (existing.title, without_sections(existing.body)) == (title, without_sections(text)):
            return PromotionPR(existing, "unchanged")
        return PromotionPR(_edit(forge, existing, title, text + sections_of(existing.body)), "updated")
    superseded = Superseded(existing.head_sha, existing.title)
    sha = _commit_on_base(forge, base, files, title, superseded, tip)
    force_branch(forge, branch, sha)
    if on_head is not None:
        on_head(sha, labels)
    pull = _edit(forge, existing, title, text, head_sha=sha)
    return PromotionPR(pull, "updated", superseded)


def _commit_on_base(
    forge: GitHubForge,
    base: str,
    files: Mapping[str, str],
    title: str,
    superseded: Superseded | None,
    tip: BaseTip | None,
) -> str:
    """One commit on the tip of `base` writing `files`, through the git data API: 3 requests, 2 when the
    caller names the tip (a tree and a commit are content-addressed, so retrying them is harmless)."""
    if tip is None:
        tip = forge.retrier.call(f"read branch {base}", lambda: branch_tip(forge, base))
    elements = [{"path": path, "mode": "100644", "type": "blob", "content": content} for path, content in files.items()]
    url = f"{forge.repo.url}/git/trees"
    _, tree = forge.retrier.call(
        "write the tree",
        lambda: forge.gh.requester.requestJsonAndCheck("POST", url, input={"tree": elements, "base_tree": tip.tree}),
    )
    message = title if superseded is None else (f"{title}\n\nSupersedes {superseded.head_sha} ({superseded.title}).")
    return forge.create_commit(message, str(tree["sha"]), [tip.commit])


def _edit(forge: GitHubForge, pull: PullRequest, title: str, body: str, head_sha: str | None = None) -> PullRequest:
    """Edit title and body (PATCH: idempotent). 1 request."""
    forge.retrier.call(f"edit #{pull.number}", lambda: forge.repo.get_pull(pull.number).edit(title=title, body=body))
    return PullRequest(**{**pull.__dict__, "title": title, "body": body, "head_sha": head_sha or pull.head_sha})
