"""A breach becomes one incident issue per model, stage and kind of check, never two: the issue is found again by
its hidden marker, and the latest evidence is one comment of the bot's, edited in place on every run.

Acts through the Forge protocol (`bot.github`), so the same code runs against GitHub and localhub. The model's
owners are mentioned in the issue when it is opened (their names come from models.yaml on the base branch)."""

from __future__ import annotations

import re
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

from bot.github import markers
from bot.monitor.results import CheckSeries
from bot.monitor.run import Report

_OWNER = re.compile(r"^@?[A-Za-z0-9](?:[A-Za-z0-9-]*)(?:/[A-Za-z0-9._-]+)?$")


@dataclass(frozen=True)
class Incident:
    kind: str
    issue: int
    comment: str  # "created" or "updated"


def marker(model: str, stage: str, kind: str, part: str = "incident") -> str:
    return markers.marker(model, stage, f"monitor-{part}-{kind}")


def mentions(owners: Sequence[str]) -> list[str]:
    """Owners as @-mentions (users and @org/team), only names GitHub could hold."""
    return [f"@{o.lstrip('@')}" for o in owners if _OWNER.match(o)]


def raise_incidents(forge: Any, report: Report, owners: Sequence[str], evidence: str) -> tuple[Incident, ...]:
    """One issue per breached check of the current window (opened once), its evidence comment upserted."""
    from bot import texts

    found = []
    for check in report.breaches:
        body = texts.render(
            "monitor_incident.md.j2", report=report, check=check, owners=mentions(owners), window=check.current
        )
        title = f"Monitoring: {report.model} in {report.stage}: {check.title.lower()} breached"
        number = forge.open_issue(title, body, marker(report.model, report.stage, check.kind))
        latest = _latest(report, check, evidence)
        result = forge.upsert_comment(number, marker(report.model, report.stage, check.kind, "latest"), latest)
        found.append(Incident(check.kind, number, result.action))
    return tuple(found)


def _latest(report: Report, check: CheckSeries, evidence: str) -> str:
    current = check.current
    return (
        f"**Latest run** ({report.generated_at.isoformat(timespec='seconds')}): window from "
        f"{current.window.start.isoformat()}: **{current.verdict.value}**: {texts_md(current.reason)}\n\n{evidence}"
    )


def texts_md(text: str) -> str:
    from bot import texts

    return texts.md(text, 1000)
