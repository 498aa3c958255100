"""Every stage change of a model, from the git history of models.yaml: when, who, the commit, and the pull
request when the commit message names one (GitHub's squash and merge messages do). With --github, also who
approved each pull request and the link to its evidence report (GITHUB_API_URL, GITHUB_REPOSITORY, GITHUB_TOKEN),
and the evidence that still exists: the workflow run's report artifact until it expires, and (MLFLOW_TRACKING_URI)
the validations recorded in MLflow at the pull request's head."""

from __future__ import annotations

import argparse
import os

from bot.cli import common, output


def configure(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("model", help="model name")
    parser.add_argument("--stage", help="only this stage")
    parser.add_argument("--rev", default="HEAD", help="history up to this revision (default HEAD)")
    parser.add_argument("--github", action="store_true", help="add each PR's approvers and evidence link")
    common.add_repo(parser)
    common.add_json(parser)


def run(args: argparse.Namespace) -> int:
    from bot.gitio import toplevel
    from bot.history import events

    repo = toplevel(common.repo_root(args))
    found = events(repo, args.rev, args.model, args.stage)
    records = [e.as_dict() for e in found]
    if args.github:
        from bot.audit import enrich
        from bot.github import connect

        records = enrich(connect(), found, os.environ.get("MLFLOW_TRACKING_URI") or None)
    if args.json:
        output.emit_json({"model": args.model, "stage": args.stage, "events": records})
        return 0
    if not found:
        output.line(f"no stage changes of {args.model}" + (f" in {args.stage}" if args.stage else ""))
    for event, record in zip(found, records, strict=True):
        pr = f" PR #{event.pr}" if event.pr else ""
        output.line(
            f"{event.at.isoformat()}  {event.transition}  by {event.author}  {event.commit[:10]}{pr}  {event.subject}"
        )
        if "approvers" in record:
            output.line(
                f"    approved by {', '.join(record['approvers']) or 'nobody'}; evidence: "
                f"{record['evidence'] or 'none'}"
            )
            lasting = record["evidence_kept"]
            if lasting["artifact"]:
                artifact = lasting["artifact"]
                output.line(
                    f"    report artifact {artifact['name']} of {artifact['run']} (until {artifact['expires_at']})"
                )
            for run_id in lasting["mlflow_runs"]:
                output.line(f"    recorded in MLflow: run {run_id}")
    return 0
