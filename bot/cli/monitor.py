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
from bot.errors import RefusedError, UsageError


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
        "per model, stage and check (GITHUB_API_URL, GITHUB_REPOSITORY and a token, as the other verbs)",
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
    from bot.monitor import reference, report, run
    from bot.monitor.windows import Windows
    from bot.policy import monitor as monitor_policy
    from bot.policy import parse_duration

    root, model, policies = common.model_and_policies(args)
    policy = policies.resolve(model)
    if not policy.has_stage(args.stage):
        raise UsageError(f"policy '{policy.name}' has no stage '{args.stage}'; stages: {', '.join(policy.stage_names)}")
    settings = monitor_policy.for_model(policies, policy.name, model.name, args.stage)
    width = settings.window
    if args.window:
        try:
            width = parse_duration(args.window)
        except ValueError as exc:
            raise UsageError(f"--window: {exc}") from None
    now = datetime.now(UTC)
    until = _time(args.until, "--until") if args.until else now
    since = _time(args.since, "--since") if args.since else until - width * settings.windows
    windows = Windows.between(since, until, width)
    ref = reference.load(model, root)
    found = run.monitor(model.name, args.stage, args.log, ref, windows, settings, now)
    if found.rows == 0 and found.requests == 0:
        raise RefusedError(
            f"{args.log}: no prediction of {model.name}/{args.stage} between {windows.start.isoformat()} and "
            f"{windows.end.isoformat()}: nothing to monitor (no data is never a pass; check --since/--window)"
        )
    args.out.mkdir(parents=True, exist_ok=True)
    paths = {}
    for name, text in report.files(found).items():
        paths[name] = args.out / name
        common.atomic_write(paths[name], text)
    opened: list[dict[str, object]] = []
    not_wired = [a for a in settings.actions if a != "issue"]
    if args.github and found.breaches and "issue" in settings.actions:
        import os

        from bot.github import connect
        from bot.monitor import incidents

        forge = connect(environ=dict(os.environ))
        evidence = report.markdown(found)
        for incident in incidents.raise_incidents(forge, found, model.owners, evidence):
            opened.append({"kind": incident.kind, "issue": incident.issue, "comment": incident.comment})
    if args.json:
        output.emit_json(
            {
                "incidents": opened,
                "actions_not_taken": not_wired if args.github and found.breaches else [],
                "ok": not found.breaches,
                "headline": report.headline(found),
                "breaches": [c.kind for c in found.breaches],
                "checks": {c.kind: c.current.verdict.value for c in found.checks},
                "report_md": str(paths["monitor.md"]),
                "report_json": str(paths["monitor.json"]),
            }
        )
    else:
        output.line(report.headline(found))
        for check in found.checks:
            output.line(f"  {check.current.verdict.value:<12} {check.kind}: {check.current.reason}")
        for item in opened:
            output.line(f"  incident #{item['issue']} ({item['kind']}): comment {item['comment']}")
        if args.github and found.breaches and not_wired:
            output.line(f"  not taken (not implemented yet): {', '.join(not_wired)}")
        output.line(f"report: {paths['monitor.md']}")
    return 0
