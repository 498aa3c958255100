"""Run only the infrastructure gates for a model version: the version in the real model server
(`mlflow models serve`) in a sandbox on loopback, API consistency with the champion, answers in the declared
shape, parity with in-process predictions, a load test against the stage's latency SLA and the champion
measured in the same run, and a warm-up replay of recorded requests.

The gates and thresholds come from the stage's `gates.infra` in policies/ (the defaults when it names none).
Writes infra.json (gates and figures) and the candidate's replay answers to --out. Exit 0 when every gate
passes; 1 when one fails or is inconclusive; 2 on a usage or configuration error. Models resolve through
MLflow (MLFLOW_TRACKING_URI) from the registry URIs in models.yaml only.
"""

from __future__ import annotations

import argparse
import json
from pathlib import Path
from typing import Any

from bot.cli import common, output
from bot.errors import ModelbotError, UsageError
from bot.policy.gates import Infra


def configure(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("model", help="model name in models.yaml")
    parser.add_argument("version", help="the candidate version id")
    parser.add_argument(
        "--stage",
        help="target stage (default: the stage after the last one the version holds); "
        "its current version is the champion",
    )
    parser.add_argument(
        "--out",
        type=Path,
        default=Path("modelbot-infra"),
        metavar="DIR",
        help="where infra.json and the replay answers are written (default: ./modelbot-infra)",
    )
    common.add_repo(parser)
    common.add_json(parser)


def run(args: argparse.Namespace) -> int:
    from bot.evidence import Status, overall
    from bot.infra import check

    root, model, policy = _load(args)
    version = model.version(args.version)
    if version is None:
        raise UsageError(
            f"model '{model.name}' has no version '{args.version}' in {root / 'models.yaml'}; "
            f"versions: {', '.join(v.id for v in model.versions) or 'none'}"
        )
    stage = args.stage or target_stage(policy.stage_names, model.stage_of(version.id))
    if not policy.has_stage(stage):
        raise UsageError(f"policy '{policy.name}' has no stage '{stage}'; stages: {', '.join(policy.stage_names)}")
    named = policy.stage(stage).gates.infra
    infra = named or Infra()
    champion = _champion(model, stage, version.id)
    frame, replay_log = _data(model, root, infra.replay)
    output.progress(
        f"infra-check {model.name} {version.id} for {stage}"
        + (f" against champion {champion.id}" if champion else " (no champion)")
    )
    outcome = check.run(
        infra,
        version.uri,
        frame,
        champion_uri=champion.uri if champion else None,
        target=model.evaluation.target,
        replay_log=replay_log,
        options=check.Options(artifacts=args.out),
        progress=output.progress,
    )
    status = overall(outcome.gates)
    record = {
        "ok": status is Status.PASS,
        "status": status.value,
        "model": model.name,
        "version": version.id,
        "stage": stage,
        "champion": champion.id if champion else None,
        "policy_names_infra": named is not None and bool(named.written),
        "gates": [g.as_dict() for g in outcome.gates],
        "figures": outcome.figures,
    }
    path = _write(args.out, record)
    _show(record, path, args.json)
    return 0 if status is Status.PASS else 1


def target_stage(order: tuple[str, ...], held: list[str]) -> str:
    """The stage a version goes to next: after the last one it holds in the policy's order, else the first."""
    if not order:
        raise UsageError("the policy names no stages")
    reached = [order.index(s) for s in held if s in order]
    return order[min(max(reached) + 1, len(order) - 1)] if reached else order[0]


def _load(args: argparse.Namespace) -> tuple[Path, Any, Any]:
    root, model, policies = common.model_and_policies(args)
    return root, model, policies.resolve(model)


def _champion(model: Any, stage: str, candidate: str) -> Any:
    held = model.stages.get(stage)
    return model.version(held) if held is not None and str(held) != candidate else None


def _data(model: Any, root: Path, want_replay: bool) -> tuple[Any, Path | None]:
    """The pinned evaluation frame, and the pinned replay log when the policy asks for a replay."""
    from bot.validation import data

    evaluation = model.evaluation
    try:
        frame, _ = data.load(evaluation.data, evaluation.sha256, root)
        if not want_replay or evaluation.replay is None:
            return frame, None
        path = data.resolve(evaluation.replay.data, root)
        data.verify(path, evaluation.replay.sha256, "replay log")
        return frame, path
    except data.DataProblem as exc:
        raise ModelbotError(str(exc)) from None


def _write(out: Path, record: dict[str, Any]) -> Path:
    path = out / "infra.json"
    try:
        out.mkdir(parents=True, exist_ok=True)
        common.atomic_write(path, json.dumps(record, indent=2, default=str) + "\n")
    except OSError as exc:
        raise UsageError(f"cannot write {path}: {exc.strerror or exc}") from None
    return path


def _show(record: dict[str, Any], path: Path, json_mode: bool) -> None:
    if json_mode:
        output.emit_json({**record, "infra_json": str(path)})
        return
    champion = f" vs champion {record['champion']}" if record["champion"] else ""
    output.line(
        f"infra-check {record['model']} {record['version']} for {record['stage']}{champion}: {record['status']}"
    )
    if not record["policy_names_infra"]:
        output.line("  (the policy names no infra gates for this stage: ran the defaults)")
    for gate in record["gates"]:
        output.line(f"  {gate['status']:<12} {gate['gate']}: {gate['reason']}")
    output.line(f"evidence: {path}")
