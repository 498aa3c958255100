"""models.yaml at one revision, however that revision is read: a working tree, a git revision, or the forge's
contents API. Every reader is a `FileReader` (a path in, its bytes or None out) and every result is one
`RegistryAt`, so the CLI, the flows, history and the deploy runner parse the registry the same way."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

import yaml

from bot import gitio, yamlio
from bot.errors import InvalidFile
from bot.registry.load import parse_tree
from bot.registry.model import Registry

REGISTRY_FILE = "models.yaml"
WORKTREE = "worktree"  # the `ref` of a registry read from files on disk

FileReader = Callable[[str], bytes | None]


@dataclass(frozen=True)
class RegistryAt:
    """models.yaml at one revision: which one (`ref`), its text, its typed view, and its node tree (to locate
    a key's line in messages)."""

    ref: str
    text: str
    registry: Registry
    root: yaml.Node | None


def worktree_reader(root: Path) -> FileReader:
    """Files of a working tree (what is on disk, committed or not)."""

    def read(path: str) -> bytes | None:
        file = root / path
        return file.read_bytes() if file.is_file() else None

    return read


def git_reader(repo: Path, rev: str) -> FileReader:
    """Files of a commit of a local git repository."""
    return lambda path: gitio.show(repo, rev, path)


def read_registry(read: FileReader, ref: str) -> RegistryAt | None:
    """models.yaml as `read` finds it; None when it does not exist there; InvalidFile (located, naming the
    revision) when it is not a valid registry."""
    raw = read(REGISTRY_FILE)
    if raw is None:
        return None
    file = REGISTRY_FILE if ref == WORKTREE else f"{REGISTRY_FILE}@{ref[:12]}"
    text = yamlio.decode(raw, file)
    registry, root = parse_tree(text, file)
    return RegistryAt(ref, text, registry, root)


def registry_or_none(read: FileReader, ref: str) -> Registry | None:
    """The registry where a revision that does not parse counts as none: a past revision that was invalid set
    no state the bot can stand behind (history, the deploy runner)."""
    try:
        found = read_registry(read, ref)
    except InvalidFile:
        return None
    return found.registry if found else None
