"""What outlasts a validation of a pull request (issue 19): report.md and report.json in the run's reports
folder (the workflow uploads it as an artifact), the model card beside them (the publish job puts it in the
pull request's body), and, where the job records to MLflow (`BotContext.record_to`: the evaluate job, which
holds MLflow's credentials to load the models), a run linked to the model version with the report and the
card as artifacts, the headline numbers as metrics, and the version's `modelbot.validation` tags.

Recording never changes a verdict: an MLflow that cannot take the record leaves a note in the report."""

from __future__ import annotations

import json
import re
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from bot import card as cards
from bot import mlflow_record
from bot.errors import GitError
from bot.flows.context import BotContext
from bot.registry import Model
from bot.report import render as report
from bot.validation.record import Evidence

_RUN_URL = re.compile(r"^https?://[^/]+/(?P<repo>[^/]+/[^/]+)/actions/runs/\d+$")


@dataclass(frozen=True)
class Kept:
    comment: str  # report.md: the pull request's report comment
    report: Path
    card: str  # the model card (Markdown), for the pull request's body
    mlflow_run: str | None = None
    problem: str | None = None  # why MLflow did not take the record


def provenance(ctx: BotContext, commit: str, pull: int | None) -> mlflow_record.Provenance:
    match = _RUN_URL.match(ctx.run_url or "")
    return mlflow_record.Provenance(commit, pull, match["repo"] if match else None, ctx.run_url)


def stage_history(ctx: BotContext, rev: str, model: str, version: str) -> list[dict[str, Any]]:
    """The version's stage changes along the base branch's history (empty without that history)."""
    from bot.history import events

    if ctx.workspace is None:
        return []
    try:
        found = events(ctx.workspace, rev, model)
    except GitError:
        return []
    return [e.as_dict() for e in found if version in (e.transition.to_version, e.transition.from_version)]


def keep(
    ctx: BotContext,
    evidence: Evidence,
    model: Model,
    origin: mlflow_record.Provenance,
    out: Path,
    limit: int,
    history: Sequence[Mapping[str, Any]] = (),
    approvals: Mapping[str, Sequence[Mapping[str, Any]]] | None = None,
) -> Kept:
    """Write the report and the card into `out`, and record both in MLflow when the context says so."""
    started: mlflow_record.Started | None = None
    problem: str | None = None
    if ctx.record_to:
        candidate = str((evidence.inputs.get("candidate") or {}).get("uri") or "")
        try:
            started = mlflow_record.start(
                ctx.record_to, evidence.model, evidence.version, evidence.stage, candidate, origin
            )
        except mlflow_record.RecordProblem as exc:
            problem = str(exc)
            evidence.notes.append(f"Not recorded in MLflow: {problem}")
        else:
            evidence.inputs["recorded"] = {"mlflow_run": started.run_id, "mlflow_experiment": started.experiment_id}
    md_path, json_path = report.write(evidence, out, limit=limit)
    record = json.loads(json_path.read_text(encoding="utf-8"))
    where = {"mlflow_run": started.run_id} if started is not None else {}
    data = cards.build(model, evidence.version, record, history, approvals, where)
    card = cards.markdown(data)
    (out / "model_card.md").write_text(card, encoding="utf-8")
    card_json = json.dumps(data, indent=2, default=str) + "\n"
    (out / "model_card.json").write_text(card_json, encoding="utf-8")
    if started is not None:
        files = {
            "report.json": json_path.read_text(encoding="utf-8"),
            "report.md": md_path.read_text(encoding="utf-8"),
            "model_card.md": card,
            "model_card.json": card_json,
        }
        try:
            mlflow_record.finish(started, record, files, origin)
        except mlflow_record.RecordProblem as exc:
            problem = str(exc)
    comment = md_path.read_text(encoding="utf-8")
    return Kept(comment, md_path, card, started.run_id if started is not None else None, problem)
