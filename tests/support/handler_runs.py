"""A bot run of an Actions handler (`bot/actions`: deploy, sync, advance, validate) from a flow's BotContext, so
that `tests.support.jobs.run_job` can run it as a job of its own (and localhub kill it), and a re-run can
run it again in the test's process with the same run link, as GitHub's "Re-run job" does.

The handler gets what the action hands it in Actions: the checkout (GITHUB_WORKSPACE), the run's link
(GITHUB_SERVER_URL, GITHUB_REPOSITORY, GITHUB_RUN_ID), MLflow (MLFLOW_TRACKING_URI, from the job's
environment), validations asked for by dispatch (`validate-by: dispatch`, as every write-token workflow of
this project says), and the forge of the context.
"""

from __future__ import annotations

import os
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from bot.actions.events import DispatchEvent, PushEvent, Repository
from bot.actions.outcome import EventHandler, Outcome
from bot.actions.runtime import Runtime
from bot.flows.context import BotContext

REPOSITORY = Repository("acme/models", "main")


@dataclass(frozen=True)
class Ran:
    """What a job's flow returns: the handler's `result` output (the job prints it as its outcome)."""

    outcome: str


def runtime_for(ctx: BotContext, event_name: str, extra: Mapping[str, str] | None = None) -> Runtime:
    """The environment the action gives a handler in the job whose context is `ctx`."""
    assert ctx.run_url is not None and ctx.workspace is not None
    marker = f"/{REPOSITORY.full_name}/actions/runs/"
    server, run_id = ctx.run_url.split(marker)
    environ = {
        "GITHUB_WORKSPACE": str(ctx.workspace),
        "GITHUB_SERVER_URL": server,
        "GITHUB_REPOSITORY": REPOSITORY.full_name,
        "GITHUB_RUN_ID": run_id,
        "RUNNER_TEMP": str(ctx.reports.parent / "runner"),
        "MODELBOT_VALIDATE": "dispatch",
        "MODELBOT_BOT_LOGIN": ctx.bot_login,
        **{k: os.environ[k] for k in ("MLFLOW_TRACKING_URI", "MLFLOW_REGISTRY_URI") if k in os.environ},
        **(extra or {}),
    }
    return Runtime(event_name, ctx.reports.parent / "event.json", environ)


def run_handler(ctx: BotContext, handler: EventHandler, event: Any, extra: Mapping[str, str] | None = None) -> Outcome:
    return handler(event, runtime_for(ctx, event.name, extra), lambda: ctx.forge)


def dispatch(sender: str, inputs: Mapping[str, Any], workflow: str) -> DispatchEvent:
    return DispatchEvent("workflow_dispatch", None, REPOSITORY, sender, "refs/heads/main", workflow, dict(inputs))


def push(sender: str, before: str, after: str) -> PushEvent:
    return PushEvent("push", None, REPOSITORY, sender, "refs/heads/main", before, after, False)


def task(ctx: BotContext, inputs: dict[str, str], extra: dict[str, str] | None = None) -> Ran:
    """A job's flow (`run_job`): the maintenance workflow dispatched with `inputs`; its outcome's result."""
    from bot.actions.tasks import on_task

    event = dispatch("pat-platform", inputs, ".github/workflows/modelbot-maintenance.yml")
    return Ran(run_handler(ctx, on_task, event, extra).outputs.get("result", ""))


def run_validations(running: Any, ctx_for: Any, after: int) -> list[str]:
    """Run, as Actions would, each validation dispatched since delivery `after` (task `validate`, pull N):
    their results."""
    from bot.actions.tasks import validate

    results = []
    for delivery in [d for d in running.hub.deliveries if d.id > after and d.event == "workflow_dispatch"]:
        inputs = delivery.payload["inputs"] or {}
        if inputs.get("task") == "validate":
            event = dispatch(delivery.sender, inputs, delivery.payload["workflow"])
            outcome = run_handler(ctx_for(), validate, event, {"MODELBOT_VALIDATE": ""})
            results.append(outcome.outputs.get("result", ""))
    return results


def last_delivery(running: Any) -> int:
    return running.hub.deliveries[-1].id if running.hub.deliveries else 0


def workspace_head(ctx: BotContext) -> str:
    from bot import gitio

    assert ctx.workspace is not None
    return gitio.resolve(Path(ctx.workspace), "HEAD")


def pull_request_job(
    ctx: BotContext, payload: dict[str, Any], part: str, evidence: str, extra: dict[str, str] | None = None
) -> Ran:
    """A job's flow (`run_job`): one job of the pull request workflow (`part`: evaluate or publish) for the
    `pull_request` event `payload`, the evaluation handed over in the folder `evidence` (the artifact between
    the two jobs); its outcome's result."""
    from bot.actions.events import parse
    from bot.actions.pulls import on_pull_request

    env = {"MODELBOT_JOB": part, "MODELBOT_EVIDENCE": evidence, "MODELBOT_VALIDATE": "", **(extra or {})}
    return Ran(run_handler(ctx, on_pull_request, parse("pull_request", payload), env).outputs.get("result", ""))


def command(ctx: BotContext, event: Any) -> Any:
    """A job's flow (`run_job`): the comment workflow's run of a slash command, validating by dispatch as its
    job does (`validate-by: dispatch`: a job holding a write token never loads a model); the command's reply."""
    from dataclasses import replace

    from bot.flows.commands import handle_comment

    return handle_comment(replace(ctx, validate_by_dispatch=True), event)
