"""Promote MODEL VERSION to a stage: edit models.yaml in the working tree (only the stage line changes),
print the diff, and say what the promotion will require. Refused promotions (a skipped stage, an unregistered
version, soak time not met, a freeze) change nothing and exit 1.
"""

from __future__ import annotations

import argparse
from datetime import UTC, datetime

from bot.cli import common, output


def configure(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("model", help="model name in models.yaml")
    parser.add_argument("version", help="registered version id")
    parser.add_argument("--to", required=True, dest="stage", metavar="STAGE", help="target stage")
    parser.add_argument(
        "--local", action="store_true", default=True, help="edit the working tree's models.yaml (the default)"
    )
    parser.add_argument("--dry-run", action="store_true", help="print the diff and the plan; write nothing")
    common.add_repo(parser)
    common.add_json(parser)


def run(args: argparse.Namespace) -> int:
    from bot.proposal import propose
    from bot.workspace import REGISTRY_FILE, from_worktree

    root = common.repo_root(args)
    proposal = propose(root, from_worktree(root), args.model, args.version, args.stage, datetime.now(UTC))
    written = proposal.plan.ok and not args.dry_run
    if written:
        common.atomic_write(root / REGISTRY_FILE, proposal.new_text)
    if args.json:
        output.emit_json(
            {"ok": proposal.plan.ok, "written": written, "diff": proposal.diff, "plan": proposal.plan.as_dict()}
        )
    else:
        for reason in proposal.plan.all_refusals:
            output.line(f"refused: {reason}")
        if proposal.plan.ok:
            output.line(proposal.diff.rstrip("\n"))
            step = proposal.plan.steps[0]
            needs = ", ".join(f"{a.role} x{a.count}" for a in step.approvals) or "no approvals"
            output.line(
                f"{'would need' if args.dry_run else 'needs'}: gates {', '.join(step.gates) or 'none'}; {needs}"
            )
            if not args.dry_run:
                output.line(f"wrote {root / REGISTRY_FILE}; commit it on a branch and open a pull request")
    return 0 if proposal.plan.ok else 1
