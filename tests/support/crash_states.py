"""What the crash-consistency families compare beyond `end_state` (tests/flows/test_crash_consistency.py), and
how commits and runs are named in it: the bot's commits carry the time they were made and MLflow gives each
run an id of its own, so both differ from one story to another (and a validation recorded again in a re-run
has an id of its own); everything else must be the same."""

from __future__ import annotations

import re
from collections.abc import Callable
from typing import Any

MLFLOW_RUN = re.compile(r"\b[0-9a-f]{32}\b")  # an MLflow run id (a commit sha has 40 digits)
HUB = re.compile(r"http://127\.0\.0\.1:\d+")


def commit_names(running: Any) -> dict[str, str]:
    """The commits a story makes, by what they are: main's tip, each pull request's head and merge."""
    names = {running.hub.git.resolve("main"): "main"}
    for issue in running.hub.state.issues.values():
        if issue.pull is not None:
            names[issue.pull.head_sha] = f"head of #{issue.number}"
            if issue.pull.merge_commit_sha:
                names[issue.pull.merge_commit_sha] = f"merge of #{issue.number}"
    return names


def named(text: str | None, names: dict[str, str]) -> str:
    """`text` with each commit of `names` (full, or as 12 or 10 digits) as <its name>, the hub's address as
    <hub>."""
    text = text or ""
    for sha, name in names.items():
        text = text.replace(sha, f"<{name}>").replace(sha[:12], f"<{name}>").replace(sha[:10], f"<{name}>")
    return HUB.sub("<hub>", text)


def pull_bodies(running: Any) -> list[tuple[int, str]]:
    """The pull requests' bodies (the bot's sections in them: the model card)."""
    return sorted((i.number, i.body or "") for i in running.hub.state.issues.values() if i.pull is not None)


def normalized(value: Any, names: dict[str, str]) -> Any:
    """`value` (the nested tuples, lists and dicts of an end state) with its text `named`, and every MLflow
    run id as <mlflow run>."""
    return on_text(value, lambda text: MLFLOW_RUN.sub("<mlflow run>", named(text, names)))


def on_text(value: Any, change: Callable[[str], str]) -> Any:
    """`value` (nested tuples, lists and dicts) with `change` applied to every string in it."""
    if isinstance(value, str):
        return change(value)
    if isinstance(value, dict):
        return {on_text(k, change): on_text(v, change) for k, v in value.items()}
    if isinstance(value, list | tuple):
        return type(value)(on_text(v, change) for v in value)
    return value
