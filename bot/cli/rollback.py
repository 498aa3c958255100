"""Roll back MODEL in a stage by reverting the change that made its current promotion: `--local` creates the
revert commit in this repository (push it, and the deploy returns the stage to the previous version);
`--github` opens the revert as a pull request labelled `rollback`. A revert that conflicts with later changes
is reported with the files and the command to resolve it (--local; nothing is left half-applied), or opened on
GitHub with git's conflict markers for a person to resolve (--github).
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
    parser.add_argument(
        "--base",
        metavar="BRANCH",
        help="with --github: the branch to revert on (default: the repository's default branch)",
    )
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
        from bot.deploy.rollback_pr import open_rollback
        from bot.github import connect

        forge = connect(environ=dict(os.environ))
        opened = open_rollback(forge, repo, target, args.base or forge.default_branch())
        result["revert_pr"] = opened.as_dict()
        text = f"opened {opened.describe()} ({opened.pull.html_url}): {opened.pull.title}"
    event = target.event.transition
    if args.json:
        output.emit_json({"ok": True, **result})
    else:
        output.line(
            f"{args.model} {args.stage}: reverting {target.commit[:12]} ({target.title}), which moved it "
            f"{event.from_version or '-'} -> {event.to_version or '-'}"
        )
        output.line(text)
    return 0
