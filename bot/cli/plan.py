"""What a change to models.yaml between two git revisions requires: for each stage transition, the gates,
approvals and deployment of the base revision's policy, or why it is refused.

Policies are read from the base revision, never from the change itself. Exit 0 when nothing is refused, 1 otherwise.
"""

from __future__ import annotations

import argparse
from datetime import UTC, datetime

from bot.cli import common, output
from bot.errors import UsageError


def configure(parser: argparse.ArgumentParser) -> None:
    common.add_repo(parser)
    common.add_json(parser)
    parser.add_argument("--base", required=True, metavar="REV", help="the revision the change starts from")
    parser.add_argument("--head", default="HEAD", metavar="REV", help="the revision with the change (default HEAD)")
    parser.add_argument("--at", metavar="TIME", help="judge soak times and freezes at this ISO time (default now)")


def _now(value: str | None) -> datetime:
    if value is None:
        return datetime.now(UTC)
    try:
        parsed = datetime.fromisoformat(value.replace("Z", "+00:00"))
    except ValueError:
        raise UsageError(f"--at {value!r} is not an ISO 8601 time such as 2026-11-23T12:00:00Z") from None
    return parsed if parsed.tzinfo else parsed.replace(tzinfo=UTC)


def run(args: argparse.Namespace) -> int:
    from bot.gitio import toplevel
    from bot.plan.revisions import plan_revisions

    root = common.repo_root(args)
    result = plan_revisions(toplevel(root), args.base, args.head, _now(args.at))
    if args.json:
        output.emit_json(result.as_dict())
        return 0 if result.ok else 1
    if not result.steps:
        output.line("no stage changes")
    for step in result.steps:
        output.line(f"{step.transition}  [policy {step.policy}]")
        if step.refusals:
            for reason in step.refusals:
                output.line(f"  refused: {reason}")
            continue
        approvals = ", ".join(f"{a.role} x{a.count}" for a in step.approvals) or "none"
        output.line(f"  gates:     {', '.join(step.gates.names) or 'none'}")
        output.line(f"  approvals: {approvals}")
        output.line(f"  deploy:    {step.deploy.strategy} via {', '.join(step.deploy.deployer_names)}")
    for change in result.version_changes:
        output.line(f"{change.model} version {change.version}: {change.change}")
    if result.policy_change_approvals:
        output.line(
            "policies/ changed: needs " + ", ".join(f"{a.role} x{a.count}" for a in result.policy_change_approvals)
        )
    for reason in result.refusals:
        output.line(f"refused: {reason}")
    return 0 if result.ok else 1
