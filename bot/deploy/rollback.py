"""Rollback by revert: find the commit that made the current promotion of a (model, stage) and revert it.

The revert is a true `git revert` (`Revert "<title>"`, `This reverts commit <sha>.`), so the history is the
audit log and reverting the revert promotes again. Rollout steps committed after the promotion for the same
stage (a canary's `modelbot advance` commits) belong to it and are reverted in the same commit, newest first;
otherwise they would conflict with it. Locally, a revert that conflicts with later changes is refused with the
files and the command to resolve it by hand, and nothing is left half-applied; on GitHub, `rollback_pr.py`
opens it for a person instead.
"""

from __future__ import annotations

import copy
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from bot import gitio, yamlio
from bot.errors import GitError, RefusedError
from bot.history import Event, events
from bot.workspace import REGISTRY_FILE

ROLLBACK_LABEL = "rollback"
BOT_IDENTITY = ("-c", "user.name=modelbot", "-c", "user.email=modelbot@users.noreply.github.com")


class RevertConflict(RefusedError):
    """The revert does not apply cleanly: later commits changed the same lines."""

    def __init__(self, message: str, files: list[str]) -> None:
        super().__init__(message)
        self.files = files


@dataclass(frozen=True)
class Target:
    """What a rollback reverts: the promotion's commit, its rollout steps after it, and its pull request."""

    model: str
    stage: str
    event: Event
    title: str
    steps: tuple[str, ...] = ()

    @property
    def commit(self) -> str:
        return self.event.commit

    @property
    def pr(self) -> int | None:
        return self.event.pr

    def message(self) -> str:
        text = f'Revert "{self.title}"\n\nThis reverts commit {self.commit}.'
        if self.steps:
            text += "\n\nIt also reverts the rollout steps after it: " + ", ".join(self.steps) + "."
        return text

    def as_dict(self) -> dict[str, Any]:
        return {
            "model": self.model,
            "stage": self.stage,
            "commit": self.commit,
            "pr": self.pr,
            "title": self.title,
            "steps": list(self.steps),
            "transition": self.event.transition.as_dict(),
        }


def _title(commit: gitio.Commit) -> str:
    """The change's title: for a GitHub merge commit, the pull request's title (the body's first line)."""
    if commit.subject.startswith("Merge pull request #") and commit.body:
        return commit.body.splitlines()[0].strip()
    return commit.subject


def _data(repo: Path, rev: str) -> Any:
    raw = gitio.show(repo, rev, REGISTRY_FILE)
    return None if raw is None else yamlio.load(yamlio.decode(raw, REGISTRY_FILE), REGISTRY_FILE)


def _only_state_of(before: Any, after: Any, model: str, stage: str) -> bool:
    """True when `after` differs from `before` only in models.<model>.deployment.<stage>."""
    if not isinstance(before, dict) or not isinstance(after, dict):
        return False
    patched = copy.deepcopy(before)
    try:
        entry = patched["models"][model]
        new_state = after["models"][model].get("deployment", {}).get(stage)
    except (KeyError, TypeError, AttributeError):
        return False
    deployment = entry.setdefault("deployment", {})
    if new_state is None:
        deployment.pop(stage, None)
    else:
        deployment[stage] = new_state
    if not deployment:
        entry.pop("deployment")
    return bool(patched == after and before != after)


def rollout_steps(repo: Path, since: str, rev: str, model: str, stage: str) -> tuple[str, ...]:
    """Commits after `since` (first parent, up to `rev`) that changed only this stage's rollout state, newest first."""
    found = []
    for commit in gitio.log(repo, REGISTRY_FILE, f"{since}..{rev}"):
        if commit.parents and _only_state_of(_data(repo, commit.parents[0]), _data(repo, commit.sha), model, stage):
            found.append(commit.sha)
    return tuple(found)


def find(repo: Path, model: str, stage: str, rev: str = "HEAD") -> Target:
    """The change that gave (model, stage) the version it holds at `rev`."""
    found = events(repo, rev, model, stage)
    if not found:
        raise RefusedError(f"no change of {model} {stage} in the history of {REGISTRY_FILE}: nothing to roll back")
    event = found[-1]
    commit = gitio.commit(repo, event.commit)
    return Target(model, stage, event, _title(commit), rollout_steps(repo, event.commit, rev, model, stage))


def _identity(repo: Path) -> tuple[str, ...]:
    configured = gitio.git(repo, "config", "user.email", check=False).strip()
    return () if configured else BOT_IDENTITY


def _revert_one(repo: Path, sha: str) -> None:
    mainline = ("-m", "1") if len(gitio.commit(repo, sha).parents) > 1 else ()
    try:
        gitio.git(repo, "revert", "--no-commit", *mainline, sha)
    except GitError as exc:
        conflicted = gitio.git(repo, "diff", "--name-only", "--diff-filter=U", check=False).decode().split()
        gitio.git(repo, "revert", "--abort", check=False)
        gitio.git(repo, "reset", "--merge", check=False)
        if conflicted:
            hint = f"git revert {' '.join(mainline)} {sha}".replace("  ", " ")
            raise RevertConflict(
                f"reverting {sha[:12]} conflicts with later changes to {', '.join(conflicted)}; nothing was changed. "
                f"A person has to resolve it: `{hint}`, fix the conflict, then commit",
                conflicted,
            ) from None
        raise RefusedError(f"cannot revert {sha[:12]}: {exc}") from None


def revert_local(repo: Path, target: Target) -> str:
    """Create the revert commit on the current branch of `repo`; returns its sha."""
    if gitio.git(repo, "status", "--porcelain", "--untracked-files=no").strip():
        raise RefusedError(f"{repo} has uncommitted changes; commit or stash them before a rollback")
    head = gitio.resolve(repo, "HEAD")
    for sha in (*target.steps, target.commit):
        _revert_one(repo, sha)
    if not gitio.git(repo, "diff", "--cached", "--name-only").strip():
        gitio.git(repo, "reset", "--merge", check=False)
        raise RefusedError(f"{target.commit[:12]} is already undone at {head[:12]}: nothing to revert")
    title, body = target.message().split("\n\n", 1)
    try:
        gitio.git(repo, *_identity(repo), "commit", "-q", "-m", title, "-m", body)
    except GitError:
        gitio.git(repo, "reset", "--merge", check=False)
        raise
    return gitio.resolve(repo, "HEAD")
