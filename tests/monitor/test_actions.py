"""What a breach does on localhub beyond its incident issue, as the policy's monitor.action says: the rollback pull
request (once: a second run finds it open, a merged rollback is never rolled back, a closed one is not opened
again while the incident lasts) and the repository_dispatch event modelbot-retrain carrying the evidence (once
per incident), both linked from the incident's evidence comment."""

from __future__ import annotations

from collections.abc import Callable
from datetime import timedelta
from pathlib import Path
from typing import Any

import pandas as pd
import yaml

from bot.deploy.rollback import ROLLBACK_LABEL
from bot.monitor import actions, watch
from bot.registry.edit import set_stage
from bot.registry.load import parse
from tests.monitor import support
from tests.support.gitrepo import GitRepo, example_repo
from tests.support.localhub import RunningHub, git

MODEL, STAGE = "tumor-malignancy", "production"
UNTIL = support.START + timedelta(hours=4)


def _seed(path: Path, actions_: list[str], monitor: bool = True) -> GitRepo:
    """The example registry with production monitored hourly (4 windows) and version 2 promoted to it."""
    repo = example_repo(path)
    if monitor:
        policy = yaml.safe_load(repo.read("policies/default.yaml"))
        policy["monitor"] = {"window": "1h", "windows": 4, "min_rows": 50, "action": actions_, "slo": {"p95_ms": 200}}
        repo.write("policies/default.yaml", yaml.safe_dump(policy, sort_keys=False))
        repo.commit("Monitor the model in production")
    text, _ = set_stage(repo.read("models.yaml"), MODEL, STAGE, "2")
    repo.write("models.yaml", text)
    repo.commit("Promote tumor-malignancy 2 to production")
    return repo


def _hub(tmp_path: Path, factory: Callable[..., RunningHub], actions_: list[str]) -> tuple[RunningHub, Path, Path]:
    seed = _seed(tmp_path / "seed", actions_)
    hub = factory(seed=seed.path)
    checkout = tmp_path / "checkout"
    git(tmp_path, "clone", "-q", hub.hub.clone_url(), str(checkout))
    reference = pd.read_csv(checkout / "data/tumor-malignancy-reference.csv")
    log = support.gateway_log(tmp_path / "gateway", reference, MODEL, STAGE, "2", slow_hour=3)
    return hub, checkout, log


def _run(hub: RunningHub, checkout: Path, log: Path) -> watch.Watched:
    """One scheduled run: a fresh process, so a fresh forge (nothing remembered from the run before)."""
    return watch.run_for(checkout, MODEL, STAGE, log, hub.forge(), until=UNTIL, now=UNTIL)


def _rollbacks(hub: RunningHub) -> list[Any]:
    return [i for i in hub.hub.state.issues.values() if ROLLBACK_LABEL in i.labels]


def _latest(hub: RunningHub, issue: int) -> str:
    found = [c for c in hub.hub.state.comments.values() if c.issue_number == issue and "monitor-latest" in c.body]
    assert len(found) == 1
    return str(found[0].body)


def test_a_breach_opens_the_rollback_and_sends_retrain_once_and_a_merged_rollback_is_not_reverted(
    localhub_factory: Callable[..., RunningHub], tmp_path: Path
) -> None:
    hub, checkout, log = _hub(tmp_path, localhub_factory, ["issue", "rollback", "retrain"])

    first = _run(hub, checkout, log)

    assert [i.kind for i in first.incidents] == ["drift", "quality", "slo"] and all(i.new for i in first.incidents)
    assert first.issue == first.incidents[0].issue and first.charts.count("```mermaid\nxychart-beta") >= 3
    rollback, retrain = first.actions
    assert (rollback.action, rollback.result, retrain.action, retrain.result) == (
        "rollback", "opened", "retrain", "dispatched")
    [pull] = _rollbacks(hub)
    assert rollback.pull == pull.number and pull.title == 'Revert "Promote tumor-malignancy 2 to production"'
    head = hub.forge().file_text("models.yaml", ref=hub.forge().pull_request(pull.number).head_ref)
    assert head is not None and parse(head).model(MODEL).stages[STAGE] == "1"  # type: ignore[union-attr]
    issues = [i.issue for i in first.incidents]
    cited = [c.body for c in hub.hub.state.comments.values() if c.issue_number == pull.number]
    assert len(cited) == 1 and f"incident #{issues[0]}, #{issues[1]}" in cited[0]
    for issue in issues:  # each incident links what the breach did
        assert f"rollback: **opened**: #{pull.number}" in _latest(hub, issue)
        assert "retrain: **dispatched**" in _latest(hub, issue)
    [event] = [d for d in hub.hub.deliveries if d.event == "repository_dispatch"]
    payload = event.payload
    assert payload["action"] == actions.RETRAIN_EVENT and payload["branch"] == "main"
    sent = payload["client_payload"]
    assert (sent["model"], sent["stage"], sent["version"]) == (MODEL, STAGE, "2")
    assert sent["breaches"] == ["drift", "quality", "slo"] and sent["incidents"] == issues
    assert sent["window"] == {"start": "2026-11-01T03:00:00+00:00", "end": "2026-11-01T04:00:00+00:00"}
    assert "mean_radius" in sent["evidence"]["drift"]["reason"]
    assert {m["subject"] for m in sent["evidence"]["quality"]["measures"]} == {"mean_radius"}
    assert sent["key"] == f"{MODEL}:{STAGE}:2026-11-01T03:00:00+00:00:drift+quality+slo"

    second = _run(hub, checkout, log)

    assert [i.issue for i in second.incidents] == issues and not any(i.new for i in second.incidents)
    assert [(t.action, t.result, t.pull) for t in second.actions] == [
        ("rollback", "open", pull.number), ("retrain", "not taken", None)]
    assert len(_rollbacks(hub)) == 1 and len(hub.hub.state.issues) == 4  # three incidents, one rollback
    assert len([d for d in hub.hub.deliveries if d.event == "repository_dispatch"]) == 1
    assert f"rollback: **open**: #{pull.number} is open" in _latest(hub, issues[0])

    hub.hub.as_user("olive-oncall").merge(pull.number)  # a person merges the rollback
    git(checkout, "pull", "-q")
    third = _run(hub, checkout, log)  # the log still holds the breached hour

    assert third.actions[0].result == "not taken" and "came from a rollback already" in third.actions[0].detail
    assert len(_rollbacks(hub)) == 1 and len(hub.hub.state.issues) == 4


