"""What a breach does beyond its incident issue, as the policy's `monitor.action` says: `rollback` opens the
rollback pull request through the path `/rollback` takes (`bot.deploy.rollback_pr`), `retrain` sends the
`repository_dispatch` event `modelbot-retrain` carrying the evidence, for the team's training pipeline.

Each is taken once per incident, by the run that opens it (`Incident.new`). Later runs of the same incident
take neither again: they say whether the rollback pull request is still open (found by its branch among the
open pull requests: GitHub is the record, not a comment anyone could edit), and a rollback a person closed is
not opened again while the incident lasts. A stage whose current version came from a rollback is never rolled
back by monitoring: reverting the revert would promote the breached version again. Only a breach of the
version's own performance or SLOs is rolled back: drift and data quality measure the traffic, which every
version gets alike and which the gateway's clients choose.
"""

from __future__ import annotations

import json
import math
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any, Literal

from bot.errors import RefusedError
from bot.github import markers
from bot.monitor.results import CheckSeries
from bot.monitor.run import Report

if TYPE_CHECKING:
    from bot.deploy.rollback import Target
    from bot.github.forge import Forge, OnHead, PullRequest

RETRAIN_EVENT = "modelbot-retrain"
VERSION_KINDS = {"performance", "slo"}  # breaches a version answers for: only these are rolled back
PAYLOAD_LIMIT = 60_000  # GitHub takes a client_payload under 64KB; room left for the envelope
MEASURES = 20  # breached measures per check in the retraining evidence, at most (fewer if over the limit)

Result = Literal["opened", "open", "dispatched", "not taken"]


@dataclass(frozen=True)
class Taken:
    """One action on a breach: what it did, and the pull request it opened or found."""

    action: str  # rollback, retrain
    result: Result
    detail: str
    pull: int | None = None
    url: str | None = None

    def as_dict(self) -> dict[str, Any]:
        return {k: v for k, v in self.__dict__.items() if v is not None}

    def line(self) -> str:
        """One Markdown line for the incident's evidence comment (a pull request number links itself)."""
        return f"{self.action}: **{self.result}**: {self.detail}"


def rollback(
    forge: Forge,
    repo: Path | None,
    report: Report,
    base: str,
    new: bool,
    issues: Sequence[int],
    on_head: OnHead | None = None,
) -> Taken:
    """Open the rollback pull request of (model, stage) when the incident is new; otherwise find it open.
    `on_head`: the caller's record of its head, before it opens (bot.github.forge.OnHead)."""
    from bot.deploy.rollback import find
    from bot.deploy.rollback_pr import open_rollback

    kinds = [c.kind for c in report.breaches]
    if not set(kinds) & VERSION_KINDS:
        return Taken(
            "rollback",
            "not taken",
            f"the breach is of {', '.join(kinds)}: what the traffic brings, which every version gets alike (and any "
            "client can send), so reverting the version would not answer it; a rollback answers a breach of the "
            "version's own performance or SLOs",
        )
    if repo is None:
        return Taken("rollback", "not taken", "no checkout with the history of models.yaml to find what to revert")
    try:
        target = find(repo, report.model, report.stage)
    except RefusedError as exc:
        return Taken("rollback", "not taken", str(exc))
    if target.title.startswith('Revert "'):
        return Taken(
            "rollback",
            "not taken",
            f"{report.stage}'s current version came from a rollback already ({target.commit[:12]}, "
            f"{target.title!r}); monitoring does not revert a rollback: a person decides what serves next",
        )
    found = _open_pull(forge, target, base)
    if found is not None:
        return Taken("rollback", "open", f"#{found.number} is open", found.number, found.html_url)
    if not new:
        return Taken(
            "rollback",
            "not taken",
            "taken when this incident was opened; its pull request is no longer open, so it is not opened "
            "again while the incident lasts (close the incident: a later breach opens a new one)",
        )
    opened = open_rollback(forge, repo, target, base, on_head)
    pull = opened.pull
    cited = ", ".join(f"#{n}" for n in issues)
    forge.upsert_comment(
        pull.number,
        markers.marker(report.model, report.stage, "monitor-rollback"),
        f"Opened by `modelbot monitor`: {report.model} in {report.stage} breached its monitoring checks "
        f"({', '.join(c.kind for c in report.breaches)}); incident {cited}.",
    )
    return Taken("rollback", "opened", f"{opened.describe()} reverts {target.commit[:12]}", pull.number, pull.html_url)


def _open_pull(forge: Forge, target: Target, base: str) -> PullRequest | None:
    """The open rollback pull request of `target`, on either branch `open_rollback` uses."""
    from bot.deploy.rollback import ROLLBACK_LABEL
    from bot.github.revert import revert_branch

    branches = {markers.promotion_branch(target.model, f"{target.stage}-rollback")}
    if target.pr is not None:
        branches.add(revert_branch(target.pr))
    return next(
        (p for p in forge.open_pulls(base) if p.head_ref in branches and ROLLBACK_LABEL in p.labels),
        None,
    )


def retrain(forge: Forge, report: Report, version: str | None, new: bool, issues: Sequence[int]) -> Taken:
    """Send `modelbot-retrain` with the evidence when the incident is new; once per incident."""
    if not new:
        return Taken(
            "retrain", "not taken", f"{RETRAIN_EVENT} was sent when this incident was opened (once per incident)"
        )
    payload = retrain_payload(report, version, issues)
    forge.dispatch_repository_event(RETRAIN_EVENT, payload)
    return Taken("retrain", "dispatched", f"`repository_dispatch` {RETRAIN_EVENT} sent, key `{payload['key']}`")


def retrain_payload(report: Report, version: str | None, issues: Sequence[int]) -> dict[str, Any]:
    """The event's client_payload: what breached, in which window, with the breached measures, within GitHub's
    10 top-level keys and 64KB. `key` names the breach, so a pipeline can drop a repeated event."""
    kinds = [c.kind for c in report.breaches]
    current = report.breaches[0].current.window if report.breaches else report.windows.all[-1]
    keep = MEASURES
    while True:
        payload = {
            "key": f"{report.model}:{report.stage}:{current.start.isoformat()}:{'+'.join(kinds)}",
            "model": report.model,
            "stage": report.stage,
            "version": version,
            "breaches": kinds,
            "window": {"start": current.start.isoformat(), "end": current.end.isoformat()},
            "incidents": list(issues),
            "evidence": {c.kind: _evidence(c, keep) for c in report.breaches},
            "reference": report.reference,
            "generated_at": report.generated_at.isoformat(),
        }
        if keep == 0 or len(json.dumps(payload, separators=(",", ":"), allow_nan=False).encode()) < PAYLOAD_LIMIT:
            return payload
        keep //= 2


def _evidence(check: CheckSeries, keep: int) -> dict[str, Any]:
    breached = [m for m in check.current.measures if m.breached]
    return {
        "reason": check.current.reason[:2000],
        "rows": check.current.rows,
        "measures": [_finite(m.as_dict()) for m in breached[:keep]],
        "more": max(0, len(breached) - keep),
    }


def _finite(values: dict[str, Any]) -> dict[str, Any]:
    """JSON has no NaN or infinity: such a number is sent as null."""
    return {k: (None if isinstance(v, float) and not math.isfinite(v) else v) for k, v in values.items()}
