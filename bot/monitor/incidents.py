"""A breach becomes one incident issue per model, stage and kind of check, never two: the issue is found again by
its hidden marker, and the latest evidence is one comment of the bot's, edited in place on every run.

Acts through the Forge protocol (`bot.github`), so the same code runs against GitHub and localhub. The model's
owners are mentioned in the issue when it is opened (their names come from models.yaml on the base branch).
An incident is *new* in the run that posts its first latest-evidence comment: the run that takes the policy's
other actions (`bot.monitor.actions`), once per incident."""

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
    comment: str  # "created" or "updated" (or "unchanged")

    @property
    def new(self) -> bool:
        """This run opened the incident (posted its first evidence)."""
        return self.comment == "created"


@dataclass(frozen=True)
class Opened:
    """An incident issue found or opened, before its latest evidence is posted."""

    check: CheckSeries
    issue: int
    new: bool


def marker(model: str, stage: str, kind: str, part: str = "incident") -> str:
    return markers.marker(model, stage, f"monitor-{part}-{kind}")


def mentions(owners: Sequence[str]) -> list[str]:
    """Owners as @-mentions (users and @org/team), only names GitHub could hold."""
    return [f"@{o.lstrip('@')}" for o in owners if _OWNER.match(o)]


def open_incidents(forge: Any, report: Report, owners: Sequence[str]) -> tuple[Opened, ...]:
    """The incident issue of each breached check of the current window (opened once), and whether it is new:
    no latest-evidence comment of the bot's yet (the comments' listing is kept for the post that follows)."""
    from bot import texts

    found = []
    for check in report.breaches:
        body = texts.render(
            "monitor_incident.md.j2", report=report, check=check, owners=mentions(owners), window=check.current
        )
        title = f"Monitoring: {report.model} in {report.stage}: {check.title.lower()} breached"
        number = forge.open_issue(title, body, marker(report.model, report.stage, check.kind))
        latest = forge.find_comment(number, marker(report.model, report.stage, check.kind, "latest"))
        found.append(Opened(check, number, latest is None))
    return tuple(found)


def post_latest(forge: Any, report: Report, opened: Opened, evidence: str, actions: Sequence[str] = ()) -> Incident:
    """The incident's latest-evidence comment, created or edited in place; `actions` are Markdown lines saying
    what the breach's other actions did (the rollback pull request, the retraining event)."""
    text = _latest(report, opened.check, evidence, actions)
    result = forge.upsert_comment(opened.issue, marker(report.model, report.stage, opened.check.kind, "latest"), text)
    return Incident(opened.check.kind, opened.issue, result.action)


def raise_incidents(forge: Any, report: Report, owners: Sequence[str], evidence: str) -> tuple[Incident, ...]:
    """One issue per breached check of the current window (opened once), its evidence comment upserted."""
    return tuple(post_latest(forge, report, o, evidence) for o in open_incidents(forge, report, owners))


def _latest(report: Report, check: CheckSeries, evidence: str, actions: Sequence[str]) -> str:
    current = check.current
    taken = "".join(f"- {line}\n" for line in actions)
    return (
        f"**Latest run** ({report.generated_at.isoformat(timespec='seconds')}): window from "
        f"{current.window.start.isoformat()}: **{current.verdict.value}**: {texts_md(current.reason)}\n\n"
        + (f"**Actions**\n\n{taken}\n" if taken else "")
        + evidence
    )


def texts_md(text: str) -> str:
    from bot import texts

    return texts.md(text, 1000)
