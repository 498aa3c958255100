"""The stage history of models from the git history of models.yaml: the audit log a reviewer reads."""

from __future__ import annotations

import re
from collections.abc import Iterable, Iterator
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path
from typing import Any

from bot import gitio, yamlio
from bot.errors import InvalidFile
from bot.registry import Registry
from bot.registry.diff import Served, Transition, diff
from bot.revision import git_reader, registry_or_none
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
    return registry_or_none(git_reader(repo, rev), rev)  # an invalid past revision changed no stage


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


def entered_at(repo: Path, rev: str, keys: Iterable[tuple[str, str]]) -> dict[tuple[str, str], datetime]:
    """When each (model, stage) got the version it holds at `rev`: the commit time of the oldest commit of the
    latest unbroken run, along the first-parent history, in which the stage held that version. Read from the
    parsed values, never from which commit last touched a line (a reformat or a moved line must not restart or
    fake the clock)."""
    wanted = set(keys)
    out: dict[tuple[str, str], datetime] = {}
    current: dict[tuple[str, str], str | None] = {}
    for _, when, stages in _stage_history(repo, rev):
        held = dict(stages)
        for key in list(wanted):
            value = held.get(key)
            if key not in current:
                current[key] = value
            if value is None or value != current[key]:
                wanted.discard(key)  # the run ended at the commit after this one (already recorded)
                continue
            out[key] = when
        if not wanted:
            break
    return {key: when for key, when in out.items() if current.get(key) is not None}


def _stage_history(repo: Path, rev: str) -> Iterator[tuple[str, datetime, list[tuple[tuple[str, str], str]]]]:
    """(commit, commit time, its (model, stage) -> version pairs) along the first-parent history of models.yaml,
    newest first; read with one `git log` and one `git cat-file --batch`."""
    out = gitio.git(repo, "log", "--first-parent", "--format=%H %cI", rev, "--", REGISTRY_FILE).decode()
    commits = [line.split(" ", 1) for line in out.splitlines() if line.strip()]
    if not commits:
        return
    request = "".join(f"{sha}:{REGISTRY_FILE}\n" for sha, _ in commits).encode()
    blobs = gitio.git(repo, "cat-file", "--batch", input=request)
    pos = 0
    for sha, when in commits:
        header_end = blobs.index(b"\n", pos)
        header = blobs[pos:header_end].split()
        if len(header) < 3 or header[1] != b"blob":
            pos = header_end + 1
            yield sha, datetime.fromisoformat(when), []
            continue
        size = int(header[2])
        blob = blobs[header_end + 1 : header_end + 1 + size]
        pos = header_end + 1 + size + 1
        yield sha, datetime.fromisoformat(when), _stages(blob)


def served_before(repo: Path, rev: str, keys: Iterable[tuple[str, str]] | None = None) -> Served:
    """Which versions each (model, stage) has held along the first-parent history of `rev` (the default
    branch): the only authority for calling a move back a rollback. A version that sat only on a merged
    branch's own commits never served, so merged side branches are not read."""
    wanted = None if keys is None else set(keys)
    served: dict[tuple[str, str], set[str]] = {}
    for _, _, stages in _stage_history(repo, rev):
        for key, version in stages:
            if wanted is None or key in wanted:
                served.setdefault(key, set()).add(version)
    return {key: frozenset(versions) for key, versions in served.items()}


def _stages(blob: bytes) -> list[tuple[tuple[str, str], str]]:
    """(model, stage) -> version pairs of one revision of models.yaml; nothing from a revision that does not
    parse (it served nothing the bot can stand behind)."""
    try:
        data = yamlio.load_bytes(blob, REGISTRY_FILE)
    except InvalidFile:
        return []
    models = data.get("models") if isinstance(data, dict) else None
    out = []
    for name, model in (models or {}).items() if isinstance(models, dict) else ():
        stages = model.get("stages") if isinstance(model, dict) else None
        for stage, version in (stages or {}).items() if isinstance(stages, dict) else ():
            if version is not None and not isinstance(version, dict | list):
                out.append(((str(name), str(stage)), str(version)))
    return out
