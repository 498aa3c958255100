"""Attacks on monitoring: the prediction log holds what anonymous clients sent (inputs, labels), and anyone who
can open an issue can write the bot's hidden markers. Neither may stop a run, forge a label, inject Markdown or
mentions into an incident, or take the place of the bot's incident issue."""

from __future__ import annotations

import json
import re
from collections.abc import Callable
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from bot.monitor import incidents, run, source
from bot.policy.monitor import parse
from bot.serving.predlog import PredictionLog
from tests.monitor import support
from tests.support.localhub import RunningHub

NEEDS = source.Needs("m", "production", ("a",), (), (), 0, 2**62)


def answer(request_id: str, inputs: Any, prediction: Any, model: str = "m") -> dict[str, Any]:
    return {"ts": "2026-11-01T00:00:01.000Z", "request_id": request_id, "model": model, "stage": "production",
            "version": "1", "arm": "stable", "served_by": "1", "fallback": False, "shadow": False, "inputs": inputs,
            "prediction": prediction, "latency_ms": 1.0, "error": False, "status": 200}


def label(request_id: str, truth: Any, model: str | None = "m", counted: bool = True) -> dict[str, Any]:
    said = {"model": model, "stage": "production", "version": "1"} if model else {}
    return {"ts": "2026-11-01T00:00:02.000Z", "kind": "feedback", "request_id": request_id, "truth": truth,
            **said, "counted": counted}


def read(folder: Path, lines: list[dict[str, Any]], raw: tuple[str, ...] = ()) -> dict[str, Any]:
    log = PredictionLog(folder)
    for line in lines:
        log.write(line)
    log.flush()
    with (folder / "predictions.jsonl").open("a", encoding="utf-8") as handle:
        handle.writelines(f"{text}\n" for text in raw)
    labels: dict[str, Any] = {}
    rows = 0
    for batch in source.read_log(folder, NEEDS):
        rows += len(batch.ts)
        for value, truth in zip(batch.columns["a"], batch.label, strict=True):
            labels[str(value)] = truth
    return {"rows": rows, "labels": labels}


def test_hostile_log_lines_neither_refuse_the_run_nor_forge_labels(tmp_path: Path) -> None:
    lines = [
        answer("r1", [{"a": 1.0}], [1]),
        answer("r2", [{"a": 2.0}], [0]),
        answer("r3", [{"a": 3.0, "kind": "feedback", "note": '"feedback"'}], [1]),  # once hidden from monitoring
        answer("r4", {"a": [4.0, 5.0], "b": 0}, [1, 1]),  # MLflow broadcasts b: 2 answers for what reads as 1 row
        answer("r5", [{"a": "\ud800\u202e"}, {"a": float("nan")}], [0, 0]),  # a lone surrogate, NaN
        answer("o1", [{"a": 9.0}], [1], model="other"),
        label("never-answered", 1, model=None, counted=False),  # an anonymous label: nobody's
        label("r1", 1),
        label("r1", 0, counted=False),  # the same answer labelled again: not counted
        label("r2", [1, 0, 1]),  # three labels for one row
        label("o1", 0, model="other"),  # another model's label
        label("r3", 0),
        label("gone", 1),  # its answer rotated away
    ]
    deep = json.dumps(label("r5", 0)).replace('"truth": 0', '"truth": ' + "[" * 400 + "0" + "]" * 400)
    found = read(tmp_path, lines, [deep])
    assert found["rows"] == 1 + 1 + 1 + 2  # r1, r2, r3 and r5's two rows; r4's rows cannot be paired
    assert found["labels"]["1.0"] == 1  # the first label counted, not the second
    assert found["labels"]["2.0"] is None  # a label that does not fit its request labels nothing
    assert found["labels"]["3.0"] == 0
    assert "9.0" not in found["labels"]
    assert found["labels"]["\ud800\u202e"] is None  # r5: a label nested 400 deep labels no row of two


def test_an_outsiders_issue_with_the_bots_marker_is_not_the_incident(
    localhub_factory: Callable[..., RunningHub],
) -> None:
    """An issue anyone opens carrying the incident's hidden marker was taken for the incident: the bot then kept
    its evidence on an issue its author edits (owners' mentions gone) and closes (each close re-arming the
    breach's rollback and retraining). Only an issue the bot opened is the incident."""
    hub = localhub_factory(files={"README.md": "# models\n"})
    report = _report(1.5, extra={})
    marker = incidents.marker("churn", "production", "drift")
    decoy = hub.hub.as_user("mallory").open_issue("all is fine", f"nothing to see\n\n{marker}\n")
    opened = incidents.raise_incidents(hub.forge(), report, ["dana-ds"], "evidence")
    drift = next(i for i in opened if i.kind == "drift")
    assert drift.issue != decoy and drift.comment == "created"
    issue = hub.hub.state.issues[drift.issue]
    assert issue.user == "github-actions[bot]" and "@dana-ds" in issue.body
    assert not [c for c in hub.hub.state.comments.values() if c.issue_number == decoy]
    again = incidents.raise_incidents(hub.forge(), report, ["dana-ds"], "evidence 2")
    assert next(i for i in again if i.kind == "drift").issue == drift.issue  # still one incident


def test_values_clients_sent_stay_inert_in_the_incident(localhub_factory: Callable[..., RunningHub]) -> None:
    """A slice value of the logged inputs reaches the incident through the performance check's reason: no
    mention (also not as the entity &#64;), no fence break (a carriage return), no link or tag."""
    hub = localhub_factory(files={"README.md": "# models\n"})
    evil = "@acme/everyone &#64;acme/all\r```\r# pwned [x](http://e) <img src=x>"
    report = _report(0.0, extra={"band": evil})
    assert "performance" in [c.kind for c in report.breaches]
    from bot.monitor import report as reports

    opened = incidents.raise_incidents(hub.forge(), report, ["dana-ds"], reports.markdown(report))
    issue = hub.hub.state.issues[next(i.issue for i in opened if i.kind == "performance")]
    [comment] = [c for c in hub.hub.state.comments.values() if c.issue_number == issue.number]
    for text in (issue.body, comment.body):
        prose, *charts = text.replace("<!-- modelbot:", "").replace("@dana-ds", "").split("```mermaid")
        assert "pwned" in prose and "\r" not in text and not any("pwned" in c for c in charts)
        assert re.search(r"@(?!\u200b)", prose) is None  # every @ defused (the owner's own mention aside)
        assert re.search(r"(?<!\\)[<&\[\]]", prose) is None  # every tag, entity and link bracket escaped
        assert "\n```" not in prose  # no fence opened or closed before the bot's own charts

def _report(shift: float, extra: dict[str, str]) -> run.Report:
    spans = support.windows(2)
    first, second = support.traffic(800, seed=1), support.traffic(800, seed=2, shift=shift)
    for column, value in extra.items():
        second[column] = [value if i % 2 else "s" for i in range(second.shape[0])]
    if extra:
        second["label"] = 1 - second["prediction"]  # every answer wrong: performance breached, per slice too
    batches = [support.batch(f, i, spans) for i, f in enumerate([first, second])]
    policy = parse({"min_rows": 50, "performance": {"metric": "accuracy", "min": 0.9, "min_rows": 10}})
    return run.monitor("churn", "production", Path("unused"), support.reference(), spans, policy,
                       datetime(2026, 11, 2, 9, tzinfo=UTC), read=lambda _p, _n: iter(batches))
