"""Tasks a workflow_dispatch asks for by its `task` input (a schedule runs `scheduled`), routed by
`bot.routing.TASKS`: propose a promotion, register MLflow's new versions (sync), finish what earlier runs left
(sweep), validate a pull request for a job that holds a write token, advance a rollout, or deploy a commit."""

from __future__ import annotations

import re
from pathlib import Path
from typing import TYPE_CHECKING

from bot import routing
from bot.actions.context import context, workspace
from bot.actions.events import DispatchEvent, Event
from bot.actions.outcome import EventHandler, ForgeFactory, Outcome
from bot.actions.pulls import validate_in_job

if TYPE_CHECKING:
    from bot.actions.runtime import Runtime
    from bot.deploy.traffic import MetricsSource
    from bot.flows.context import BotContext


def on_task(event: Event, runtime: Runtime, forge: ForgeFactory) -> Outcome:
    """The task's handler, or a refusal naming the tasks there are."""
    assert isinstance(event, DispatchEvent)
    task = str(event.inputs.get("task") or routing.DEFAULT_TASK)
    target = routing.TASKS.get(task)
    if target is None:
        return Outcome(
            f"workflow_dispatch task {task[:40]!r}: expected one of {', '.join(routing.TASKS)}",
            {"result": "refused"},
        )
    handler: EventHandler = routing.load(target)
    return handler(event, runtime, forge)


def propose(event: Event, runtime: Runtime, forge: ForgeFactory) -> Outcome:
    """`task: propose` with model, version and stage: the promotion pull request, validated (or its validation
    requested) at once."""
    from bot.chatops import CommandError, parse
    from bot.flows.propose import propose as propose_promotion
    from bot.flows.validate_pr import validate_proposal

    assert isinstance(event, DispatchEvent)
    model, version, stage = (str(event.inputs.get(k) or "") for k in ("model", "version", "stage"))
    try:
        command = parse(f"/promote {model} {version} to {stage}")
    except CommandError as exc:
        return Outcome(f"workflow_dispatch: {exc}", {"result": "refused"}, f"Refused: {exc}")
    assert command is not None
    ctx = context(event, runtime, forge)
    result = propose_promotion(
        ctx,
        command.model or "",
        command.version or "",
        command.stage or "",
        requested_by=event.sender,
        source="workflow_dispatch",
    )
    if not result.ok or result.pull is None:
        text = "\n".join(f"- {r}" for r in result.refusals)
        return Outcome(f"propose refused: {'; '.join(result.refusals)}", {"result": "refused"}, f"Refused:\n{text}")
    # A re-run of a run killed after asking for the validation asks for nothing again (bot/flows/validate_pr.py).
    unchanged = result.pull.action == "unchanged"
    validation = validate_proposal(ctx, result.pull.pull, event.sender, unchanged).validation
    if validation is None:
        return Outcome(
            f"#{result.pull.pull.number} {result.pull.action}: validation requested",
            {"result": "requested", "pull_request": str(result.pull.pull.number)},
            f"#{result.pull.pull.number} {result.pull.action}; its validation was requested.",
        )
    return Outcome(
        f"#{result.pull.pull.number} {result.pull.action}: {validation.status.value}",
        {"result": validation.conclusion, "pull_request": str(result.pull.pull.number)},
        validation.summary,
    )


def scheduled(event: Event, runtime: Runtime, forge: ForgeFactory) -> Outcome:
    """The maintenance schedule: sync, sweep, then advance every rollout in progress (when the workflow says
    where the metrics are: rollouts wait for evidence, not for a person), then monitor every deployed stage
    whose policy has `monitor:` (when the workflow says where the gateway's prediction log is)."""
    synced, swept = sync(event, runtime, forge), sweep(event, runtime, forge)
    parts = [synced, swept]
    outputs = {**synced.outputs, "swept": swept.outputs["swept"]}
    if _metrics_source(runtime) is not None:
        advanced = advance(event, runtime, forge)
        parts.append(advanced)
        outputs["advanced"] = advanced.outputs["result"]
    if runtime.get("MODELBOT_PREDICTION_LOG"):  # production monitoring (bot/actions/monitoring.py)
        from bot.actions.monitoring import monitor

        watched = monitor(event, runtime, forge)
        parts.append(watched)
        outputs["monitored"] = watched.outputs.get("monitored", watched.outputs["result"])
    return Outcome("; ".join(p.message for p in parts), outputs, "\n\n".join(p.summary for p in parts if p.summary))


def _have_validated(ctx: BotContext, number: int) -> None:
    """A pull request the bot opened with the workflow's token starts no run: have it validated (dispatched in
    Actions), so that the branch protection's required check is reported for it too. Also when this run found
    it unchanged: a run killed between opening it and asking for its validation left it without a record."""
    from bot.flows.validate_pr import ensure_validated

    ensure_validated(ctx, ctx.forge.pull_request(number))


def _validate_or_finish(ctx: BotContext, number: int) -> None:
    """A step or rollback pull request this task opened, or found open: have it validated; once it is (a
    dispatched validation's job cannot merge: its token does not write contents), finish it here, in the job
    that may: its approvals, and its merge when the policy lets it merge itself."""
    from bot.flows.validate_pr import validate_or_finish

    validate_or_finish(ctx, ctx.forge.pull_request(number))


def sweep(event: Event, runtime: Runtime, forge: ForgeFactory) -> Outcome:
    """Ask again for the validation of open pull requests whose head no run judged (bot/flows/sweep.py)."""
    from bot.flows.sweep import sweep as sweep_pulls

    swept = sweep_pulls(context(event, runtime, forge))
    return Outcome(swept.describe(), {"swept": ",".join(map(str, swept.finished))}, swept.describe())


