"""When a deployment fails its smoke check on GitHub: open the revert pull request of the promotion (labelled
`rollback`), say so on the promotion's pull request, and open an incident issue, with what failed and the run
that saw it."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any

from bot.deploy import rollback
from bot.deploy.rollback_pr import open_rollback
from bot.deploy.runner import TransitionRecord
from bot.github import markers

if TYPE_CHECKING:
    from bot.github.forge import Forge, OnHead, PullRequest


@dataclass(frozen=True)
class Response:
    revert: PullRequest | None
    commented_on: int | None
    reason: str
    incident: int | None = None

    @property
    def revert_pr(self) -> int | None:
        return self.revert.number if self.revert else None

    def as_dict(self) -> dict[str, Any]:
        return {
            "revert_pr": self.revert_pr,
            "commented_on": self.commented_on,
            "reason": self.reason,
            "incident": self.incident,
        }


def marker(model: str, stage: str) -> str:
    """The hidden marker of the failure comment on the merged pull request (one per model and stage)."""
    return markers.marker(model, stage, "deploy-failure")


def comment_body(record: TransitionRecord, revert_pr: int | None, run_url: str | None) -> str:
    change = record.change
    lines = [
        f"### Deployment of {change.model} {change.version} to {change.stage} failed",
        "",
        f"**{record.failed}** failed: {record.reason}",
        "",
    ]
    if record.done:
        lines.append(f"Done before it: {', '.join(record.done)}.")
    if revert_pr is not None:
        lines.append(
            f"The revert is #{revert_pr} (labelled `rollback`): merge it to return {change.stage} to "
            f"version {change.previous or 'nothing'}."
        )
    if run_url:
        lines.append(f"Run: {run_url}")
    return "\n".join(lines)


def on_failure(
    forge: Forge,
    repo: Path,
    after: str,
    record: TransitionRecord,
    run_url: str | None,
    base: str,
    on_head: OnHead | None = None,
) -> Response:
    """Revert PR and comment for a failed (model, stage); a revert that cannot be opened is said in the comment.
    `on_head`: the caller's record of the revert's head, before it opens (bot.github.forge.OnHead)."""
    change = record.change
    target = rollback.find(repo, change.model, change.stage, after)
    revert: PullRequest | None = None
    reason = "revert opened"
    try:
        revert = open_rollback(forge, repo, target, base, on_head).pull
    except Exception as exc:  # the comment must still say what failed, and why no revert was opened
        reason = f"no revert opened: {exc}"
    body = comment_body(record, revert.number if revert else None, run_url)
    if revert is None:
        body += f"\n\n{reason}"
    commented = None
    if target.pr is not None:
        forge.upsert_comment(target.pr, marker(change.model, change.stage), body)
        commented = target.pr
    incident = forge.open_issue(
        f"Incident: {change.model} {change.version} failed its {record.failed} in {change.stage}",
        body,
        markers.marker(change.model, change.stage, f"deploy-failure-{after}"),
        ["incident"],
    )
    return Response(revert, commented, reason, incident)
