"""The facts of one bot run that every flow needs, gathered once at the boundary."""

from __future__ import annotations

import re
from collections.abc import Iterable
from dataclasses import dataclass, field
from datetime import datetime
from pathlib import Path

from bot import gitio
from bot.errors import GitError
from bot.github.forge import Forge
from bot.history import entered_at, served_before
from bot.policy import Policies, read_policies
from bot.registry.diff import Served
from bot.revision import FileReader, RegistryAt, git_reader, read_registry


@dataclass(frozen=True)
class BotContext:
    forge: Forge
    default_branch: str
    now: datetime
    workspace: Path | None = None  # a git checkout with the default branch's history, for soak clocks
    run_url: str | None = None
    bot_login: str = "github-actions[bot]"
    reports: Path = field(default_factory=lambda: Path("modelbot-reports"))
    files: dict[tuple[str, str], str | None] = field(default_factory=dict, compare=False)
    deploy_workflow: str = "modelbot-deploy.yml"  # dispatched after the bot merges a rollback itself
    validate_workflow: str = "modelbot-pull-request.yml"  # evaluates in a job whose token cannot write
    validate_by_dispatch: bool = False  # in Actions: a job holding a write token never loads a model
    bot_events_start_runs: bool = False  # a GitHub App's events start workflow runs; GITHUB_TOKEN's do not
    record_to: str | None = None  # MLflow tracking URI a validation is recorded in (the job that loads models)

    def remember(self, path: str, sha: str, text: str | None) -> None:
        """A file's text at a commit never changes: keep it for the rest of the run."""
        self.files[(path, sha)] = text


def reader(ctx: BotContext | Forge, ref: str) -> FileReader:
    """How to read files of one revision: from the workspace's git when it holds that commit (no API
    request; the default branch's history is checked out for this), else through the GitHub API."""
    forge = ctx.forge if isinstance(ctx, BotContext) else ctx
    workspace = ctx.workspace if isinstance(ctx, BotContext) else None
    if workspace is not None and _has_commit(workspace, ref):
        return git_reader(workspace, ref)
    if not isinstance(ctx, BotContext) or not re.fullmatch(r"[0-9a-f]{40}", ref):
        return lambda path: _encoded(forge.file_text(path, ref))

    def cached(path: str) -> bytes | None:
        if (path, ref) not in ctx.files:
            ctx.remember(path, ref, forge.file_text(path, ref))
        return _encoded(ctx.files[(path, ref)])

    return cached


def _encoded(text: str | None) -> bytes | None:
    return None if text is None else text.encode("utf-8")


def _has_commit(workspace: Path, ref: str) -> bool:
    if not re.fullmatch(r"[0-9a-f]{40}", ref):
        return False
    try:
        gitio.git(workspace, "cat-file", "-e", f"{ref}^{{commit}}")
    except GitError:
        return False
    return True


def registry_at(ctx: BotContext | Forge, ref: str) -> RegistryAt | None:
    """models.yaml at `ref`, from the workspace's git or the API (`reader`)."""
    return read_registry(reader(ctx, ref), ref)


def policies_at(ctx: BotContext | Forge, ref: str, names: Iterable[str]) -> Policies:
    """The policies a plan needs, read from one revision (always the base branch's)."""
    return read_policies(reader(ctx, ref), names)


def soak_clock(ctx: BotContext, base: RegistryAt, keys: Iterable[tuple[str, str]]) -> dict[tuple[str, str], datetime]:
    """When each (model, stage) got its version at the base revision, from the workspace's git history;
    empty when the workspace does not hold that revision (the plan then refuses soak-gated promotions)."""
    if ctx.workspace is None:
        return {}
    try:
        gitio.git(ctx.workspace, "cat-file", "-e", f"{base.ref}^{{commit}}")
        return entered_at(ctx.workspace, base.ref, keys)
    except GitError:
        return {}


def served_history(ctx: BotContext, base: RegistryAt | None, keys: Iterable[tuple[str, str]]) -> Served:
    """The versions each stage held along the base branch's history; empty (so no move counts as a rollback)
    when the workspace does not hold that history."""
    if base is None or ctx.workspace is None:
        return {}
    try:
        return served_before(ctx.workspace, base.ref, keys)
    except GitError:
        return {}