def test_drift_any_client_can_send_is_never_rolled_back(
    localhub_factory: Callable[..., RunningHub], tmp_path: Path
) -> None:
    """Drifted inputs and values past the reference's range breach drift and quality: the traffic's doing, the
    same for every version, and the gateway's clients choose it. The incidents open; no rollback does."""
    hub, checkout, _ = _hub(tmp_path, localhub_factory, ["issue", "rollback"])
    reference = pd.read_csv(checkout / "data/tumor-malignancy-reference.csv")
    log = support.gateway_log(tmp_path / "drifted", reference, MODEL, STAGE, "2")  # shifted, not slow

    found = _run(hub, checkout, log)

    assert [i.kind for i in found.incidents] == ["drift", "quality"]
    [taken] = found.actions
    assert (taken.action, taken.result) == ("rollback", "not taken") and "performance or SLOs" in taken.detail
    assert _rollbacks(hub) == []


def test_a_rollback_a_person_closed_is_not_opened_again_while_the_incident_lasts(
    localhub_factory: Callable[..., RunningHub], tmp_path: Path
) -> None:
    hub, checkout, log = _hub(tmp_path, localhub_factory, ["rollback"])  # the incident issue comes with it

    first = _run(hub, checkout, log)
    [pull] = _rollbacks(hub)
    hub.hub.as_user("olive-oncall").close(pull.number)
    second = _run(hub, checkout, log)

    assert [t.result for t in first.actions] == ["opened"] and [t.result for t in second.actions] == ["not taken"]
    assert "no longer open" in second.actions[0].detail and len(_rollbacks(hub)) == 1
    assert [i.issue for i in second.incidents] == [i.issue for i in first.incidents]
    assert "rollback: **not taken**" in _latest(hub, first.incidents[0].issue)
    assert not [d for d in hub.hub.deliveries if d.event == "repository_dispatch"]


def test_the_retraining_evidence_stays_within_githubs_limits_however_many_measures_breach() -> None:
    import json
    from datetime import UTC, datetime

    from bot.monitor.results import CheckSeries, Measure, Verdict, WindowCheck
    from bot.monitor.run import Report
    from bot.monitor.windows import Windows

    spans = Windows.between(support.START, support.START + timedelta(hours=2), timedelta(hours=1))
    measures = (Measure("ks", "not_a_number", float("nan"), 0.2, True),)  # JSON has no NaN: sent as null
    measures += tuple(Measure("psi", f"feature_{i:05d}" + "x" * 1500, 0.5 + i, 0.25, True) for i in range(5000))
    windows = tuple(WindowCheck(w, 100, Verdict.FAIL, "drift in 5000 features", measures) for w in spans.all)
    checks = tuple(CheckSeries(kind, kind, windows, ("psi",)) for kind in ("drift", "quality", "prediction_drift"))
    report = Report(MODEL, STAGE, "log", "ref.csv", spans, checks, 200, 50, 0, datetime(2026, 11, 2, tzinfo=UTC))

    payload = actions.retrain_payload(report, "2", [7, 8, 9])

    assert len(payload) <= 10
    size = len(json.dumps(payload, separators=(",", ":"), allow_nan=False).encode())
    assert size < actions.PAYLOAD_LIMIT
    drift = payload["evidence"]["drift"]
    assert len(drift["measures"]) == actions.MEASURES // 2  # 3 x 20 measures of 1.5KB do not fit: halved once
    assert drift["more"] == 5001 - actions.MEASURES // 2
    assert drift["measures"][0] == {"stat": "ks", "subject": "not_a_number", "value": None, "limit": 0.2,
                                    "breached": True}
