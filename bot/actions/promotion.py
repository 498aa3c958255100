"""The promotion handlers of the Actions entrypoint: typed events in, flows called, an Outcome out.

This is the boundary where the run's environment is read (workspace, run link, bot login); the flows below
receive it as a BotContext and never look at the environment themselves.
"""

from __future__ import annotations

import os
import re
import tempfile
from collections.abc import Callable
from datetime import UTC, datetime
from pathlib import Path
from typing import TYPE_CHECKING

from bot.actions.events import CommentEvent, DispatchEvent, Event, PullRequestEvent, PushEvent, ReviewEvent
from bot.actions.router import Outcome
from bot.workspace import REGISTRY_FILE

if TYPE_CHECKING:
    from bot.flows.context import BotContext
    from bot.github.forge import Forge, PullRequest
    from bot.registry.model import Registry

ForgeFactory = Callable[[], "Forge"]


def run_url(environ: os._Environ[str] | dict[str, str]) -> str | None:
    server, repository, run_id = (environ.get(k) for k in ("GITHUB_SERVER_URL", "GITHUB_REPOSITORY", "GITHUB_RUN_ID"))
    return f"{server}/{repository}/actions/runs/{run_id}" if server and repository and run_id else None


def context(event: Event, forge: ForgeFactory) -> BotContext:
    return bot_context(forge(), event.repository.default_branch)


def bot_context(connected: Forge, default_branch: str) -> BotContext:
    from bot.flows.context import BotContext

    env = os.environ
    workspace = Path(env["GITHUB_WORKSPACE"]) if env.get("GITHUB_WORKSPACE") else None
    if workspace is not None and not (workspace / ".git").exists():
        workspace = None
    reports = Path(env.get("RUNNER_TEMP") or tempfile.gettempdir()) / "modelbot-reports"
    return BotContext(
        connected,
        default_branch,
        datetime.now(UTC),
        workspace,
        run_url(env),
        env.get("MODELBOT_BOT_LOGIN") or "github-actions[bot]",
        reports,
        deploy_workflow=env.get("MODELBOT_DEPLOY_WORKFLOW") or "modelbot-deploy.yml",
        validate_workflow=env.get("MODELBOT_VALIDATE_WORKFLOW") or "modelbot-pull-request.yml",
        validate_by_dispatch=env.get("MODELBOT_VALIDATE") == "dispatch",
    )


def validate_in_job(ctx: BotContext, pull: PullRequest, files: list[str] | None, actors: list[str]) -> Outcome:
    """Validate `pull` as this job's part says (MODELBOT_JOB): `evaluate` loads the models and hands the
    evaluation over as files (MODELBOT_EVIDENCE); `publish` posts what it was handed and loads no model; unset,
    both in this process (outside Actions, and where a workflow keeps one job)."""
    from bot.flows import handoff
    from bot.flows.validate_pr import Evaluation, evaluate_pull, publish_pull, validate_pull

    job = os.environ.get("MODELBOT_JOB", "")
    folder = Path(
        os.environ.get("MODELBOT_EVIDENCE")
        or Path(os.environ.get("RUNNER_TEMP") or tempfile.gettempdir()) / "modelbot-evidence"
    )
    if job == "evaluate":
        evaluation = evaluate_pull(ctx, pull, files)
        handoff.write(folder, evaluation)
        verdict = "refused" if evaluation.refusals else ", ".join(o.status.value for o in evaluation.outcomes)
        return Outcome(
            f"#{pull.number} at {pull.head_sha[:12]} evaluated: {verdict or 'nothing to judge'}",
            {"result": "evaluated"},
            f"Evaluated #{pull.number} at `{pull.head_sha[:12]}`: {verdict}.",
        )
    if job == "publish":
        try:
            evaluation = handoff.read(folder)
        except handoff.HandoffError as exc:
            evaluation = Evaluation(pull.head_sha, (f"the evaluation job handed over nothing usable: {exc}",))
        result = publish_pull(ctx, pull, evaluation, actors, files)
    elif job == "":
        result = validate_pull(ctx, pull, files=files, actors=actors)
    else:
        return Outcome(f"MODELBOT_JOB {job[:40]!r}: expected evaluate, publish or nothing", {"result": "refused"})
    return Outcome(
        f"#{pull.number} at {pull.head_sha[:12]}: {result.status.value}", {"result": result.conclusion}, result.summary
    )


