"""Rehearse a rollback of MODEL in STAGE: on a throwaway clone of the repository, promote another version,
deploy it, roll it back by revert, and deploy again, against the real MLflow registry but only under `drill-`
aliases (nothing that serves is touched). Reports the time to restore and whether the stage's alias ended on
the version it held before. Exit 0 when it did, 1 otherwise.
"""

from __future__ import annotations

import argparse
import os

from bot.cli import common, output


def configure(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("model", help="model name")
    parser.add_argument("stage", help="stage to drill")
    parser.add_argument("--version", help="the version to promote in the drill (default: the newest other one)")
    parser.add_argument("--tracking-uri", metavar="URI", help="MLflow tracking URI (default: $MLFLOW_TRACKING_URI)")
    parser.add_argument("--no-verify", action="store_true", help="skip the smoke checks")
    common.add_repo(parser)
    common.add_json(parser)


def run(args: argparse.Namespace) -> int:
    from bot.deploy.drill import drill
    from bot.gitio import toplevel

    repo = toplevel(common.repo_root(args))
    tracking = args.tracking_uri or os.environ.get("MLFLOW_TRACKING_URI")

    def alias_of(alias: str) -> str | None:
        from mlflow.tracking import MlflowClient

        from bot.workspace import from_worktree

        model = from_worktree(repo).registry.models[args.model]
        uri = next(v.uri for v in model.versions if v.uri.startswith("models:/"))
        name = uri.removeprefix("models:/").split("/")[0]
        client = MlflowClient(tracking_uri=tracking, registry_uri=tracking)
        return str(client.get_model_version_by_alias(name, alias).version)

    report = drill(repo, args.model, args.stage, tracking, args.version, not args.no_verify, alias_of)
    if args.json:
        output.emit_json(report.as_dict())
    else:
        for phase in report.phases:
            output.line(f"{phase.name:9} {phase.seconds:7.2f}s  {phase.detail}")
        output.line(
            f"time to restore: {report.time_to_restore_s:.2f}s; drill-{args.stage} ended on "
            f"{report.alias_after} (previous: {report.previous}): {'ok' if report.ok else 'NOT RESTORED'}"
        )
    return 0 if report.ok else 1
