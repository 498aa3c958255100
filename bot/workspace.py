"""Where the registry and its policies are read from: a working tree, or a git revision."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import yaml

from bot import gitio, yamlio
from bot.errors import InvalidFile, Location, ModelbotError, Problem
from bot.policy import POLICY_DIR, Policies, load_policies, parse_files
from bot.registry import Registry, read
from bot.registry.load import parse_tree

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


@dataclass(frozen=True)
class Revision:
    """models.yaml at one revision: text, typed view, and node tree (for locating lines)."""

    text: str
    registry: Registry
    root: yaml.Node | None


def registry_at(repo: Path, rev: str) -> Revision | None:
    """models.yaml at a revision; None when the file does not exist there."""
    raw = gitio.show(repo, rev, REGISTRY_FILE)
    if raw is None:
        return None
    file = f"{REGISTRY_FILE}@{rev[:12]}"
    text = yamlio.decode(raw, file)
    registry, root = parse_tree(text, file)
    return Revision(text, registry, root)


def policies_at(repo: Path, rev: str) -> Policies:
    return parse_files(gitio.read_dir(repo, rev, POLICY_DIR))
