"""The registry and its policies in a working tree or at a git revision (parsed by `bot.revision`)."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

from bot import gitio
from bot.errors import InvalidFile, Location, ModelbotError, Problem
from bot.policy import POLICY_DIR, Policies, load_policies, parse_files
from bot.registry import Registry
from bot.revision import REGISTRY_FILE, WORKTREE, RegistryAt, git_reader, read_registry, worktree_reader

__all__ = [
    "REGISTRY_FILE",
    "Snapshot",
    "find_root",
    "from_worktree",
    "policies_at",
    "read_registry_file",
    "registry_at",
]


@dataclass(frozen=True)
class Snapshot:
    """models.yaml (its text and typed view) with the policies beside it, at one revision."""

    text: str
    registry: Registry
    policies: Policies


def find_root(start: Path) -> Path:
    """The nearest directory at or above `start` holding models.yaml."""
    start = start.resolve()
    for folder in (start, *start.parents):
        if (folder / REGISTRY_FILE).is_file():
            return folder
    raise ModelbotError(f"no {REGISTRY_FILE} in {start} or above; run in your registry repository or pass --repo")


def read_registry_file(root: Path) -> tuple[str, Registry]:
    found = read_registry(worktree_reader(root), WORKTREE)
    if found is None:
        raise InvalidFile([Problem(Location(REGISTRY_FILE), f"{root / REGISTRY_FILE} does not exist")])
    return found.text, found.registry


def from_worktree(root: Path) -> Snapshot:
    text, registry = read_registry_file(root)
    return Snapshot(text, registry, load_policies(root))


def registry_at(repo: Path, rev: str) -> RegistryAt | None:
    """models.yaml at a git revision; None when the file does not exist there."""
    return read_registry(git_reader(repo, rev), rev)


def policies_at(repo: Path, rev: str) -> Policies:
    return parse_files(gitio.read_dir(repo, rev, POLICY_DIR))
