"""A breach becomes one incident issue per model, stage and kind of check, on localhub through the bot's forge:
run twice, still one issue, its evidence comment edited in place."""

from __future__ import annotations

from collections.abc import Callable
from datetime import UTC, datetime
from pathlib import Path

from bot.monitor import incidents, report, run
from bot.policy.monitor import parse
from tests.monitor import support
from tests.support.localhub import RunningHub


def _report(shift: float, now: datetime) -> run.Report:
    spans = support.windows(2)
    frames = [support.traffic(800, seed=1), support.traffic(800, seed=2, shift=shift)]
    batches = [support.batch(f, i, spans) for i, f in enumerate(frames)]
    return run.monitor(
        "churn", "production", Path("unused"), support.reference(), spans, parse({"min_rows": 50}), now,
        read=lambda _p, _n: iter(batches),
    )


def test_a_breach_is_one_issue_per_check_and_a_second_run_updates_it(
    localhub_factory: Callable[..., RunningHub],
) -> None:
    hub = localhub_factory(files={"README.md": "# models\n"})
    forge = hub.forge()
    first = _report(1.5, datetime(2026, 11, 2, 9, tzinfo=UTC))
    assert [c.kind for c in first.breaches] == ["drift", "prediction_drift", "quality"]
    opened = incidents.raise_incidents(forge, first, ["dana-ds", "@acme/diagnostics", "bad name!"], "evidence 1")
    second = _report(2.0, datetime(2026, 11, 2, 10, tzinfo=UTC))
    again = incidents.raise_incidents(forge, second, ["dana-ds"], report.markdown(second))
    assert [i.issue for i in again] == [i.issue for i in opened]
    assert [i.comment for i in opened] == ["created"] * 3 and [i.comment for i in again] == ["updated"] * 3
    issues = hub.hub.state.issues
    assert len(issues) == 3
    drift = issues[opened[0].issue]
    assert "feature drift against the reference breached" in drift.title
    assert "@dana-ds @acme/diagnostics" in drift.body and "bad name" not in drift.body
    comments = [c for c in hub.hub.state.comments.values() if c.issue_number == opened[0].issue]
    assert len(comments) == 1 and "2026-11-02T10:00:00" in comments[0].body and "xychart-beta" in comments[0].body
