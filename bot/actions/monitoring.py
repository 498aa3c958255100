"""`task: monitor` (and the maintenance schedule): watch every deployed (model, stage) whose policy has a
`monitor:` section, over the gateway's prediction log (`MODELBOT_PREDICTION_LOG`, the action's `prediction-log`
input: a self-hosted runner on the gateway's machine), and act on a breach as the policy says (incident issues,
the rollback pull request, the `modelbot-retrain` event; `bot.monitor.watch`). A rollback pull request opened
with the workflow's token starts no run, so its validation is asked for here, as `advance` does."""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING

from bot.actions.context import context, workspace
from bot.actions.events import DispatchEvent, Event
from bot.actions.outcome import ForgeFactory, Outcome

if TYPE_CHECKING:
    from bot.actions.runtime import Runtime
    from bot.flows.context import BotContext
    from bot.monitor.watch import Watched

LOG_SETTING = "MODELBOT_PREDICTION_LOG"


def log_path(runtime: Runtime) -> Path | None:
    """The setting names the gateway's predictions.jsonl (as `advance` reads it) or its log directory; monitoring
    reads the directory, so the rotated files count too."""
    from bot.monitor.source import LOG_FILE

    raw = runtime.get(LOG_SETTING)
    if not raw:
        return None
    path = Path(raw)
    return path.parent if path.name == LOG_FILE else path


def watched_stages(repo: Path) -> list[tuple[str, str]]:
    """Every (model, stage) of models.yaml that serves a version and whose policy has a `monitor:` section."""
    from bot.policy import load_policies
    from bot.policy.monitor import declared
    from bot.workspace import read_registry_file

    _, registry = read_registry_file(repo)
    policies = load_policies(repo)
    found = []
    for model in registry.models.values():
        policy = policies.resolve(model)
        if not declared(policies, policy.name, model.name):
            continue
        found += [(model.name, stage) for stage, version in model.stages.items() if version]
    return found


def monitor(event: Event, runtime: Runtime, forge: ForgeFactory) -> Outcome:
    """`task: monitor`, optionally for one `model` and `stage`: each watched stage's report, its incidents and
    actions. A stage with no logged traffic in its windows is said as such (no data is never a pass)."""
    from bot.chatops import NAME
    from bot.errors import ModelbotError
    from bot.flows.record import recorder
    from bot.monitor.watch import NoData, run_for

    assert isinstance(event, DispatchEvent)
    model, stage = (str(event.inputs.get(k) or "") for k in ("model", "stage"))
    if (model or stage) and not (NAME.match(model) and NAME.match(stage)):
        return Outcome(
            f"workflow_dispatch monitor: model and stage must be names like `churn` and `production`, got "
            f"{model[:40]!r} and {stage[:40]!r}",
            {"result": "refused"},
        )
    log = log_path(runtime)
    if log is None:
        return Outcome(
            f"workflow_dispatch monitor: set {LOG_SETTING} (the action's prediction-log input, on the gateway's "
            "machine) to say where the gateway logs its predictions",
            {"result": "refused"},
        )
    repo = workspace(runtime)
    try:
        targets = [(model, stage)] if model else watched_stages(repo)
    except ModelbotError as exc:
        return Outcome(f"monitor: refused: {exc}", {"result": "refused"})
    if not targets:
        return Outcome("monitor: no deployed model's policy has a monitor: section", {"result": "unchanged"})
    ctx = context(event, runtime, forge)
    lines, results, summaries, issues = [], [], [], []
    for name, where in targets:
        try:
            watched = run_for(repo, name, where, log, ctx.forge, base=ctx.default_branch, on_head=recorder(ctx))
        except NoData as exc:
            lines.append(f"monitor {name} {where}: no data: {exc}")
            results.append("no data")
            continue
        except ModelbotError as exc:
            lines.append(f"monitor {name} {where}: not judged: {exc}")
            results.append("refused")
            continue
        _validate_rollbacks(ctx, watched)
        lines.append(_line(name, where, watched))
        results.append("breached" if watched.report.breaches else "ok")
        summaries.append(watched.markdown)
        issues += [str(i.issue) for i in watched.incidents]
    text = "\n".join(lines)
    return Outcome(
        text.splitlines()[0] if len(lines) == 1 else f"monitor: {', '.join(results)}",
        {"result": ",".join(results), "monitored": ",".join(results), "incidents": ",".join(issues)},
        "\n\n".join([text, *summaries]),
    )


def _line(model: str, stage: str, watched: Watched) -> str:
    from bot.monitor.report import headline

    parts = [f"monitor {model} {stage}: {headline(watched.report)}"]
    parts += [f"  - incident #{i.issue} ({i.kind}): {i.comment}" for i in watched.incidents]
    parts += [f"  - {t.line()}" for t in watched.actions]
    return "\n".join(parts)


def _validate_rollbacks(ctx: BotContext, watched: Watched) -> None:
    """The rollback pull request this run opened: validated, or its validation asked for."""
    from bot.flows.validate_pr import ensure_validated

    for taken in watched.actions:
        if taken.action == "rollback" and taken.result == "opened" and taken.pull is not None:
            ensure_validated(ctx, ctx.forge.pull_request(taken.pull))
