"""A model card for one registered version (Mitchell et al., "Model Cards for Model Reporting"): intended use
and owners from models.yaml, training lineage, the evaluation data and its hash, the metrics with intervals
against champion and baseline, slices, robustness and data checks, known limits, the approvals the policy
requires and the version's stage history (with --github, who approved each change).

The evidence is --evidence (a report.json from `modelbot validate`), else the version's latest validation
recorded in MLflow (MLFLOW_TRACKING_URI: the version's modelbot.validation.run_id tag); without either the card
says so. --record logs the card to MLflow with the version (a run of its own; the version's modelbot.card.run_id
tag points at it).
"""

from __future__ import annotations

import argparse
import json
import os
from pathlib import Path
from typing import Any

from bot.cli import common, output
from bot.errors import UsageError


def configure(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("model", help="model name in models.yaml")
    parser.add_argument("version", help="the version id")
    parser.add_argument("--evidence", type=Path, metavar="FILE", help="a report.json to take the evidence from")
    parser.add_argument("--rev", default="HEAD", help="the stage history up to this revision (default HEAD)")
    parser.add_argument("--github", action="store_true", help="add who approved each stage change (GITHUB_* env)")
    parser.add_argument("--record", action="store_true", help="log the card to MLflow with the version")
    parser.add_argument("--out", type=Path, metavar="FILE", help="write the card here (Markdown; JSON with --json)")
    common.add_repo(parser)
    common.add_json(parser)


def _evidence(args: argparse.Namespace, tracking_uri: str | None) -> tuple[dict[str, Any] | None, dict[str, str]]:
    """The evidence and where it came from."""
    if args.evidence is not None:
        try:
            found = json.loads(args.evidence.read_text(encoding="utf-8"))
        except (OSError, ValueError) as exc:
            raise UsageError(f"--evidence {args.evidence}: not a readable report.json ({exc})") from None
        if not isinstance(found, dict) or found.get("schema") != "modelbot.evidence/1":
            raise UsageError(f"--evidence {args.evidence}: expected a report.json (schema modelbot.evidence/1)")
        if (str(found.get("model")), str(found.get("version"))) != (args.model, str(args.version)):
            raise UsageError(
                f"--evidence {args.evidence}: it is the evidence of {found.get('model')} {found.get('version')}, "
                f"not of {args.model} {args.version}"
            )
        return found, {"file": str(args.evidence)}
    if not tracking_uri:
        return None, {}
    from bot import mlflow_record

    try:
        latest = mlflow_record.latest_evidence(tracking_uri, args.model, str(args.version))
    except mlflow_record.RecordProblem as exc:
        raise UsageError(str(exc)) from None
    if latest is None:
        return None, {}
    return latest[1], {"mlflow_run": latest[0]}


def run(args: argparse.Namespace) -> int:
    from bot import card as cards
    from bot.gitio import toplevel
    from bot.history import events

    root, model, policies = common.model_and_policies(args)
    if model.version(args.version) is None:
        known = ", ".join(v.id for v in model.versions) or "none"
        raise UsageError(f"model '{model.name}' has no version {args.version} in models.yaml; registered: {known}")
    version = str(model.version(args.version).id)
    tracking_uri = os.environ.get("MLFLOW_TRACKING_URI") or None
    evidence, source = _evidence(args, tracking_uri)
    found = [
        e
        for e in events(toplevel(root), args.rev, model.name)
        if version in (e.transition.to_version, e.transition.from_version)
    ]
    history: list[dict[str, Any]] = [e.as_dict() for e in found]
    if args.github:
        from bot.audit import enrich
        from bot.github import connect

        history = enrich(connect(), found, tracking_uri)
    policy = policies.resolve(model)
    required = {s: [a.as_dict() for a in policy.stage(s).approvals] for s in policy.stage_names}
    data = cards.build(model, version, evidence, history, required, source)
    text = cards.markdown(data)
    if args.record:
        if not tracking_uri:
            raise UsageError("--record needs MLFLOW_TRACKING_URI: the MLflow the version is registered in")
        from bot import mlflow_record

        try:
            data["recorded"]["card_run"] = mlflow_record.log_card(
                tracking_uri,
                model.name,
                version,
                {"model_card.md": text, "model_card.json": json.dumps(data, indent=2, default=str)},
            )
        except mlflow_record.RecordProblem as exc:
            raise UsageError(str(exc)) from None
    if args.out is not None:
        try:
            args.out.parent.mkdir(parents=True, exist_ok=True)
            common.atomic_write(args.out, json.dumps(data, indent=2, default=str) + "\n" if args.json else text)
        except OSError as exc:
            raise UsageError(f"cannot write the card to {args.out}: {exc.strerror or exc}") from None
        if not args.json:
            output.line(f"model card: {args.out}")
    if args.json and args.out is None:
        output.emit_json(data)
    elif args.out is None:
        output.line(text.rstrip("\n"))
    return 0
