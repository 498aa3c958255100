"""Webhook payloads as typed events: validated once at the boundary, then trusted.

A payload that lacks a field the bot needs fails here with that field's dotted path (`pull_request.head.sha`),
never later with a KeyError.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

from bot.errors import ModelbotError


class PayloadError(ModelbotError):
    """The event payload lacks a field the handler needs, or holds the wrong type there."""


class _Reader:
    def __init__(self, payload: Mapping[str, Any], event: str) -> None:
        self.payload = payload
        self.event = event

    def get(self, path: str, kind: type | tuple[type, ...] = object, required: bool = True) -> Any:
        node: Any = self.payload
        for part in path.split("."):
            if not isinstance(node, Mapping) or part not in node or (required and node[part] is None):
                if not required:
                    return None
                raise PayloadError(f"{self.event} payload: missing field {path}")
            node = node[part]
        if node is not None and not isinstance(node, kind):
            names = kind.__name__ if isinstance(kind, type) else " or ".join(k.__name__ for k in kind)
            raise PayloadError(f"{self.event} payload: field {path} should be {names}, not {type(node).__name__}")
        return node


@dataclass(frozen=True)
class Repository:
    full_name: str
    default_branch: str

    @property
    def owner(self) -> str:
        return self.full_name.split("/", 1)[0]


@dataclass(frozen=True)
class Event:
    name: str
    action: str | None
    repository: Repository
    sender: str


@dataclass(frozen=True)
class CommentEvent(Event):
    number: int
    is_pull_request: bool
    comment_id: int
    body: str
    author: str
    author_association: str
    author_type: str = "User"


@dataclass(frozen=True)
class PullRequestEvent(Event):
    number: int
    title: str
    body: str
    author: str
    head_ref: str
    head_sha: str
    base_ref: str
    base_sha: str
    merged: bool
    merge_commit_sha: str | None
    labels: tuple[str, ...] = ()
    before: str | None = None  # the head before a push (synchronize)
    base_changed: bool = False  # an `edited` event that moved the pull request to another base


@dataclass(frozen=True)
class ReviewEvent(Event):
    number: int
    review_id: int
    reviewer: str
    state: str  # approved, changes_requested, commented, dismissed
    commit_id: str | None
    head_sha: str
    author: str
    title: str = ""
    head_ref: str = ""
    base_ref: str = ""
    base_sha: str = ""


@dataclass(frozen=True)
class PushEvent(Event):
    ref: str
    before: str
    after: str
    deleted: bool


@dataclass(frozen=True)
class DispatchEvent(Event):
    ref: str
    workflow: str
    inputs: Mapping[str, Any] = field(default_factory=dict)


@dataclass(frozen=True)
class DeploymentEvent(Event):
    deployment_id: int
    sha: str
    ref: str
    environment: str
    payload: Mapping[str, Any]
    state: str | None = None  # the deployment status, for deployment_status events


def _common(r: _Reader, name: str) -> dict[str, Any]:
    action = r.get("action", str, required=False)
    return {
        "name": name,
        "action": action,
        "repository": Repository(
            r.get("repository.full_name", str), r.get("repository.default_branch", str, required=False) or "main"
        ),
        "sender": r.get("sender.login", str),
    }


def _comment(r: _Reader, name: str) -> CommentEvent:
    return CommentEvent(
        **_common(r, name),
        number=r.get("issue.number", int),
        is_pull_request=r.get("issue.pull_request", dict, required=False) is not None,
        comment_id=r.get("comment.id", int),
        body=r.get("comment.body", str, required=False) or "",
        author=r.get("comment.user.login", str),
        author_association=r.get("comment.author_association", str, required=False) or "NONE",
        author_type=r.get("comment.user.type", str, required=False) or "User",
    )


def _pull(r: _Reader, name: str) -> PullRequestEvent:
    return PullRequestEvent(
        **_common(r, name),
        number=r.get("pull_request.number", int),
        title=r.get("pull_request.title", str),
        body=r.get("pull_request.body", str, required=False) or "",
        author=r.get("pull_request.user.login", str),
        head_ref=r.get("pull_request.head.ref", str),
        head_sha=r.get("pull_request.head.sha", str),
        base_ref=r.get("pull_request.base.ref", str),
        base_sha=r.get("pull_request.base.sha", str),
        merged=bool(r.get("pull_request.merged", bool, required=False)),
        merge_commit_sha=r.get("pull_request.merge_commit_sha", str, required=False),
        labels=tuple(
            label.get("name", "")
            for label in r.get("pull_request.labels", list, required=False) or []
            if isinstance(label, Mapping)
        ),
        before=r.get("before", str, required=False),
        base_changed=r.get("changes.base", dict, required=False) is not None,
    )


def _review(r: _Reader, name: str) -> ReviewEvent:
    return ReviewEvent(
        **_common(r, name),
        number=r.get("pull_request.number", int),
        review_id=r.get("review.id", int),
        reviewer=r.get("review.user.login", str),
        state=r.get("review.state", str).lower(),
        commit_id=r.get("review.commit_id", str, required=False),
        head_sha=r.get("pull_request.head.sha", str),
        author=r.get("pull_request.user.login", str),
        title=r.get("pull_request.title", str),
        head_ref=r.get("pull_request.head.ref", str),
        base_ref=r.get("pull_request.base.ref", str),
        base_sha=r.get("pull_request.base.sha", str),
    )


def _push(r: _Reader, name: str) -> PushEvent:
    return PushEvent(
        **_common(r, name),
        ref=r.get("ref", str),
        before=r.get("before", str),
        after=r.get("after", str),
        deleted=bool(r.get("deleted", bool, required=False)),
    )


def _dispatch(r: _Reader, name: str) -> DispatchEvent:
    return DispatchEvent(
        **_common(r, name),
        ref=r.get("ref", str),
        workflow=r.get("workflow", str),
        inputs=r.get("inputs", dict, required=False) or {},
    )


def _deployment(r: _Reader, name: str) -> DeploymentEvent:
    state = r.get("deployment_status.state", str) if name == "deployment_status" else None
    return DeploymentEvent(
        **_common(r, name),
        deployment_id=r.get("deployment.id", int),
        sha=r.get("deployment.sha", str),
        ref=r.get("deployment.ref", str),
        environment=r.get("deployment.environment", str),
        payload=r.get("deployment.payload", (dict, str), required=False) or {},
        state=state,
    )


def _schedule(r: _Reader, name: str) -> DispatchEvent:
    """A scheduled run: GitHub's payload carries little more than the cron line; it syncs the registry and
    finishes pull requests no run finished."""
    full_name = r.get("repository.full_name", str, required=False) or ""
    branch = r.get("repository.default_branch", str, required=False) or "main"
    return DispatchEvent(
        name=name,
        action=None,
        repository=Repository(full_name, branch),
        sender=r.get("sender.login", str, required=False) or "schedule",
        ref=f"refs/heads/{branch}",
        workflow=r.get("workflow", str, required=False) or "",
        inputs={"task": "scheduled"},
    )


PARSERS = {
    "issue_comment": _comment,
    "pull_request": _pull,
    "pull_request_target": _pull,
    "pull_request_review": _review,
    "push": _push,
    "workflow_dispatch": _dispatch,
    "deployment": _deployment,
    "deployment_status": _deployment,
    "schedule": _schedule,
}


def parse(event_name: str, payload: Mapping[str, Any]) -> Event:
    """The typed event for a payload; PayloadError names the first missing or mistyped field."""
    if event_name not in PARSERS:
        raise PayloadError(f"{event_name}: no parser for this event")
    if not isinstance(payload, Mapping):
        raise PayloadError(f"{event_name} payload: expected a JSON object")
    return PARSERS[event_name](_Reader(payload, event_name), event_name)
