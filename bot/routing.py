"""Where everything the bot reacts to is routed, in one visible table: webhook events (by event and action),
`workflow_dispatch` / `schedule` tasks (by the `task` input), and slash commands (by verb).

Handlers are named as `module:function` and imported only when their event arrives, so a run does not pay for
imports it does not use. An event handler takes the typed event, the run's `Runtime` (its environment: the
only place a handler reads it) and a lazily-connected Forge, and returns an `Outcome`; a task handler takes the
same; a command handler takes the flow's context, the parsed command and the comment (bot/flows/commands.py).
"""

from __future__ import annotations

import importlib
from collections.abc import Mapping
from typing import Any

# (event, action) -> handler. action None: the event has no action (push, workflow_dispatch, schedule).
EVENTS: dict[tuple[str, str | None], str] = {
    ("issue_comment", "created"): "bot.actions.comments:on_comment",
    ("pull_request", "opened"): "bot.actions.pulls:on_pull_request",
    ("pull_request", "synchronize"): "bot.actions.pulls:on_pull_request",
    ("pull_request", "reopened"): "bot.actions.pulls:on_pull_request",
    ("pull_request", "edited"): "bot.actions.pulls:on_pull_request",  # a new base: judged again
    ("pull_request_review", "submitted"): "bot.actions.pulls:on_review",
    ("pull_request_review", "dismissed"): "bot.actions.pulls:on_review",
    ("push", None): "bot.actions.deploys:on_push",
    ("workflow_dispatch", None): "bot.actions.tasks:on_task",
    ("schedule", None): "bot.actions.tasks:on_task",
    ("deployment", "created"): "bot.actions.handlers:acknowledge",
    ("deployment_status", "created"): "bot.actions.handlers:acknowledge",
}

# The `task` input of a workflow_dispatch (a schedule runs `scheduled`) -> handler.
TASKS: dict[str, str] = {
    "propose": "bot.actions.tasks:propose",
    "sync": "bot.actions.tasks:sync",
    "sweep": "bot.actions.tasks:sweep",
    "scheduled": "bot.actions.tasks:scheduled",
    "validate": "bot.actions.tasks:validate",
    "advance": "bot.actions.tasks:advance",
    "monitor": "bot.actions.monitoring:monitor",
    "deploy": "bot.actions.deploys:on_deploy_task",
}
DEFAULT_TASK = "propose"

# A slash command's verb -> handler (the grammar and who may run it: bot/chatops.py).
COMMANDS: dict[str, str] = {
    "promote": "bot.flows.commands:on_promote",
    "rollback": "bot.flows.commands:on_rollback",
    "validate": "bot.flows.commands:on_validate",
    "cancel": "bot.flows.commands:on_cancel",
    "status": "bot.flows.commands:on_status",
    "help": "bot.flows.commands:on_help",
}


def event_handler(
    event: str, action: str | None, events: Mapping[tuple[str, str | None], str] | None = None
) -> str | None:
    """The handler's name for an event and action, or None when the bot does not act on it."""
    return (EVENTS if events is None else events).get((event, action))


def load(target: str) -> Any:
    """The function a `module:function` name stands for."""
    module_name, _, function = target.partition(":")
    return getattr(importlib.import_module(module_name), function)
