"""Take the rollout of MODEL in STAGE (canary, shadow, blue-green, ab) to its next step when the analysis of
its live traffic passes; hold it when there is too little traffic; abort it with a revert of the promotion
when the analysis fails. Each step is one commit to models.yaml in the working repository (push it to deploy);
with --github (in a workflow on a checkout of the default branch), the step is a pull request labelled
`rollout` and the abort is the rollback pull request. Exit 0 when advanced, completed or halted; 1 when aborted.
"""

from __future__ import annotations

import argparse
from pathlib import Path

from bot.cli import common, output
from bot.errors import UsageError


def configure(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("model", help="model name")
    parser.add_argument("stage", help="stage whose rollout to advance")
    source = parser.add_mutually_exclusive_group()
    source.add_argument("--log", type=Path, metavar="FILE", help="JSON Lines prediction log to analyse")
    source.add_argument("--prometheus", metavar="URL", help="Prometheus base URL to query")
    parser.add_argument("--force", action="store_true", help="advance without analysis (a person decided)")
    parser.add_argument(
        "--github",
        action="store_true",
        help="open the step (or the rollback) as a pull request instead of committing locally",
    )
    parser.add_argument(
        "--base",
        metavar="BRANCH",
        help="with --github: the branch to target (default: the repository's default branch)",
    )
    common.add_repo(parser)
    common.add_json(parser)


def run(args: argparse.Namespace) -> int:
    from bot.deploy.advance import advance
    from bot.deploy.traffic import JsonLinesLog, MetricsSource, Prometheus
    from bot.gitio import toplevel

    if not (args.log or args.prometheus or args.force):
        raise UsageError("say where the metrics are: --log FILE or --prometheus URL (or --force)")
    source: MetricsSource = JsonLinesLog(args.log) if args.log else Prometheus(args.prometheus or "")
    repo = toplevel(common.repo_root(args))
    if args.github:
        import os

        from bot.deploy.advance import advance_github
        from bot.github import connect

        forge = connect(environ=dict(os.environ))
        result = advance_github(
            forge, repo, args.model, args.stage, source, args.base or forge.default_branch(), force=args.force
        )
    else:
        result = advance(repo, args.model, args.stage, source, force=args.force)
    if args.json:
        output.emit_json(result.as_dict())
    else:
        output.line(
            f"{result.decision}: {result.before.describe()}"
            + (f" -> {result.after.describe()}" if result.after else "")
        )
        for gate in result.gates:
            output.line(f"  {gate.gate}: {gate.status.value}: {gate.reason}")
        if result.commit:
            output.line(f"committed {result.commit[:12]}; push it to deploy")
        if result.pull:
            output.line(f"pull request #{result.pull['number']} ({result.pull['url']}): merge it to deploy")
    return 1 if result.decision == "aborted" else 0
