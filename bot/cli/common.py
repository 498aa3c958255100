"""Arguments and file writing shared by the verbs."""

from __future__ import annotations

import argparse
import os
import tempfile
from pathlib import Path
from typing import Any

from bot.workspace import find_root


def add_repo(parser: argparse.ArgumentParser) -> None:
    parser.add_argument(
        "--repo",
        type=Path,
        default=None,
        metavar="DIR",
        help="the registry repository (default: the nearest directory holding models.yaml)",
    )


def add_json(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--json", action="store_true", help="print one JSON object instead of text")


def repo_root(args: argparse.Namespace) -> Path:
    return find_root(args.repo if args.repo is not None else Path.cwd())


def atomic_write(path: Path, text: str) -> None:
    """Replace a file in one step: a reader (or a crash) never sees it half-written."""
    fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=f".{path.name}.", suffix=".tmp")
    try:
        with os.fdopen(fd, "w", encoding="utf-8", newline="") as handle:
            handle.write(text)
        if path.exists():
            os.chmod(tmp, path.stat().st_mode & 0o777)
        os.replace(tmp, path)
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise


def model_and_policies(args: argparse.Namespace) -> tuple[Path, Any, Any]:
    """(root, model, policies) for verbs that judge one model, where an unreadable registry or policy, or an
    unknown model, is a configuration error (exit 2), not a verdict."""
    from bot.errors import InvalidFile, ModelbotError, UsageError, names
    from bot.policy import load_policies
    from bot.workspace import read_registry_file

    try:
        root = repo_root(args)
        _, registry = read_registry_file(root)
        model = registry.model(args.model)
        if model is None:
            raise UsageError(f"no model '{args.model}' in {root / 'models.yaml'}; models: {names(registry.models)}")
        return root, model, load_policies(root)
    except InvalidFile as exc:
        exc.exit_code = 2
        raise
    except UsageError:
        raise
    except ModelbotError as exc:
        raise UsageError(str(exc)) from None
