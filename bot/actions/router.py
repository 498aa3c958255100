"""One visible table from (event, action) to handler: what runs on `issue_comment` created is found here.

Handlers are named as `module:function` and imported only when their event arrives, so an acknowledgement
does not pay for imports it does not use. A handler takes the typed event and a lazily-connected Forge and
returns an Outcome.
"""

from __future__ import annotations

import importlib
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from bot.actions.events import Event
    from bot.github.forge import Forge


@dataclass(frozen=True)
class Outcome:
    """What a handler did: a one-line message, step outputs, and Markdown for the job summary."""

    message: str
    outputs: Mapping[str, str] = field(default_factory=dict)
    summary: str = ""


Handler = Callable[["Event", Callable[[], "Forge"]], Outcome]

# (event, action) -> "module:function". action None: the event has no action (push, workflow_dispatch).
ROUTES: dict[tuple[str, str | None], str] = {
    ("issue_comment", "created"): "bot.actions.promotion:on_comment",
    ("pull_request", "opened"): "bot.actions.promotion:on_pull_request",
    ("pull_request", "synchronize"): "bot.actions.promotion:on_pull_request",
    ("pull_request", "reopened"): "bot.actions.promotion:on_pull_request",
    ("pull_request", "edited"): "bot.actions.promotion:on_pull_request",  # a new base: judged again
    ("pull_request_review", "submitted"): "bot.actions.promotion:on_review",
    ("pull_request_review", "dismissed"): "bot.actions.promotion:on_review",
    ("push", None): "bot.actions.promotion:on_push",
    ("workflow_dispatch", None): "bot.actions.promotion:on_dispatch",
    ("schedule", None): "bot.actions.promotion:on_dispatch",
    ("deployment", "created"): "bot.actions.handlers:acknowledge",
    ("deployment_status", "created"): "bot.actions.handlers:acknowledge",
}


def route(event: str, action: str | None, routes: Mapping[tuple[str, str | None], str] = ROUTES) -> str | None:
    """The handler's name for an event and action, or None when the bot does not act on it."""
    return routes.get((event, action))


def load(target: str) -> Handler:
    module_name, _, function = target.partition(":")
    handler: Handler = getattr(importlib.import_module(module_name), function)
    return handler


def handled_events(routes: Mapping[tuple[str, str | None], str] = ROUTES) -> frozenset[str]:
    return frozenset(event for event, _ in routes)
