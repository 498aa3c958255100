"""Register a model version in models.yaml: one version block is appended, nothing else changes.

With --from-mlflow, metadata and lineage (run id, author, time, metrics, params, code commit, training data)
come from the MLflow registry at MLFLOW_TRACKING_URI; otherwise give them as options.
"""

from __future__ import annotations

import argparse
import os
from datetime import UTC, datetime
from typing import Any

from bot.cli import common, output
from bot.errors import UsageError, names
from bot.mlflow_meta import git_identity


def configure(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("model", help="model name in models.yaml")
    parser.add_argument("version", help="new version id (e.g. the MLflow version number)")
    parser.add_argument("--uri", required=True, help="where the model is loaded from, e.g. models:/churn/7")
    parser.add_argument("--from-mlflow", action="store_true", help="fill metadata and lineage from MLflow")
    parser.add_argument("--run-id", help="MLflow run id")
    parser.add_argument("--created-by", help="author (default: the git identity, user.name <user.email>)")
    parser.add_argument("--description", help="what is new in this version")
    parser.add_argument("--metric", action="append", default=[], metavar="NAME=VALUE", help="repeatable")
    parser.add_argument("--dry-run", action="store_true", help="print the diff; write nothing")
    common.add_repo(parser)
    common.add_json(parser)


def _metrics(pairs: list[str]) -> dict[str, float]:
    out: dict[str, float] = {}
    for pair in pairs:
        name, sep, value = pair.partition("=")
        try:
            out[name.strip()] = float(value)
        except ValueError:
            raise UsageError(f"--metric {pair!r}: expected NAME=NUMBER, e.g. roc_auc=0.91") from None
        if not sep or not name.strip():
            raise UsageError(f"--metric {pair!r}: expected NAME=NUMBER, e.g. roc_auc=0.91")
    return out


def _entry(args: argparse.Namespace) -> dict[str, Any]:
    if args.from_mlflow:
        from bot.mlflow_meta import version_entry

        entry = version_entry(args.uri, args.version, os.environ.get("MLFLOW_TRACKING_URI"))
    else:
        entry = {
            "version": int(args.version) if args.version.isdigit() else args.version,
            "uri": args.uri,
            "created_at": datetime.now(UTC).strftime("%Y-%m-%dT%H:%M:%SZ"),
            "created_by": args.created_by or git_identity() or "unknown",
        }
    if args.run_id:
        entry["run_id"] = args.run_id
    if args.description:
        entry["description"] = args.description
    if args.metric:
        entry["metrics"] = {**entry.get("metrics", {}), **_metrics(args.metric)}
    return entry


def run(args: argparse.Namespace) -> int:

    from bot.errors import ModelbotError
    from bot.registry.edit import add_version, text_diff
    from bot.workspace import REGISTRY_FILE, read_registry_file

    root = common.repo_root(args)
    text, registry = read_registry_file(root)
    model = registry.model(args.model)
    if model is None:
        raise ModelbotError(f"model '{args.model}' is not in {REGISTRY_FILE}; known: {names(registry.models)}")
    if model.version(args.version) is not None:
        raise ModelbotError(f"{args.model} version {args.version} is already registered; versions are immutable")
    new_text, _ = add_version(text, args.model, _entry(args))
    diff = text_diff(text, new_text)
    if not args.dry_run:
        common.atomic_write(root / REGISTRY_FILE, new_text)
    if args.json:
        output.emit_json({"ok": True, "written": not args.dry_run, "diff": diff})
    else:
        output.line(diff.rstrip("\n"))
    return 0
