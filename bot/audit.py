"""The audit trail of a stage: each change from git history, with who approved its pull request and where its
evidence is, read from GitHub (and MLflow, when given): only evidence that still exists is linked."""

from __future__ import annotations

import re
from collections.abc import Iterable
from typing import Any

from bot.approvals import Review, standing
from bot.github.forge import Forge, ForgeError
from bot.github.markers import marker
from bot.history import Event

CHECK = "modelbot/validation"  # the bot's validation check run (flows/record.py); its details link is the run
REPORT_ARTIFACT = "modelbot-report"  # what the pull request workflow uploads (report, evidence JSON, card)
_RUN = re.compile(r"/actions/runs/(\d+)$")


def kept(forge: Forge, pr: int, event: Event, tracking_uri: str | None = None) -> dict[str, Any]:
    """Where the evidence of `event`'s pull request still exists: the workflow run's report artifact (unless
    expired), and the validations recorded in MLflow at its head commit."""
    out: dict[str, Any] = {"artifact": None, "mlflow_runs": []}
    try:
        head = forge.pull_request(pr).head_sha
        link = forge.check_run_link(head, CHECK)
        found = _RUN.search(link or "")
        artifacts = forge.run_artifacts(int(found.group(1))) if found else []
    except ForgeError:
        return out
    report = next((a for a in artifacts if a.name == REPORT_ARTIFACT and not a.expired), None)
    if report is not None:
        out["artifact"] = {"name": report.name, "run": link, "expires_at": report.expires_at, "url": report.url}
    t = event.transition
    if tracking_uri and t.to_version is not None:
        from bot import mlflow_record

        try:
            out["mlflow_runs"] = mlflow_record.runs_for(tracking_uri, t.model, t.to_version, head)
        except mlflow_record.RecordProblem as exc:
            out["mlflow_problem"] = str(exc)
    return out


def enrich(forge: Forge, found: Iterable[Event], tracking_uri: str | None = None) -> list[dict[str, Any]]:
    """Each event as data, plus `approvers` (standing approvals of its PR), `evidence` (its report comment) and
    `evidence_kept` (the report artifact while it exists, the MLflow runs of its validation)."""
    out = []
    for event in found:
        record = event.as_dict()
        if event.pr is not None:
            reviews = [Review(r.author, r.state, r.commit_id or "") for r in forge.reviews(event.pr)]
            record["approvers"] = sorted(u for u, r in standing(reviews).items() if r.state == "APPROVED")
            t = event.transition
            report = forge.find_comment(event.pr, marker(t.model, t.stage, "report"))
            record["evidence"] = report.html_url if report else None
            record["evidence_kept"] = kept(forge, event.pr, event, tracking_uri)
        out.append(record)
    return out
