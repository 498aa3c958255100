"""Does a webhook payload match GitHub's schema for its event and action (webhooks.json, `x-webhooks`)?"""

from __future__ import annotations

import functools
from typing import Any

import jsonschema

from localhub.conformance.schemas import describe, document, failures, validator

# Events whose payload has no `action`, or whose schema key does not carry it.
_NO_ACTION = ("push", "status", "workflow_dispatch")


def webhook_key(event: str, payload: dict[str, Any]) -> str:
    """The x-webhooks key for an event: `issue_comment` + `created` -> `issue-comment-created`."""
    if event == "repository_dispatch":  # its action is the client's event type; one schema, under a sample type
        return "repository-dispatch-sample.collected"
    name = event.replace("_", "-")
    action = payload.get("action")
    return f"{name}-{action}" if action and event not in _NO_ACTION else name


@functools.cache
def _webhook_validator(key: str) -> jsonschema.Draft4Validator | None:
    hooks = document("webhooks.json")["x-webhooks"]
    if key not in hooks:
        return None
    schema = hooks[key]["post"]["requestBody"]["content"]["application/json"]["schema"]
    return validator(schema, "webhooks.json")


def webhook_problems(event: str, payload: dict[str, Any]) -> list[str]:
    """Why a webhook payload does not match GitHub's schema for its event and action (empty when it does)."""
    key = webhook_key(event, payload)
    check = _webhook_validator(key)
    if check is None:
        return [f"{key}: not an event in webhooks.json x-webhooks"]
    return [f"{key} {problem}" for problem in describe(failures(check, payload))]
