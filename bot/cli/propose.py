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
    where = parser.add_mutually_exclusive_group()
    where.add_argument("--local", action="store_true", help="edit the working tree's models.yaml (the default)")
    where.add_argument(
        "--github",
        action="store_true",
        help="open (or update) the promotion pull request on GitHub and validate it "
        "(GITHUB_API_URL, GITHUB_REPOSITORY, GITHUB_TOKEN)",
    )
    parser.add_argument("--dry-run", action="store_true", help="print the diff and the plan; write nothing")
    common.add_repo(parser)
    common.add_json(parser)


def run_github(args: argparse.Namespace) -> int:
    from bot.flows.context import BotContext
    from bot.flows.propose import propose
    from bot.flows.validate_pr import validate_pull
    from bot.github import connect

    forge = connect()
    root = common.repo_root(args)
    workspace = root if (root / ".git").exists() else None
    ctx = BotContext(
        forge, forge.default_branch(), datetime.now(UTC), workspace=workspace, reports=root / "modelbot-reports"
    )
    result = propose(ctx, args.model, args.version, args.stage, source="modelbot propose --github")
    if not result.ok or result.pull is None:
        if args.json:
            output.emit_json({"ok": False, "refusals": list(result.refusals)})
        for reason in result.refusals:
            output.line(f"refused: {reason}")
        return 1
    pull = result.pull.pull
    validation = validate_pull(ctx, pull, files=["models.yaml"], progress=output.progress)
    if args.json:
        output.emit_json(
            {
                "ok": True,
                "pull_request": pull.number,
                "url": pull.html_url,
                "action": result.pull.action,
                "validation": validation.status.value,
            }
        )
    else:
        output.line(f"{result.pull.action} #{pull.number} {pull.html_url}")
        output.line(f"validation: {validation.status.value}")
    return 0


def run(args: argparse.Namespace) -> int:
    if args.github:
        return run_github(args)
    from bot.plan.proposal import propose_locally
    from bot.workspace import REGISTRY_FILE, from_worktree

    root = common.repo_root(args)
    proposal = propose_locally(root, from_worktree(root), args.model, args.version, args.stage, datetime.now(UTC))
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
                f"{'would need' if args.dry_run else 'needs'}: gates {', '.join(step.gates.names) or 'none'}; {needs}"
            )
            if not args.dry_run:
                output.line(f"wrote {root / REGISTRY_FILE}; commit it on a branch and open a pull request")
    return 0 if proposal.plan.ok else 1
