"""The stage history of models from the git history of models.yaml: the audit log a reviewer reads."""

from __future__ import annotations

import re
from collections.abc import Iterable
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path
from typing import Any

import yaml

from bot import gitio, yamlio
from bot.errors import InvalidFile
from bot.registry import Registry, read
from bot.registry.diff import Transition, diff
from bot.workspace import REGISTRY_FILE

_PR_PATTERNS = (re.compile(r"\(#(\d+)\)\s*$"), re.compile(r"^Merge pull request #(\d+)\b"))


def pr_number(subject: str) -> int | None:
    """The PR a commit message names, as GitHub writes it for squash merges and merge commits."""
    for pattern in _PR_PATTERNS:
        match = pattern.search(subject)
        if match:
            return int(match.group(1))
    return None


@dataclass(frozen=True)
class Event:
    transition: Transition
    commit: str
    at: datetime
    author: str
    subject: str
    pr: int | None

    def as_dict(self) -> dict[str, Any]:
        return {
            **self.transition.as_dict(),
            "commit": self.commit,
            "at": self.at.isoformat(),
            "author": self.author,
            "subject": self.subject,
            "pr": self.pr,
        }


def _registry(repo: Path, rev: str) -> Registry | None:
    raw = gitio.show(repo, rev, REGISTRY_FILE)
    if raw is None:
        return None
    try:
        return read(raw, f"{REGISTRY_FILE}@{rev[:12]}")
    except InvalidFile:
        return None  # an invalid revision in the past changed no stage the bot can stand behind


def events(repo: Path, rev: str = "HEAD", model: str | None = None, stage: str | None = None) -> list[Event]:
    """Stage changes, oldest first, along the first-parent history of the default branch."""
    commits = list(reversed(gitio.log(repo, REGISTRY_FILE, rev)))
    out: list[Event] = []
    previous: Registry | None = None
    if commits and commits[0].parents:
        previous = _registry(repo, commits[0].parents[0])
    for commit in commits:
        current = _registry(repo, commit.sha)
        if current is None:
            continue
        for t in diff(previous, current):
            if (model is None or t.model == model) and (stage is None or t.stage == stage):
                out.append(
                    Event(t, commit.sha, commit.committed_at, commit.author, commit.subject, pr_number(commit.subject))
                )
        previous = current
    return out


def entered_at(
    repo: Path, rev: str, root: yaml.Node | None, keys: Iterable[tuple[str, str]]
) -> dict[tuple[str, str], datetime]:
    """When each (model, stage) got the version it holds at `rev`: the commit that last wrote its line.

    `root` is the node tree of models.yaml at `rev`."""
    out: dict[tuple[str, str], datetime] = {}
    for model, stage in keys:
        line = yamlio.key_line(root, ["models", model, "stages", stage])
        if line is not None:
            out[(model, stage)] = gitio.blame_line(repo, rev, REGISTRY_FILE, line).committed_at
    return out