def _pull(
    number: int, title: str, body: str, author: str, head_ref: str, head_sha: str, base_ref: str, base_sha: str
) -> PullRequest:
    from bot.github.forge import PullRequest

    return PullRequest(number, title, body, "open", False, author, head_ref, head_sha, base_ref, base_sha, None, "")


def on_comment(event: Event, forge: ForgeFactory) -> Outcome:
    from bot.flows.commands import CommentEvent as Command
    from bot.flows.commands import handle_comment

    assert isinstance(event, CommentEvent)
    ctx = context(event, forge)
    reply = handle_comment(
        ctx,
        Command(
            event.comment_id, event.body, event.author, event.author_type == "Bot", event.number, event.is_pull_request
        ),
    )
    return Outcome(
        f"comment on #{event.number} by {event.author}: {reply.outcome}",
        {"result": reply.outcome},
        reply.text if reply.outcome != "ignored" else "",
    )


def on_pull_request(event: Event, forge: ForgeFactory) -> Outcome:
    from bot.flows import record

    assert isinstance(event, PullRequestEvent)
    if event.action == "edited" and not event.base_changed:
        return Outcome(f"#{event.number} edited (title or body): nothing to judge again", {"result": "ignored"})
    ctx = context(event, forge)
    pull = _pull(
        event.number,
        event.title,
        event.body,
        event.author,
        event.head_ref,
        event.head_sha,
        event.base_ref,
        event.base_sha,
    )
    # Who opened or pushed this head counts as its author, and so does everyone the bot recorded as an author
    # of the head it replaced (who asked for the promotion): a push on top launders nobody's approval.
    actors = [event.sender] if event.action in ("opened", "synchronize") else []
    if event.action == "synchronize" and event.before and re.fullmatch(r"[0-9a-f]{40}", event.before):
        earlier = record.read(ctx, event.before, validated_only=False)
        actors += earlier.actors if earlier else ()
    return validate_in_job(ctx, pull, ctx.forge.pull_files(event.number), actors)


def on_review(event: Event, forge: ForgeFactory) -> Outcome:
    from bot.flows.validate_pr import refresh_approvals

    assert isinstance(event, ReviewEvent)
    ctx = context(event, forge)
    pull = _pull(
        event.number, event.title, "", event.author, event.head_ref, event.head_sha, event.base_ref, event.base_sha
    )
    state = refresh_approvals(ctx, pull, ctx.forge.pull_files(event.number))
    if state is None:
        return Outcome(f"#{event.number}: not a promotion the bot can judge", {"result": "ignored"})
    result = "success" if state.approved else "pending"
    return Outcome(
        f"#{event.number} approvals: {state.description}",
        {"result": result},
        f"Approvals of #{event.number}: {state.description}",
    )


def on_push(event: Event, forge: ForgeFactory) -> Outcome:
    assert isinstance(event, PushEvent)
    if event.ref != f"refs/heads/{event.repository.default_branch}" or event.deleted:
        return Outcome(f"push to {event.ref}: not the default branch", {"result": "ignored"})
    return _deploy(forge, event.before, event.after, event.repository.default_branch)


def _deploy(forge: ForgeFactory, before: str | None, after: str, branch: str) -> Outcome:
    """Deploy before..after of the checked-out default branch, verify it, and respond to a failed smoke check."""
    from bot.deploy.catalog import Context
    from bot.deploy.runner import Runner
    from bot.deploy.verify import SmokeCheck

    env = dict(os.environ)
    repo = Path(env.get("GITHUB_WORKSPACE") or ".")
    tracking = env.get("MLFLOW_TRACKING_URI")
    connected = forge()
    url = run_url(env)
    record = Runner(
        Context(repo=repo, environ=env, forge=connected, tracking_uri=tracking), url, SmokeCheck(tracking, repo)
    ).run(before, after, branch_tip(connected, branch))
    failure = record.failure
    summary = "\n".join(f"- {item.status}: {item.change}" for item in record.transitions) or "nothing to deploy"
    if failure is not None and failure.failed == "verify":
        from bot.deploy.respond import on_failure

        response = on_failure(connected, repo, record.after, failure, url, branch)
        summary += f"\n\nThe smoke check failed: {response.reason}"
        if response.revert is not None:
            summary += "\n\n" + _validate_revert(connected, branch, response.revert)
    return Outcome(
        f"deploy {after[:12]}: {'ok' if record.ok else 'failed'}",
        {"result": "success" if record.ok else "failure"},
        summary,
    )


