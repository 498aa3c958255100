"""Run the whole story on one machine, with no account anywhere: real scikit-learn models in a real MLflow
(SQLite), a local GitHub seeded with this project's models.yaml, policies and workflows, slash commands, the
evidence report, approvals by role (and one that does not count), merge and a live canary through the serving
gateway that advances itself on schedule ticks, a candidate that fails on a slice, a rollback by revert commit,
and a canary that fails live requests, aborted and rolled back by the bot alone. Exit 0 only if every step ended
as the story says.
"""

from __future__ import annotations

import argparse
import tempfile
from pathlib import Path

from bot.cli import output


def configure(parser: argparse.ArgumentParser) -> None:
    parser.add_argument(
        "--workdir",
        type=Path,
        metavar="DIR",
        help="where the MLflow store, the local GitHub and the reports go (default: a new temp dir)",
    )
    parser.add_argument(
        "--json",
        action="store_true",
        help="print one JSON object: ok, steps, api_requests, merge_to_full_traffic_s, failure_to_restore_s",
    )


def run(args: argparse.Namespace) -> int:
    from bot.demo.story import Story

    workdir = args.workdir or Path(tempfile.mkdtemp(prefix="modelbot-demo-"))
    if workdir.exists() and any(workdir.iterdir()):
        from bot.errors import UsageError

        raise UsageError(f"--workdir {workdir} is not empty; give a new or empty directory")
    workdir.mkdir(parents=True, exist_ok=True)
    result = Story(workdir.resolve(), output.progress).run()
    if args.json:
        output.emit_json(result.as_dict())
        return 0 if result.ok else 1
    output.line("")
    output.line(
        f"{'The story ended as told' if result.ok else 'The story broke'}: "
        f"{sum(s.outcome == 'ok' for s in result.steps)}/{len(result.steps)} steps in {result.seconds:.0f} s, "
        f"{result.api_requests} API requests to the local GitHub."
    )
    output.line("")
    width = max([len(step.name) + 2 for step in result.steps] + [4])
    output.line(f"{'step':<{width}} {'s':>6} {'requests':>8}")
    for step in result.steps:
        mark = "✔ " if step.outcome == "ok" else "✘ "
        output.line(f"{mark + step.name:<{width}} {step.seconds:>6.1f} {step.api_requests:>8}")
    output.line("")
    output.line(
        f"Where to look: the repository {result.repository} (browse it with "
        f"`modelbot localhub serve --repo {result.repository}`), the workflow runs, their logs and reports "
        f"under {result.reports}, the MLflow store {workdir / 'mlflow.db'}."
    )
    return 0 if result.ok else 1
