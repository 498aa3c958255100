"""One monitoring run of a deployed (model, stage) from a checkout of the registry: the settings from its policy's
`monitor:` section, the reference from models.yaml, the log scanned into windows, then, on GitHub, what a breach
does: its incident issues and the policy's other actions. `modelbot monitor`, the maintenance task and the demo
all go through `run_for`, so they judge and act alike.

`rollback` and `retrain` open the incident issue too: it is where the action is linked, and what makes it once.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, replace
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import TYPE_CHECKING, Any

from bot.errors import RefusedError, UsageError
from bot.monitor import actions, incidents
from bot.monitor import report as reports
from bot.monitor.run import Report, monitor
from bot.monitor.windows import Windows
from bot.policy.monitor import MonitorPolicy

if TYPE_CHECKING:
    from bot.github.forge import Forge, OnHead


class NoData(RefusedError):
    """No logged prediction of the stage in any window: nothing to judge (never a pass)."""


@dataclass(frozen=True)
class Watched:
    """What a run found (the report) and did on GitHub (incident issues, the breach's other actions)."""

    report: Report
    policy: MonitorPolicy
    repo: Path
    owners: tuple[str, ...] = ()
    version: str | None = None  # what the stage serves, per models.yaml
    incidents: tuple[incidents.Incident, ...] = ()
    actions: tuple[actions.Taken, ...] = ()

    @property
    def issue(self) -> int | None:
        """The first incident issue (checks in the report's order), None without a breach acted on."""
        return self.incidents[0].issue if self.incidents else None

    @property
    def charts(self) -> str:
        """The report's Mermaid charts as Markdown blocks (GitHub renders them), empty when nothing breached."""
        return "\n\n".join(
            f"```mermaid\n{chart.mermaid()}\n```" for items in reports.charts(self.report).values() for chart in items
        )

    @property
    def markdown(self) -> str:
        return reports.markdown(self.report)

    def as_dict(self) -> dict[str, Any]:
        return {
            "ok": not self.report.breaches,
            "headline": reports.headline(self.report),
            "breaches": [c.kind for c in self.report.breaches],
            "checks": {c.kind: c.current.verdict.value for c in self.report.checks},
            "incidents": [{"kind": i.kind, "issue": i.issue, "comment": i.comment} for i in self.incidents],
            "actions": [t.as_dict() for t in self.actions],
        }


def run_for(
    repo: Path,
    model: str,
    stage: str,
    log_path: Path,
    forge: Forge | None = None,
    *,
    window: timedelta | None = None,
    since: datetime | None = None,
    until: datetime | None = None,
    now: datetime | None = None,
    base: str | None = None,
    on_head: OnHead | None = None,
) -> Watched:
    """Monitor `model` in `stage` from the checkout `repo` over the log at `log_path` (see `observe`); with a
    `forge`, act on a breach of the current window as the policy says (`act`, against `base`, default the
    repository's default branch; `on_head`, the caller's record of a rollback's head before it opens)."""
    watched = observe(repo, model, stage, log_path, window=window, since=since, until=until, now=now)
    return watched if forge is None else act(watched, forge, base, on_head)


def observe(
    repo: Path,
    model: str,
    stage: str,
    log_path: Path,
    *,
    window: timedelta | None = None,
    since: datetime | None = None,
    until: datetime | None = None,
    now: datetime | None = None,
) -> Watched:
    """The report over the log at `log_path` (the gateway's log directory, or a Parquet/CSV table). Windows:
    the policy's width and count ending at `until` (default now), unless `window`/`since` say otherwise. No
    rows at all is refused: no data is never a pass."""
    from bot.monitor import reference
    from bot.policy import load_policies
    from bot.policy import monitor as monitor_policy
    from bot.workspace import read_registry_file

    _, registry = read_registry_file(repo)
    entry = registry.model(model)
    if entry is None:
        raise UsageError(f"no model '{model}' in {repo / 'models.yaml'}")
    policies = load_policies(repo)
    policy = policies.resolve(entry)
    if not policy.has_stage(stage):
        raise UsageError(f"policy '{policy.name}' has no stage '{stage}'; stages: {', '.join(policy.stage_names)}")
    settings = monitor_policy.for_model(policies, policy.name, model, stage)
    width = window or settings.window
    moment = now or datetime.now(UTC)
    end = until or moment
    windows = Windows.between(since or end - width * settings.windows, end, width)
    found = monitor(model, stage, log_path, reference.load(entry, repo), windows, settings, moment)
    if found.rows == 0 and found.requests == 0:
        raise NoData(
            f"{log_path}: no prediction of {model}/{stage} between {windows.start.isoformat()} and "
            f"{windows.end.isoformat()}: nothing to monitor (no data is never a pass; check --since/--window)"
        )
    return Watched(found, settings, repo, tuple(entry.owners), entry.stages.get(stage))


def act(watched: Watched, forge: Forge, base: str | None = None, on_head: OnHead | None = None) -> Watched:
    """What a breach does on GitHub (`respond`), against `base` (default: the repository's default branch)."""
    opened, taken = respond(
        forge,
        watched.report,
        watched.policy,
        watched.owners,
        watched.version,
        watched.repo,
        base or forge.default_branch(),
        on_head,
    )
    return replace(watched, incidents=opened, actions=taken)


def respond(
    forge: Forge,
    report: Report,
    settings: MonitorPolicy,
    owners: Sequence[str],
    version: str | None,
    repo: Path | None,
    base: str,
    on_head: OnHead | None = None,
) -> tuple[tuple[incidents.Incident, ...], tuple[actions.Taken, ...]]:
    """A breach of the current window: its incident issues, then the policy's rollback and retrain (taken by the
    run that opens an incident), then each incident's latest evidence, saying what those actions did."""
    if not report.breaches or not settings.actions:
        return (), ()
    opened = incidents.open_incidents(forge, report, owners)
    new = any(o.new for o in opened)
    issues = [o.issue for o in opened]
    taken: list[actions.Taken] = []
    if "rollback" in settings.actions:
        taken.append(actions.rollback(forge, repo, report, base, new, issues, on_head))
    if "retrain" in settings.actions:
        taken.append(actions.retrain(forge, report, version, new, issues))
    evidence = reports.markdown(report)
    lines = [t.line() for t in taken]
    return tuple(incidents.post_latest(forge, report, o, evidence, lines) for o in opened), tuple(taken)