def _validate_revert(connected: Forge, branch: str, revert: PullRequest) -> str:
    """A pull request the bot opened starts no workflow run: validate the revert here, under the rollback rules
    (and let it merge itself if the policy allows and nothing more is needed)."""
    from bot.flows.validate_pr import validate_or_request

    validation = validate_or_request(bot_context(connected, branch), revert, files=[REGISTRY_FILE])
    if validation is None:
        return f"The revert #{revert.number}: its validation was requested."
    approvals = validation.approvals.description if validation.approvals else "-"
    return f"The revert #{revert.number}: validation {validation.status.value}; approvals {approvals}."


def _dispatched_deploy(event: DispatchEvent, forge: ForgeFactory) -> Outcome:
    """`task: deploy` with `after`, a commit of the default branch (the bot dispatches it after merging a
    rollback itself): deploy what that commit changed against its first parent."""
    import re

    from bot import gitio

    after = str(event.inputs.get("after") or "")
    branch = event.repository.default_branch
    repo = Path(os.environ.get("GITHUB_WORKSPACE") or ".")
    if event.ref != f"refs/heads/{branch}":
        return Outcome(
            f"workflow_dispatch deploy on {event.ref[:80]}: deploys run on {branch} only", {"result": "refused"}
        )
    if not re.fullmatch(r"[0-9a-f]{40}", after):
        return Outcome(
            f"workflow_dispatch deploy: `after` must be a full commit sha, got {after[:60]!r}", {"result": "refused"}
        )
    if not gitio.is_ancestor(repo, after):
        return Outcome(f"workflow_dispatch deploy: {after[:12]} is not a commit of {branch}", {"result": "refused"})
    parents = gitio.commit(repo, after).parents
    return _deploy(forge, parents[0] if parents else None, after, branch)


def branch_tip(forge: Forge, branch: str) -> Registry | None:
    """models.yaml at the branch's tip now (runs queue, so a push may be old news by the time it deploys)."""
    from bot.errors import InvalidFile
    from bot.registry.load import parse

    text = forge.file_text(REGISTRY_FILE, ref=branch)
    try:
        return parse(text, f"{REGISTRY_FILE}@{branch}") if text is not None else None
    except InvalidFile:
        return None


