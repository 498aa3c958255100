"""Register the versions MLflow has and models.yaml does not list yet (with their metadata and lineage).

Locally, models.yaml in the working tree is edited (one block per version) and the diff printed. With --github,
one pull request registers them all (branch modelbot/promote/registry/sync), updated in place by later runs.
Models are looked up by name in the MLflow registry at MLFLOW_TRACKING_URI.
"""

from __future__ import annotations

import argparse
import os

from bot.cli import common, output


def configure(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--github", action="store_true", help="open or update the registration pull request")
    parser.add_argument("--dry-run", action="store_true", help="print what would be registered; write nothing")
    common.add_repo(parser)
    common.add_json(parser)


def run(args: argparse.Namespace) -> int:
    from bot.registry.edit import text_diff
    from bot.sync import apply, unlisted
    from bot.workspace import REGISTRY_FILE, read_registry_file

    root = common.repo_root(args)
    text, registry = read_registry_file(root)
    found = unlisted(registry, os.environ.get("MLFLOW_TRACKING_URI"))
    new_text = apply(text, found)
    diff = text_diff(text, new_text)
    pull = None
    if found and not args.dry_run:
        if args.github:
            from bot.github import connect
            from bot.sync import open_pull

            forge = connect()
            pull = open_pull(forge, text, found, forge.default_branch()).pull.number
        else:
            common.atomic_write(root / REGISTRY_FILE, new_text)
    registered = [f"{f.model} {f.version}" for f in found]
    result = {"ok": True, "registered": registered, "diff": diff, "pull_request": pull}
    if args.json:
        output.emit_json(result)
    elif not found:
        output.line("models.yaml lists every version MLflow has")
    else:
        output.line(diff.rstrip("\n"))
        output.line(f"registered: {', '.join(registered)}" + (f" in PR #{pull}" if pull else ""))
    return 0