def validate(event: Event, runtime: Runtime, forge: ForgeFactory) -> Outcome:
    """`task: validate, pull: N`: the validation a job holding a write token asked for (it loads no model)."""
    assert isinstance(event, DispatchEvent)
    raw = str(event.inputs.get("pull") or "")
    if not re.fullmatch(r"[1-9][0-9]{0,9}", raw):
        return Outcome(
            f"workflow_dispatch validate: pull {raw[:40]!r} is not a pull request number", {"result": "refused"}
        )
    if event.ref != f"refs/heads/{event.repository.default_branch}":
        return Outcome(
            f"workflow_dispatch validate: validations run on {event.repository.default_branch} only "
            f"(its workflow and policies), not on {event.ref[:80]}",
            {"result": "refused"},
        )
    ctx = context(event, runtime, forge)
    pull = ctx.forge.pull_request(int(raw))
    if pull.state != "open":
        return Outcome(f"#{raw} is {pull.state}: nothing to validate", {"result": "ignored"})
    return validate_in_job(ctx, runtime, pull, None, [])


def _metrics_source(runtime: Runtime) -> MetricsSource | None:
    """Prometheus (`MODELBOT_PROMETHEUS_URL`), or the gateway's prediction log (`MODELBOT_PREDICTION_LOG`) when
    the job runs on the gateway's machine."""
    from bot.deploy.traffic import JsonLinesLog, Prometheus

    url = runtime.get("MODELBOT_PROMETHEUS_URL") or ""
    log = runtime.get("MODELBOT_PREDICTION_LOG") or ""
    return Prometheus(url) if url else JsonLinesLog(Path(log)) if log else None


def advance(event: Event, runtime: Runtime, forge: ForgeFactory) -> Outcome:
    """`task: advance`: each rollout in progress (or the one of `model` and `stage`) to its next step as a pull
    request when its traffic passes the analysis, which merges itself when the stage's `rollout.auto_merge`
    allows; the rollback pull request when it fails; nothing while the evidence is thin. The maintenance
    workflow's schedule runs it, so no person has to push each step."""
    from bot.chatops import NAME
    from bot.deploy.advance import advance_github, in_progress
    from bot.errors import ModelbotError
    from bot.flows.record import recorder

    assert isinstance(event, DispatchEvent)
    model, stage = (str(event.inputs.get(k) or "") for k in ("model", "stage"))
    if (model or stage) and not (NAME.match(model) and NAME.match(stage)):
        return Outcome(
            f"workflow_dispatch advance: model and stage must be names like `churn` and `production`, got "
            f"{model[:40]!r} and {stage[:40]!r}",
            {"result": "refused"},
        )
    source = _metrics_source(runtime)
    if source is None:
        return Outcome(
            "workflow_dispatch advance: set the MODELBOT_PROMETHEUS_URL variable (the action's prometheus-url), or "
            "MODELBOT_PREDICTION_LOG on the gateway's machine, to say where the rollout's metrics are",
            {"result": "refused"},
        )
    repo = workspace(runtime)
    targets = [(model, stage)] if model else in_progress(repo)
    if not targets:
        return Outcome("advance: no rollout in progress", {"result": "unchanged"})
    ctx = context(event, runtime, forge)
    lines, decisions = [], []
    for name, where in targets:
        try:
            result = advance_github(
                ctx.forge, repo, name, where, source, event.repository.default_branch, on_head=recorder(ctx)
            )
        except ModelbotError as exc:
            lines.append(f"advance {name} {where}: refused: {exc}")
            decisions.append("refused")
            continue
        pull = f" #{result.pull['number']}" if result.pull else ""
        if result.pull:
            _validate_or_finish(ctx, int(result.pull["number"]))
        gates = "".join(f"\n  - {g.gate}: {g.status.value}: {g.reason}" for g in result.gates)
        lines.append(f"advance {name} {where}: {result.decision}{pull}{gates}")
        decisions.append(result.decision)
    summary = "\n".join(lines)
    return Outcome(
        summary.splitlines()[0] if len(lines) == 1 else f"advance: {', '.join(decisions)}",
        {"result": decisions[0] if len(decisions) == 1 else ",".join(decisions)},
        summary,
    )


def sync(event: Event, runtime: Runtime, forge: ForgeFactory) -> Outcome:
    """`task: sync`: one pull request registering the MLflow versions models.yaml does not list yet."""
    from bot.flows.propose import base_revision
    from bot.flows.record import recorder
    from bot.sync import open_pull, unlisted

    ctx = context(event, runtime, forge)
    base = base_revision(ctx)
    found = unlisted(base.registry, runtime.get("MLFLOW_TRACKING_URI"))
    if not found:
        return Outcome("sync: models.yaml lists every version MLflow has", {"result": "unchanged"})
    # The labels on the new head before the pull request opens: a run killed after opening it leaves them to its
    # re-run and to the schedule's sweep (bot/flows/record.py).
    pull = open_pull(ctx.forge, base.text, found, ctx.default_branch, recorder(ctx))
    _have_validated(ctx, pull.pull.number)
    listed = ", ".join(f"{f.model} {f.version}" for f in found)
    return Outcome(
        f"sync: #{pull.pull.number} {pull.action} registering {listed}",
        {"result": pull.action, "pull_request": str(pull.pull.number)},
        f"Registration PR #{pull.pull.number}: {listed}",
    )
