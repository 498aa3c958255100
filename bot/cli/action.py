"""Handle the GitHub event of this Actions step: reads GITHUB_EVENT_NAME and GITHUB_EVENT_PATH, runs the
handler for that event and action, and writes step outputs (GITHUB_OUTPUT) and the job summary
(GITHUB_STEP_SUMMARY). Events the bot does not handle are ignored with one line (exit 0)."""

from __future__ import annotations

import argparse
import os

from bot.cli import output


def configure(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--event-name", help="override GITHUB_EVENT_NAME (e.g. issue_comment)")
    parser.add_argument("--event-path", help="override GITHUB_EVENT_PATH (a file holding the webhook payload)")
    parser.add_argument("--json", action="store_true", help="print the result as JSON")


def run(args: argparse.Namespace) -> int:
    from bot.actions import run as dispatch
    from bot.actions.runtime import Runtime

    runtime = Runtime.from_env(os.environ, args.event_name, args.event_path)
    result = dispatch(runtime)
    if args.json:
        output.emit_json(
            {"ok": True, "handled": result.handled, "message": result.message, "outputs": dict(result.outputs)}
        )
    else:
        output.line(result.message)
    return 0
