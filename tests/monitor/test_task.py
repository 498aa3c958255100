"""The maintenance workflow monitors on its schedule: every deployed stage whose policy has `monitor:`, over the
gateway's prediction log (MODELBOT_PREDICTION_LOG); `task: monitor` does it on demand. A breach opens its incident
and, as the policy says, the rollback pull request, whose validation the run asks for (the workflow's token
starts no run)."""

from __future__ import annotations

from collections.abc import Callable
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pandas as pd
import pytest

from bot.actions.events import DispatchEvent, Repository
from bot.actions.runtime import Runtime
from bot.actions.tasks import on_task, scheduled
from bot.deploy.rollback import ROLLBACK_LABEL
from tests.monitor import support
from tests.monitor.test_actions import MODEL, STAGE, _seed
from tests.support.localhub import RunningHub, git


def _event(task: str, **inputs: str) -> DispatchEvent:
    return DispatchEvent("schedule" if task == "scheduled" else "workflow_dispatch", None,
                         Repository("acme/models", "main"), "github-actions[bot]", "refs/heads/main",
                         ".github/workflows/modelbot-maintenance.yml", {"task": task, **inputs})


@pytest.mark.slow  # the schedule's sync creates an MLflow store
def test_the_schedule_monitors_each_watched_stage_and_opens_the_rollback_with_its_validation_asked(
    localhub_factory: Callable[..., RunningHub], tmp_path: Path
) -> None:
    seed = _seed(tmp_path / "seed", ["issue", "rollback"])
    hub = localhub_factory(seed=seed.path)
    checkout = tmp_path / "checkout"
    git(tmp_path, "clone", "-q", hub.hub.clone_url(), str(checkout))
    reference = pd.read_csv(checkout / "data/tumor-malignancy-reference.csv")
    # the last four hours up to now (the run's windows end at its own clock), the last one shifted
    start = datetime.now(UTC) - timedelta(hours=4) + timedelta(seconds=30)
    log = support.gateway_log(tmp_path / "gateway", reference, MODEL, STAGE, "2", start=start, slow_hour=3)
    environ = {"GITHUB_WORKSPACE": str(checkout), "MODELBOT_PREDICTION_LOG": str(log / "predictions.jsonl"),
               "MODELBOT_VALIDATE": "dispatch",
               "MLFLOW_TRACKING_URI": f"sqlite:///{tmp_path / 'mlflow.db'}"}  # the schedule's sync: an empty MLflow
    runtime = Runtime("schedule", tmp_path / "event.json", environ)

    outcome = scheduled(_event("scheduled"), runtime, hub.forge)

    # tumor-malignancy staging and diabetes-progression staging (its policy extends default) had no traffic
    assert outcome.outputs["monitored"] == "no data,breached,no data", outcome.message
    [pull] = [i for i in hub.hub.state.issues.values() if ROLLBACK_LABEL in i.labels]
    incidents = [i for i in hub.hub.state.issues.values() if i.pull is None]
    assert [i.title for i in incidents] == [
        f"Monitoring: {MODEL} in {STAGE}: feature drift against the reference breached",
        f"Monitoring: {MODEL} in {STAGE}: data quality breached",
        f"Monitoring: {MODEL} in {STAGE}: latency and error slos breached"]
    assert f"rollback: opened: #{pull.number}" in outcome.summary.replace("**", "")
    assert "```mermaid\nxychart-beta" in outcome.summary
    asked = [d.payload["inputs"] for d in hub.hub.deliveries if d.event == "workflow_dispatch"]
    assert {"task": "validate", "pull": str(pull.number), "head": pull.pull.head_sha} in asked

    again = on_task(_event("monitor", model=MODEL, stage=STAGE), runtime, hub.forge)  # on demand: nothing new

    assert again.outputs["result"] == "breached" and f"rollback: **open**: #{pull.number}" in again.summary
    assert len(hub.hub.state.issues) == 4  # three incidents, one rollback


def test_monitor_refuses_without_a_prediction_log_and_skips_stages_without_a_monitor_section(
    localhub_factory: Callable[..., RunningHub], tmp_path: Path
) -> None:
    seed = _seed(tmp_path / "seed", [], monitor=False)
    hub = localhub_factory(seed=seed.path)
    checkout = tmp_path / "checkout"
    git(tmp_path, "clone", "-q", hub.hub.clone_url(), str(checkout))

    def run(environ: dict[str, str], **inputs: str) -> Any:
        return on_task(_event("monitor", **inputs), Runtime("workflow_dispatch", tmp_path / "e.json", environ),
                       hub.forge)

    refused = run({"GITHUB_WORKSPACE": str(checkout)})
    assert refused.outputs["result"] == "refused" and "MODELBOT_PREDICTION_LOG" in refused.message
    named = run({"GITHUB_WORKSPACE": str(checkout), "MODELBOT_PREDICTION_LOG": str(tmp_path)}, model="../x", stage="p")
    assert named.outputs["result"] == "refused" and "must be names" in named.message
    none = run({"GITHUB_WORKSPACE": str(checkout), "MODELBOT_PREDICTION_LOG": str(tmp_path)})
    assert none.outputs["result"] == "unchanged" and "monitor: section" in none.message
    empty = run({"GITHUB_WORKSPACE": str(checkout), "MODELBOT_PREDICTION_LOG": str(tmp_path / "none")},
                model=MODEL, stage=STAGE)
    assert empty.outputs["result"] == "refused" and "no such file or directory" in empty.message
    assert not hub.hub.state.issues
