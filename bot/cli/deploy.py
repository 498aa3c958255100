"""Deploy what a push changed in models.yaml: for each (model, stage) whose version or rollout state differs
between --before and --after, run the deployers its stage's policy names (mlflow-alias, github-deployment,
manifests, command, webhook), in order, then the smoke check. Deploying the same commit again changes nothing.
Exit 0 when everything deployed, 1 when a deployer failed (the record says which, why, and what was done).
"""

from __future__ import annotations

import argparse
import json
import os
from pathlib import Path

from bot.cli import common, output


def configure(parser: argparse.ArgumentParser) -> None:
    parser.add_argument(
        "--before", required=True, metavar="REV", help="the revision before the push (all zeros for a new branch)"
    )
    parser.add_argument("--after", required=True, metavar="REV", help="the pushed revision")
    parser.add_argument(
        "--tip",
        default="HEAD",
        metavar="REV",
        help="the branch's revision now (default HEAD): a change it no longer holds is superseded, never deployed",
    )
    parser.add_argument("--tracking-uri", metavar="URI", help="MLflow tracking URI (default: $MLFLOW_TRACKING_URI)")
    parser.add_argument("--run-url", metavar="URL", help="link to this run (default: the Actions run, if any)")
    parser.add_argument(
        "--github",
        action="store_true",
        help="record GitHub deployments and, on a failed smoke check, open the revert PR",
    )
    parser.add_argument("--no-verify", action="store_true", help="skip the smoke check")
    parser.add_argument("--record", type=Path, metavar="FILE", help="also write the JSON record to FILE")
    common.add_repo(parser)
    common.add_json(parser)


def run_url(environ: dict[str, str]) -> str | None:
    server, repository, run_id = (environ.get(k) for k in ("GITHUB_SERVER_URL", "GITHUB_REPOSITORY", "GITHUB_RUN_ID"))
    return f"{server}/{repository}/actions/runs/{run_id}" if server and repository and run_id else None


def run(args: argparse.Namespace) -> int:
    from bot.deploy.catalog import Context
    from bot.deploy.runner import Runner
    from bot.deploy.verify import SmokeCheck
    from bot.gitio import resolve, toplevel

    environ = dict(os.environ)
    repo = toplevel(common.repo_root(args))
    tracking = args.tracking_uri or environ.get("MLFLOW_TRACKING_URI")
    forge = None
    if args.github:
        from bot.github import connect

        forge = connect(environ=environ)
    url = args.run_url or run_url(environ)
    verifier = None if args.no_verify else SmokeCheck(tracking, repo)
    from bot.workspace import registry_at

    tip = registry_at(repo, resolve(repo, args.tip))
    record = Runner(Context(repo=repo, environ=environ, forge=forge, tracking_uri=tracking), url, verifier).run(
        args.before, args.after, tip.registry if tip else None
    )
    result = record.as_dict()
    failure = record.failure
    if forge is not None and failure is not None and failure.failed == "verify":
        from bot.deploy.respond import on_failure

        result["response"] = on_failure(forge, repo, record.after, failure, url, forge.default_branch()).as_dict()
    if args.record:
        args.record.write_text(json.dumps(result, indent=2, default=str) + "\n", encoding="utf-8")
    if args.json:
        output.emit_json(result)
        return 0 if record.ok else 1
    if not record.transitions:
        output.line("nothing to deploy: no stage or rollout state changed")
    for item in record.transitions:
        output.line(f"{item.status:13} {item.change}")
        for step in item.steps:
            output.line(f"  {step.deployer}: {step.status}: {step.detail}")
        if item.failed:
            output.line(f"  FAILED at {item.failed}: {item.reason}")
        elif item.reason:
            output.line(f"  {item.reason}")
    if "response" in result:
        output.line(f"response: {result['response']['reason']}")
    return 0 if record.ok else 1
