"""Acknowledging handlers: they state what arrived (the facts later steps of a workflow act on) as step outputs
and a summary line, without touching GitHub (deployment events)."""

from __future__ import annotations

from typing import TYPE_CHECKING

from bot.actions.events import (
    CommentEvent,
    DeploymentEvent,
    DispatchEvent,
    Event,
    PullRequestEvent,
    PushEvent,
    ReviewEvent,
)
from bot.actions.outcome import ForgeFactory, Outcome

if TYPE_CHECKING:
    from bot.actions.runtime import Runtime


def facts(event: Event) -> dict[str, str]:
    """The outputs every event yields: what it is, who sent it, and what it concerns."""
    out = {
        "event": event.name,
        "action": event.action or "",
        "sender": event.sender,
        "repository": event.repository.full_name,
    }
    if isinstance(event, CommentEvent):
        out.update(
            number=str(event.number),
            is_pull_request=str(event.is_pull_request).lower(),
            comment_id=str(event.comment_id),
        )
    elif isinstance(event, PullRequestEvent):
        out.update(
            number=str(event.number), head_sha=event.head_sha, base_ref=event.base_ref, merged=str(event.merged).lower()
        )
        if event.merge_commit_sha:
            out["merge_commit_sha"] = event.merge_commit_sha
    elif isinstance(event, ReviewEvent):
        out.update(
            number=str(event.number), review_state=event.state, commit_id=event.commit_id or "", head_sha=event.head_sha
        )
    elif isinstance(event, PushEvent):
        out.update(ref=event.ref, sha=event.after)
    elif isinstance(event, DispatchEvent):
        out.update(ref=event.ref, workflow=event.workflow)
    elif isinstance(event, DeploymentEvent):
        out.update(deployment_id=str(event.deployment_id), environment=event.environment, sha=event.sha)
    return out


def acknowledge(event: Event, runtime: Runtime, forge: ForgeFactory) -> Outcome:
    out = facts(event)
    what = f"{event.name}" + (f" {event.action}" if event.action else "")
    subject = f" #{out['number']}" if "number" in out else ""
    return Outcome(
        f"{what}{subject} from {event.sender}: received",
        out,
        f"modelbot: `{what}`{subject} from @{event.sender} received.",
    )
