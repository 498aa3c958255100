"""Pull-request events: a pull request opened, pushed to, reopened or re-based is validated (in one job, or
evaluated and published by two: `validate_in_job`); a review recomputes its approvals."""

from __future__ import annotations

import re
from typing import TYPE_CHECKING

from bot.actions.context import context, evidence_folder
from bot.actions.events import Event, PullRequestEvent, ReviewEvent
from bot.actions.outcome import ForgeFactory, Outcome

if TYPE_CHECKING:
    from bot.actions.runtime import Runtime
    from bot.flows.context import BotContext
    from bot.github.forge import PullRequest


def validate_in_job(
    ctx: BotContext, runtime: Runtime, pull: PullRequest, files: list[str] | None, actors: list[str]
) -> Outcome:
    """Validate `pull` as this job's part says (MODELBOT_JOB): `evaluate` loads the models and hands the
    evaluation over as files (MODELBOT_EVIDENCE); `publish` posts what it was handed and loads no model; unset,
    both in this process (outside Actions, and where a workflow keeps one job)."""
    from bot.flows import handoff
    from bot.flows.validate_pr import Evaluation, evaluate_pull, publish_pull, validate_pull

    job = runtime.get("MODELBOT_JOB") or ""
    folder = evidence_folder(runtime, "modelbot-evidence")
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


def on_pull_request(event: Event, runtime: Runtime, forge: ForgeFactory) -> Outcome:
    from bot.flows import record

    assert isinstance(event, PullRequestEvent)
    if event.action == "edited" and not event.base_changed:
        return Outcome(f"#{event.number} edited (title or body): nothing to judge again", {"result": "ignored"})
    ctx = context(event, runtime, forge)
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
    return validate_in_job(ctx, runtime, pull, ctx.forge.pull_files(event.number), actors)


def on_review(event: Event, runtime: Runtime, forge: ForgeFactory) -> Outcome:
    from bot.flows.validate_pr import refresh_approvals

    assert isinstance(event, ReviewEvent)
    ctx = context(event, runtime, forge)
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
