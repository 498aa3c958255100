"""The flows' context built from the run's environment: the one place a handler's settings come from
(workspace, run link, bot login, reports folder, which workflows to dispatch). Flows below receive it as a
`BotContext` and never read the environment themselves."""

from __future__ import annotations

import tempfile
from collections.abc import Mapping
from datetime import UTC, datetime
from pathlib import Path
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from bot.actions.events import Event
    from bot.actions.outcome import ForgeFactory
    from bot.actions.runtime import Runtime
    from bot.flows.context import BotContext
    from bot.github.forge import Forge


def run_url(environ: Mapping[str, str]) -> str | None:
    server, repository, run_id = (environ.get(k) for k in ("GITHUB_SERVER_URL", "GITHUB_REPOSITORY", "GITHUB_RUN_ID"))
    return f"{server}/{repository}/actions/runs/{run_id}" if server and repository and run_id else None


def workspace(runtime: Runtime) -> Path:
    """The checkout the job works in (GITHUB_WORKSPACE), else the current directory."""
    return Path(runtime.get("GITHUB_WORKSPACE") or ".")


def evidence_folder(runtime: Runtime, name: str) -> Path:
    """Where a job split in two hands its files over (MODELBOT_EVIDENCE, an artifact's path), else a folder
    `name` under the runner's temporary directory."""
    given = runtime.get("MODELBOT_EVIDENCE")
    return Path(given or Path(runtime.get("RUNNER_TEMP") or tempfile.gettempdir()) / name)


def context(event: Event, runtime: Runtime, forge: ForgeFactory) -> BotContext:
    return bot_context(runtime, forge(), event.repository.default_branch)


def bot_context(runtime: Runtime, connected: Forge, default_branch: str) -> BotContext:
    from bot.flows.context import BotContext

    env = runtime.environ
    checkout = Path(env["GITHUB_WORKSPACE"]) if env.get("GITHUB_WORKSPACE") else None
    if checkout is not None and not (checkout / ".git").exists():
        checkout = None
    reports = Path(env.get("RUNNER_TEMP") or tempfile.gettempdir()) / "modelbot-reports"
    return BotContext(
        connected,
        default_branch,
        datetime.now(UTC),
        checkout,
        run_url(env),
        env.get("MODELBOT_BOT_LOGIN") or "github-actions[bot]",
        reports,
        deploy_workflow=env.get("MODELBOT_DEPLOY_WORKFLOW") or "modelbot-deploy.yml",
        validate_workflow=env.get("MODELBOT_VALIDATE_WORKFLOW") or "modelbot-pull-request.yml",
        validate_by_dispatch=env.get("MODELBOT_VALIDATE") == "dispatch",
        bot_events_start_runs=bool(getattr(connected, "acts_as_app", False)),
        # Where validations are recorded: the MLflow the job loads models from (the publish job has none).
        record_to=env.get("MLFLOW_TRACKING_URI") or None,
    )
