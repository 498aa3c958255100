"""Validate a model version for a stage, locally and without GitHub: every offline gate the stage's policy
names (metrics against floors, the champion and a naive baseline, slices, error analysis, robustness probes,
data checks), judged on confidence intervals.

Writes report.md (the pull-request comment) and report.json (the evidence record) to --out. Exit 0 when every
gate passes; 1 when a gate fails (refused); 3 when the outcome is inconclusive (needs a person; never a pass);
2 on a usage or configuration error. Models load through MLflow (MLFLOW_TRACKING_URI) from the registry URIs
in models.yaml only.
"""

from __future__ import annotations

import argparse
import hashlib
from pathlib import Path
from typing import Any

from bot.cli import common, output
from bot.errors import UsageError


def _exit_codes() -> dict[Any, int]:
    from bot.evidence import Status

    return {Status.PASS: 0, Status.SKIPPED: 0, Status.FAIL: 1, Status.INCONCLUSIVE: INCONCLUSIVE}


INCONCLUSIVE = 3  # distinct from a refusal (1) and a usage error (2): CI can tell "needs a person" apart


def configure(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("model", help="model name in models.yaml")
    parser.add_argument("version", help="the candidate version id")
    parser.add_argument("--stage", required=True, help="target stage; its current version is the champion")
    parser.add_argument(
        "--out",
        type=Path,
        default=Path("modelbot-report"),
        metavar="DIR",
        help="where report.md and report.json are written (default: ./modelbot-report)",
    )
    parser.add_argument(
        "--pointer",
        metavar="TEXT",
        help="where a truncated report.md points for the full evidence (default: the report.json path)",
    )
    common.add_repo(parser)
    common.add_json(parser)


def _inputs(root: Path, policy: Any, fingerprint: str) -> dict[str, Any]:
    registry_file = root / "models.yaml"
    return {
        "models_yaml_sha256": hashlib.sha256(registry_file.read_bytes()).hexdigest(),
        "policy": {
            "name": policy.name,
            "fingerprint": fingerprint,
            "files": {source.file: source.sha256 for source in policy.sources},
        },
    }


def run(args: argparse.Namespace) -> int:
    from bot.validation import models

    # First of all: the model-host server imports MLflow while this process imports its own modules and reads
    # the registry, the policies and the data.
    models.prepare()
    from bot.evidence import Status
    from bot.report import render
    from bot.validation import engine, memory

    memory.return_freed_arrays()
    root, model, policies = common.model_and_policies(args)
    policy = policies.resolve(model)
    if not policy.has_stage(args.stage):
        raise UsageError(f"policy '{policy.name}' has no stage '{args.stage}'; stages: {', '.join(policy.stage_names)}")
    subject = engine.Subject.of(model, args.version, args.stage)
    evidence = engine.validate(
        subject,
        policy.stage(args.stage).gates,
        model.evaluation,
        root,
        _inputs(root, policy, policies.fingerprint()),
        progress=output.progress,
    )
    try:
        md_path, json_path = render.write(evidence, args.out, args.pointer)
    except OSError as exc:
        raise UsageError(f"cannot write the report to {args.out}: {exc.strerror or exc}") from None
    passed = evidence.status == Status.PASS
    if args.json:
        output.emit_json(
            {
                "ok": passed,
                "status": evidence.status.value,
                "verdict": render.verdict(evidence),
                "report_md": str(md_path),
                "report_json": str(json_path),
                "gates": [g.as_dict() for g in evidence.gates],
            }
        )
    else:
        output.line(render.verdict(evidence).lstrip("# "))
        for gate in evidence.gates:
            if gate.status in (Status.FAIL, Status.INCONCLUSIVE):
                output.line(f"  {gate.status.value:<12} {gate.gate}: {gate.reason}")
        output.line(f"report: {md_path}")
        output.line(f"evidence: {json_path}")
    return _exit_codes()[evidence.status]
