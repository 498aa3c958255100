"""`modelbot <verb>`: one module per verb under bot/cli, routed from the VERBS table below.

Only this boundary turns ModelbotError into a message and an exit code: 0 ok, 1 refused or invalid,
2 usage error. Verb modules are imported lazily so `modelbot --help` and a slash-command acknowledgement
start fast.
"""

from __future__ import annotations

import argparse
import importlib
import sys
from collections.abc import Sequence

from bot import __version__
from bot.errors import InvalidFile, ModelbotError
from localhub.errors import LocalhubError

# verb -> (module under bot.cli, one-line help). Each module defines `configure(parser)` and `run(args) -> int`.
VERBS: dict[str, tuple[str, str]] = {
    "demo": ("demo", "run the whole story locally: models, PRs, evidence, approvals, deploy, rollback"),
    "check": ("check", "validate models.yaml and policies/"),
    "status": ("status", "models by stage, versions and owners"),
    "plan": ("plan", "what a change to models.yaml between two git revisions requires"),
    "propose": ("propose", "promote a version to a stage (edits models.yaml)"),
    "register": ("register", "add a version entry to models.yaml"),
    "history": ("history", "every stage change of a model from git history"),
    "card": ("card", "a model card for a version: intended use, lineage, evidence, limits, approvals, history"),
    "sync": ("sync", "register the MLflow versions that models.yaml does not list yet"),
    "validate": ("validate", "run a stage's offline gates for a version; write report.md and report.json"),
    "infra-check": ("infra_check", "serve a version in a sandboxed model server: API, parity, load test, replay"),
    "action": ("action", "handle the GitHub event of an Actions step (the entrypoint of every workflow)"),
    "localhub": ("localhub", "serve a local stand-in for GitHub (REST, git, webhooks) for demos and tests"),
    "deploy": ("deploy", "deploy what a push changed in models.yaml (deployers, strategies, smoke check)"),
    "advance": ("advance", "take a canary/shadow/blue-green/ab rollout to its next step, or abort it"),
    "rollback": ("rollback", "revert the change that made a stage's current promotion (--local or --github)"),
    "serve": ("serve", "serve models.yaml's stages over HTTP: canary, A/B, shadow, blue-green, fallback, metrics"),
    "drill": ("drill", "rehearse promote, deploy, rollback, redeploy on a throwaway copy; time to restore"),
    "monitor": ("monitor", "check a deployed model's logged traffic per window: drift, quality, performance, SLOs"),
}


class _Parser(argparse.ArgumentParser):
    def error(self, message: str) -> None:  # type: ignore[override]  # argparse's error is typed NoReturn; ours exits too
        self.print_usage(sys.stderr)
        self.exit(2, f"{self.prog}: error: {message}\n")


def build_parser() -> argparse.ArgumentParser:
    parser = _Parser(
        prog="modelbot",
        description="GitOps promotion bot for ML models: models.yaml is the truth, promotions are pull requests.",
    )
    parser.add_argument("--version", action="version", version=f"modelbot {__version__}")
    sub = parser.add_subparsers(dest="verb", metavar="VERB", parser_class=_Parser)
    for verb, (module_name, help_text) in VERBS.items():
        module = importlib.import_module(f"bot.cli.{module_name}")
        verb_parser = sub.add_parser(
            verb,
            help=help_text,
            description=(module.__doc__ or help_text).strip(),
            formatter_class=argparse.RawDescriptionHelpFormatter,
        )
        module.configure(verb_parser)
        verb_parser.set_defaults(run=module.run)
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    parser = build_parser()
    args = parser.parse_args(argv)
    if not getattr(args, "run", None):
        parser.print_help()
        return 2
    try:
        return int(args.run(args))
    except InvalidFile as exc:
        from bot.cli import output

        output.problems(exc.problems, json_mode=getattr(args, "json", False))
        return exc.exit_code
    except (ModelbotError, LocalhubError) as exc:
        from bot.cli import output

        output.error(str(exc), json_mode=getattr(args, "json", False))
        return exc.exit_code
    except KeyboardInterrupt:
        print("modelbot: interrupted", file=sys.stderr)
        return 130