def on_dispatch(event: Event, forge: ForgeFactory) -> Outcome:
    from bot.flows.propose import propose
    from bot.flows.validate_pr import validate_or_request

    assert isinstance(event, DispatchEvent)
    task = str(event.inputs.get("task") or "propose")
    if task == "sync":
        return _sync(event, forge)
    if task == "deploy":
        return _dispatched_deploy(event, forge)
    if task == "advance":
        return _advance(event, forge)
    if task == "validate":
        return _dispatched_validation(event, forge)
    if task == "sweep":
        return _sweep(event, forge)
    if task == "scheduled":
        synced, swept = _sync(event, forge), _sweep(event, forge)
        return Outcome(
            f"{synced.message}; {swept.message}",
            {**synced.outputs, "swept": swept.outputs["swept"]},
            "\n\n".join(part for part in (synced.summary, swept.summary) if part),
        )
    if task != "propose":
        return Outcome(
            f"workflow_dispatch task {task[:40]!r}: expected propose, sync, sweep, advance, validate or deploy",
            {"result": "refused"},
        )
    model, version, stage = (str(event.inputs.get(k) or "") for k in ("model", "version", "stage"))
    from bot.chatops import CommandError, parse

    try:
        command = parse(f"/promote {model} {version} to {stage}")
    except CommandError as exc:
        return Outcome(f"workflow_dispatch: {exc}", {"result": "refused"}, f"Refused: {exc}")
    assert command is not None
    ctx = context(event, forge)
    result = propose(
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
    validation = validate_or_request(ctx, result.pull.pull, files=["models.yaml"], actors=[event.sender])
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


def _have_validated(ctx: BotContext, number: int) -> None:
    """A pull request the bot opened with the workflow's token starts no run: have it validated (dispatched in
    Actions), so that the branch protection's required check is reported for it too."""
    from bot.flows.validate_pr import validate_or_request

    validate_or_request(ctx, ctx.forge.pull_request(number))


def _sweep(event: Event, forge: ForgeFactory) -> Outcome:
    """Ask again for the validation of open pull requests whose head no run judged (bot/flows/sweep.py)."""
    from bot.flows.sweep import sweep

    swept = sweep(context(event, forge))
    return Outcome(swept.describe(), {"swept": ",".join(map(str, swept.finished))}, swept.describe())


def _dispatched_validation(event: DispatchEvent, forge: ForgeFactory) -> Outcome:
    """`task: validate, pull: N`: the validation a job holding a write token asked for (it loads no model)."""
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
    ctx = context(event, forge)
    pull = ctx.forge.pull_request(int(raw))
    if pull.state != "open":
        return Outcome(f"#{raw} is {pull.state}: nothing to validate", {"result": "ignored"})
    return validate_in_job(ctx, pull, None, [])


def _advance(event: DispatchEvent, forge: ForgeFactory) -> Outcome:
    """`task: advance`: the rollout of (model, stage) to its next step as a pull request when Prometheus says its
    traffic passes; the rollback pull request when it fails; nothing when traffic is too thin."""
    from bot.chatops import NAME
    from bot.deploy.advance import advance_github
    from bot.deploy.analysis import Prometheus
    from bot.errors import ModelbotError

    model, stage = (str(event.inputs.get(k) or "") for k in ("model", "stage"))
    if not NAME.match(model) or not NAME.match(stage):
        return Outcome(
            f"workflow_dispatch advance: model and stage must be names like `churn` and `production`, got "
            f"{model[:40]!r} and {stage[:40]!r}",
            {"result": "refused"},
        )
    url = os.environ.get("MODELBOT_PROMETHEUS_URL") or ""
    workspace = Path(os.environ.get("GITHUB_WORKSPACE") or ".")
    if not url:
        return Outcome(
            "workflow_dispatch advance: set the MODELBOT_PROMETHEUS_URL variable (the action's "
            "prometheus-url) to say where the rollout's metrics are",
            {"result": "refused"},
        )
    try:
        result = advance_github(forge(), workspace, model, stage, Prometheus(url), event.repository.default_branch)
    except ModelbotError as exc:
        return Outcome(f"advance {model} {stage}: {exc}", {"result": "refused"}, f"Refused: {exc}")
    pull = f" #{result.pull['number']}" if result.pull else ""
    if result.pull and result.pull.get("action") != "unchanged":
        _have_validated(context(event, forge), int(result.pull["number"]))
    gates = "\n".join(f"- {g.gate}: {g.status.value}: {g.reason}" for g in result.gates)
    return Outcome(
        f"advance {model} {stage}: {result.decision}{pull}",
        {"result": result.decision},
        f"{result.decision}{pull}\n\n{gates}",
    )


def _sync(event: Event, forge: ForgeFactory) -> Outcome:
    from bot.flows.propose import base_revision
    from bot.sync import open_pull, unlisted

    ctx = context(event, forge)
    base = base_revision(ctx)
    found = unlisted(base.registry, os.environ.get("MLFLOW_TRACKING_URI"))
    if not found:
        return Outcome("sync: models.yaml lists every version MLflow has", {"result": "unchanged"})
    pull = open_pull(ctx.forge, base.text, found, ctx.default_branch)
    if pull.action != "unchanged":
        _have_validated(ctx, pull.pull.number)
    listed = ", ".join(f"{f.model} {f.version}" for f in found)
    return Outcome(
        f"sync: #{pull.pull.number} {pull.action} registering {listed}",
        {"result": pull.action, "pull_request": str(pull.pull.number)},
        f"Registration PR #{pull.pull.number}: {listed}",
    )
