"""Watch a deployed model: its logged predictions (the gateway's prediction log, or a Parquet/CSV table) checked
per time window against the model's evaluation reference, with the validation's statistics: feature drift (PSI
and KS for numbers, PSI and Jensen-Shannon for categories), prediction drift, data quality (nulls, values outside
the reference's range, unseen categories, wrong types), performance once labels arrive (the validation's
metrics with confidence intervals, per slice, min_rows) and latency/error SLOs. Thresholds, windows and checks
come from the policy's `monitor:` section.

Writes monitor.md (Mermaid charts) and monitor.json to --out. Exit 0 when the report is written (breaches are
in it; --json lists them); 1 on input that cannot be monitored (missing columns, a label for an unknown request
id, no rows at all in the windows); 2 on a usage error.

Table columns: ts, prediction, one per model input; optional score, label, latency_ms, error, request_id,
model, stage.
"""

from __future__ import annotations

import argparse
from datetime import UTC, datetime
from pathlib import Path

from bot.cli import common, output
from bot.errors import UsageError


def configure(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("model", help="model name in models.yaml")
    parser.add_argument("stage", help="the stage whose traffic is checked")
    parser.add_argument(
        "--log",
        type=Path,
        required=True,
        metavar="PATH",
        help="the gateway's log directory (predictions.jsonl and rotations), or a Parquet/CSV file or directory",
    )
    parser.add_argument("--window", metavar="DURATION", help="window width, e.g. 1h, 24h, 7d (default: the policy's)")
    parser.add_argument("--since", metavar="TIME", help="start of the first window, ISO-8601 with a zone")
    parser.add_argument("--until", metavar="TIME", help="end of the last window (default: now)")
    parser.add_argument(
        "--out",
        type=Path,
        default=Path("modelbot-monitor"),
        metavar="DIR",
        help="where monitor.md and monitor.json are written (default: ./modelbot-monitor)",
    )
    parser.add_argument(
        "--github",
        action="store_true",
        help="act on a breach as the policy's monitor.action says: 'issue' opens (or updates) one incident issue "
        "per model, stage and check; 'rollback' opens the rollback pull request and 'retrain' sends the "
        "repository_dispatch event modelbot-retrain, once per incident (GITHUB_API_URL, GITHUB_REPOSITORY and a "
        "token, as the other verbs)",
    )
    common.add_repo(parser)
    common.add_json(parser)


def _time(text: str, flag: str) -> datetime:
    from bot.policy import parse_time

    try:
        return parse_time(text)
    except ValueError as exc:
        raise UsageError(f"{flag}: {exc}; expected e.g. 2026-11-30T00:00:00Z") from None


def run(args: argparse.Namespace) -> int:
    from bot.monitor import report, watch
    from bot.policy import parse_duration

    root, model, _ = common.model_and_policies(args)
    width = None
    if args.window:
        try:
            width = parse_duration(args.window)
        except ValueError as exc:
            raise UsageError(f"--window: {exc}") from None
    watched = watch.observe(
        root,
        model.name,
        args.stage,
        args.log,
        window=width,
        since=_time(args.since, "--since") if args.since else None,
        until=_time(args.until, "--until") if args.until else None,
        now=datetime.now(UTC),
    )
    found = watched.report
    args.out.mkdir(parents=True, exist_ok=True)
    paths = {}
    for name, text in report.files(found).items():
        paths[name] = args.out / name
        common.atomic_write(paths[name], text)
    if args.github:  # after the report is written: it stays on disk whatever GitHub answers
        import os

        from bot.github import connect

        watched = watch.act(watched, connect(environ=dict(os.environ)))
    if args.json:
        output.emit_json(
            {
                **watched.as_dict(),
                "report_md": str(paths["monitor.md"]),
                "report_json": str(paths["monitor.json"]),
            }
        )
    else:
        output.line(report.headline(found))
        for check in found.checks:
            output.line(f"  {check.current.verdict.value:<12} {check.kind}: {check.current.reason}")
        for item in watched.incidents:
            output.line(f"  incident #{item.issue} ({item.kind}): comment {item.comment}")
        for taken in watched.actions:
            output.line(f"  {taken.action}: {taken.result}: {taken.detail}")
        output.line(f"report: {paths['monitor.md']}")
    return 0
