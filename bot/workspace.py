"""Where the registry and its policies are read from: a working tree, or a git revision."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

from bot import gitio
from bot.errors import InvalidFile, Location, ModelbotError, Problem
from bot.policy import POLICY_DIR, Policies, load_policies, parse_files
from bot.registry import Registry, read

REGISTRY_FILE = "models.yaml"


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
    path = root / REGISTRY_FILE
    if not path.is_file():
        raise InvalidFile([Problem(Location(REGISTRY_FILE), f"{path} does not exist")])
    registry = read(path.read_bytes(), REGISTRY_FILE)
    return path.read_text(encoding="utf-8"), registry


def from_worktree(root: Path) -> Snapshot:
    text, registry = read_registry_file(root)
    return Snapshot(text, registry, load_policies(root))


def registry_at(repo: Path, rev: str) -> tuple[str, Registry] | None:
    """models.yaml at a revision; None when the file does not exist there."""
    raw = gitio.show(repo, rev, REGISTRY_FILE)
    if raw is None:
        return None
    registry = read(raw, f"{REGISTRY_FILE}@{rev[:12]}")
    return raw.decode("utf-8"), registry


def policies_at(repo: Path, rev: str) -> Policies:
    return parse_files(gitio.read_dir(repo, rev, POLICY_DIR))
