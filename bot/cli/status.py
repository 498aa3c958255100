"""Models by stage: which version each stage serves, the latest registered version, and the owners."""

from __future__ import annotations

import argparse
from typing import Any

from bot.cli import common, output
from bot.workspace import read_registry_file


def configure(parser: argparse.ArgumentParser) -> None:
    common.add_repo(parser)
    common.add_json(parser)
    parser.add_argument("model", nargs="?", help="show only this model")


def run(args: argparse.Namespace) -> int:
    _, registry = read_registry_file(common.repo_root(args))
    models = [m for m in registry.models.values() if args.model in (None, m.name)]
    if args.model and not models:
        from bot.errors import ModelbotError, names

        raise ModelbotError(f"model '{args.model}' is not in models.yaml; known: {names(registry.models)}")
    rows: list[dict[str, Any]] = [
        {
            "model": m.name,
            "task": m.task,
            "policy": m.policy,
            "owners": list(m.owners),
            "stages": dict(m.stages),
            "versions": [v.id for v in m.versions],
            "latest": m.versions[-1].id if m.versions else None,
        }
        for m in models
    ]
    if args.json:
        output.emit_json({"models": rows})
        return 0
    for row in rows:
        stages = ", ".join(f"{s}: {v or '-'}" for s, v in row["stages"].items())
        output.line(f"{row['model']}  ({row['task']}, policy {row['policy']})")
        output.line(f"  stages:   {stages}")
        output.line(f"  versions: {', '.join(row['versions']) or '-'} (latest {row['latest'] or '-'})")
        output.line(f"  owners:   {', '.join(row['owners'])}")
    return 0
