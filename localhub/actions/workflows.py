"""Which workflows an event starts: reading `.github/workflows/*.yml` and matching their `on:` triggers
(event, activity `types`, `branches`/`branches-ignore`, `paths`) as GitHub documents them."""

from __future__ import annotations

import fnmatch
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

import yaml

from localhub.errors import LocalhubError

# Activity types that run a workflow when `types:` is not given (GitHub's defaults; others: all types).
DEFAULT_TYPES = {
    "pull_request": ("opened", "synchronize", "reopened"),
    "pull_request_target": ("opened", "synchronize", "reopened"),
}


class WorkflowError(LocalhubError):
    """A workflow file localhub cannot run as GitHub would."""


@dataclass(frozen=True)
class Workflow:
    path: str
    name: str
    triggers: Mapping[str, Any]
    env: Mapping[str, Any]
    jobs: Mapping[str, Any]
    defaults: Mapping[str, Any] = field(default_factory=dict)  # `defaults:` (run: shell, working-directory)
    permissions: Any = None  # the top-level `permissions:`; None when the workflow does not set it


def load(path: str, text: str) -> Workflow:
    try:
        data = yaml.safe_load(text)
    except yaml.YAMLError as exc:
        raise WorkflowError(f"{path}: not YAML ({exc})") from None
    if not isinstance(data, dict) or "jobs" not in data:
        raise WorkflowError(f"{path}: a workflow needs `on:` and `jobs:`")
    on = data.get("on", data.get(True))  # YAML 1.1 reads a bare `on` key as true
    if on is None:
        raise WorkflowError(f"{path}: missing `on:`")
    triggers = {on: {}} if isinstance(on, str) else {e: {} for e in on} if isinstance(on, list) else dict(on)
    return Workflow(
        path,
        str(data.get("name") or path),
        {k: v or {} for k, v in triggers.items()},
        data.get("env") or {},
        data["jobs"],
        data.get("defaults") or {},
        data.get("permissions"),
    )


def _branch_ok(filters: Mapping[str, Any], branch: str | None) -> bool:
    if branch is None:
        return True
    if "branches" in filters:
        return any(fnmatch.fnmatchcase(branch, pattern) for pattern in _list(filters["branches"]))
    if "branches-ignore" in filters:
        return not any(fnmatch.fnmatchcase(branch, pattern) for pattern in _list(filters["branches-ignore"]))
    return True


def _paths_ok(filters: Mapping[str, Any], changed: Sequence[str] | None) -> bool:
    if changed is None or ("paths" not in filters and "paths-ignore" not in filters):
        return True
    if "paths" in filters:
        return any(fnmatch.fnmatchcase(path, pattern) for path in changed for pattern in _list(filters["paths"]))
    return not all(
        any(fnmatch.fnmatchcase(path, pattern) for pattern in _list(filters["paths-ignore"])) for path in changed
    )


def _list(value: Any) -> list[str]:
    return [str(v) for v in value] if isinstance(value, (list, tuple)) else [str(value)]


def triggered(
    workflow: Workflow, event: str, action: str | None, branch: str | None = None, changed: Sequence[str] | None = None
) -> bool:
    """Whether `event` (with activity `action`, on `branch`, changing `changed` paths) starts the workflow.
    `branch` is the pushed branch for push, and the base branch for pull_request."""
    if event not in workflow.triggers:
        return False
    filters = workflow.triggers[event]
    if not isinstance(filters, Mapping):
        return True
    types = filters.get("types", DEFAULT_TYPES.get(event))
    if action is not None and types is not None and action not in _list(types):
        return False
    return _branch_ok(filters, branch) and _paths_ok(filters, changed)


def job_order(jobs: Mapping[str, Any]) -> list[str]:
    """Jobs in an order that respects `needs:` (declaration order otherwise)."""
    done: list[str] = []

    def visit(name: str, seen: tuple[str, ...]) -> None:
        if name in done:
            return
        if name in seen:
            raise WorkflowError(f"job {name}: `needs:` forms a cycle ({' -> '.join((*seen, name))})")
        if name not in jobs:
            raise WorkflowError(f"job {seen[-1]}: needs unknown job {name}")
        for need in _list(jobs[name].get("needs", [])) if jobs[name].get("needs") else []:
            visit(need, (*seen, name))
        done.append(name)

    for name in jobs:
        visit(name, ())
    return done
