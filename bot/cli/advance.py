"""Take the rollout of MODEL in STAGE (canary, shadow, blue-green, ab) to its next step when the analysis of
its live traffic passes; hold it when there is too little traffic; abort it with a revert of the promotion
when the analysis fails. Each step is one commit to models.yaml in the working repository (push it to deploy).
Exit 0 when advanced, completed or halted; 1 when aborted.
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
    common.add_repo(parser)
    common.add_json(parser)


def run(args: argparse.Namespace) -> int:
    from bot.deploy.advance import advance
    from bot.deploy.analysis import JsonLinesLog, MetricsSource, Prometheus
    from bot.gitio import toplevel

    if not (args.log or args.prometheus or args.force):
        raise UsageError("say where the metrics are: --log FILE or --prometheus URL (or --force)")
    source: MetricsSource = JsonLinesLog(args.log) if args.log else Prometheus(args.prometheus or "")
    repo = toplevel(common.repo_root(args))
    result = advance(repo, args.model, args.stage, source, force=args.force)
    if args.json:
        output.emit_json(result.as_dict())
    else:
        output.line(f"{result.decision}: {result.before.describe()}"
                    + (f" -> {result.after.describe()}" if result.after else ""))
        for gate in result.gates:
            output.line(f"  {gate.gate}: {gate.status.value}: {gate.reason}")
        if result.commit:
            output.line(f"committed {result.commit[:12]}; push it to deploy")
    return 1 if result.decision == "aborted" else 0
