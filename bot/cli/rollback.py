"""Roll back MODEL in a stage by reverting the change that made its current promotion: `--local` creates the
revert commit in this repository (push it, and the deploy returns the stage to the previous version);
`--github` opens the revert as a pull request labelled `rollback`. A revert that conflicts with later changes
is reported with the files and the command to resolve it; nothing is left half-applied.
"""

from __future__ import annotations

import argparse
import os

from bot.cli import common, output


def configure(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("model", help="model name")
    parser.add_argument("--stage", required=True, help="stage to roll back")
    where = parser.add_mutually_exclusive_group(required=True)
    where.add_argument("--local", action="store_true", help="create the revert commit in this repository")
    where.add_argument("--github", action="store_true", help="open the revert pull request on GitHub")
    common.add_repo(parser)
    common.add_json(parser)


def run(args: argparse.Namespace) -> int:
    from bot.deploy import rollback
    from bot.gitio import toplevel

    repo = toplevel(common.repo_root(args))
    target = rollback.find(repo, args.model, args.stage)
    result: dict[str, object] = {"target": target.as_dict()}
    if args.local:
        sha = rollback.revert_local(repo, target)
        result["revert_commit"] = sha
        text = f"created {sha[:12]}: {target.message().splitlines()[0]}; push it to deploy"
    else:
        from bot.github import connect

        pull = rollback.revert_github(connect(environ=dict(os.environ)), target)
        result["revert_pr"] = {"number": pull.number, "url": pull.html_url}
        text = f"opened #{pull.number} ({pull.html_url}): {pull.title}"
    event = target.event.transition
    if args.json:
        output.emit_json({"ok": True, **result})
    else:
        output.line(f"{args.model} {args.stage}: reverting {target.commit[:12]} ({target.title}), which moved it "
                    f"{event.from_version or '-'} -> {event.to_version or '-'}")
        output.line(text)
    return 0
