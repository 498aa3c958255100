"""Deploys: a push to the default branch deploys what it changed in models.yaml, verifies it, and answers a
failed smoke check with a revert; `task: deploy` deploys one commit of the default branch (the bot dispatches
it after merging a rollback itself)."""

from __future__ import annotations

import re
from typing import TYPE_CHECKING, Any

from bot.actions.context import bot_context, evidence_folder, run_url, workspace
from bot.actions.events import DispatchEvent, Event, PushEvent
from bot.actions.outcome import ForgeFactory, Outcome
from bot.workspace import REGISTRY_FILE

if TYPE_CHECKING:
    from bot.actions.runtime import Runtime
    from bot.flows.context import BotContext
    from bot.github.forge import Forge, PullRequest
    from bot.registry.model import Registry


def on_push(event: Event, runtime: Runtime, forge: ForgeFactory) -> Outcome:
    assert isinstance(event, PushEvent)
    if event.ref != f"refs/heads/{event.repository.default_branch}" or event.deleted:
        return Outcome(f"push to {event.ref}: not the default branch", {"result": "ignored"})
    return _deploy(runtime, forge, event.before, event.after, event.repository.default_branch)


def _deploy(runtime: Runtime, forge: ForgeFactory, before: str | None, after: str, branch: str) -> Outcome:
    """Deploy before..after of the checked-out default branch, verify it, and respond to a failed smoke check.

    As this job's part says (MODELBOT_JOB): `smoke` (a job that cannot write) only runs the models the push
    deploys and hands their answers over (MODELBOT_EVIDENCE); `deploy` deploys and judges the answers it was
    handed, loading no model (see `bot.deploy.rehearsal`); unset, both in this process."""
    from bot.deploy import rehearsal
    from bot.deploy.base import DeployError
    from bot.deploy.catalog import Context
    from bot.deploy.runner import Runner
    from bot.deploy.verify import SmokeCheck

    env = dict(runtime.environ)
    repo = workspace(runtime)
    tracking = env.get("MLFLOW_TRACKING_URI")
    job = runtime.get("MODELBOT_JOB") or ""
    folder = evidence_folder(runtime, "modelbot-smoke")
    if job == "smoke":
        answers = rehearsal.rehearse(repo, before, after, tracking)
        rehearsal.write(folder, answers)
        told = ", ".join(f"{k}: {'error' if 'error' in v else 'answered'}" for k, v in answers.items())
        return Outcome(f"smoke {after[:12]}: {told or 'nothing to run'}", {"result": "evaluated"}, told)
    if job not in ("", "deploy"):
        return Outcome(f"MODELBOT_JOB {job[:40]!r}: expected smoke, deploy or nothing", {"result": "refused"})
    handed: dict[str, dict[str, Any]] | None = None
    unread = ""
    if job == "deploy":
        try:
            handed = rehearsal.read(folder)
        except DeployError as exc:  # judged as no answers: every smoke check of this push fails, and says why
            handed, unread = {}, str(exc)
    connected = forge()
    url = run_url(env)
    record = Runner(
        Context(repo=repo, environ=env, forge=connected, tracking_uri=tracking),
        url,
        SmokeCheck(tracking, repo, answers=handed, unread=unread),
    ).run(before, after, branch_tip(connected, branch))
    failure = record.failure
    summary = "\n".join(f"- {item.status}: {item.change}" for item in record.transitions) or "nothing to deploy"
    if failure is not None and failure.failed == "verify":
        from bot.deploy.respond import on_failure
        from bot.flows.record import recorder

        ctx = bot_context(runtime, connected, branch)
        # The revert's labels on its head before it opens: a run killed after opening it leaves them to its re-run
        # and to the schedule's sweep (bot/flows/record.py).
        response = on_failure(connected, repo, record.after, failure, url, branch, recorder(ctx))
        summary += f"\n\nThe smoke check failed: {response.reason}"
        if response.revert is not None:
            summary += "\n\n" + _validate_revert(ctx, response.revert)
    return Outcome(
        f"deploy {after[:12]}: {'ok' if record.ok else 'failed'}",
        {"result": "success" if record.ok else "failure"},
        summary,
    )


def _validate_revert(ctx: BotContext, revert: PullRequest) -> str:
    """A pull request the bot opened starts no workflow run: validate the revert here, under the rollback rules
    (and let it merge itself if the policy allows and nothing more is needed). Once: a re-run of a run killed
    after asking for it, or after it was validated, asks for nothing again and finishes what is left."""
    from bot.flows.validate_pr import validate_or_finish

    validation = validate_or_finish(ctx, revert, files=[REGISTRY_FILE])
    if validation is None:
        return f"The revert #{revert.number}: its validation was requested."
    approvals = validation.approvals.description if validation.approvals else "-"
    return f"The revert #{revert.number}: validation {validation.status.value}; approvals {approvals}."


def on_deploy_task(event: Event, runtime: Runtime, forge: ForgeFactory) -> Outcome:
    """`task: deploy` with `after`, a commit of the default branch (the bot dispatches it after merging a
    rollback itself): deploy what that commit changed against its first parent."""
    from bot import gitio

    assert isinstance(event, DispatchEvent)

    after = str(event.inputs.get("after") or "")
    branch = event.repository.default_branch
    repo = workspace(runtime)
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
    return _deploy(runtime, forge, parents[0] if parents else None, after, branch)


def branch_tip(forge: Forge, branch: str) -> Registry | None:
    """models.yaml at the branch's tip now (runs queue, so a push may be old news by the time it deploys)."""
    from bot.errors import InvalidFile
    from bot.registry.load import parse

    text = forge.file_text(REGISTRY_FILE, ref=branch)
    try:
        return parse(text, f"{REGISTRY_FILE}@{branch}") if text is not None else None
    except InvalidFile:
        return None
