"""Validate models.yaml and policies/: YAML, schemas, cross-references and pinned data hashes.

Exit 0 when everything is valid, 1 with every problem located (file:line:column (key path): what is expected).
"""

from __future__ import annotations

import argparse

from bot import consistency
from bot.cli import common, output
from bot.errors import InvalidFile, Problem
from bot.policy import load_policies
from bot.workspace import read_registry_file


def configure(parser: argparse.ArgumentParser) -> None:
    common.add_repo(parser)
    common.add_json(parser)
    parser.add_argument("--no-data", action="store_true", help="do not hash local evaluation data files")


def run(args: argparse.Namespace) -> int:
    root = common.repo_root(args)
    problems: list[Problem] = []
    registry = policies = None
    try:
        text, registry = read_registry_file(root)
    except InvalidFile as exc:
        problems.extend(exc.problems)
    try:
        policies = load_policies(root)
    except InvalidFile as exc:
        problems.extend(exc.problems)
    if registry is not None and policies is not None:
        problems.extend(consistency.check(registry, text, policies, None if args.no_data else root))
    if problems:
        raise InvalidFile(problems)
    assert registry is not None and policies is not None
    versions = sum(len(m.versions) for m in registry.models.values())
    if args.json:
        output.emit_json(
            {"ok": True, "models": len(registry.models), "versions": versions, "policies": list(policies.names)}
        )
    else:
        output.line(f"ok: {len(registry.models)} models, {versions} versions; policies: {', '.join(policies.names)}")
    return 0
