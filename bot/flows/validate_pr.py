"""Validate a promotion PR: the plan between its base and head models.yaml (read as data; policy from the base),
the evidence per transition as one report comment per (model, stage), the `modelbot/validation` check, and
the approval state that follows from both."""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import Any

from bot.errors import InvalidFile
from bot.evidence import Status
from bot.flows import approvals, record
from bot.flows.automerge import try_merge
from bot.flows.context import BotContext, policies_at, registry_at, served_history, soak_clock
from bot.flows.record import CHECK, Record
from bot.github.forge import ForgeError, PullRequest
from bot.github.markers import BODY_LIMIT, marker, with_state
from bot.plan import Plan, Step, plan
from bot.policy import POLICY_DIR
from bot.revision import RegistryAt
from bot.texts import render
from bot.workspace import REGISTRY_FILE

REPORT = "report"
CONCLUSIONS = {
    Status.PASS: "success",
    Status.FAIL: "failure",
    Status.INCONCLUSIVE: "neutral",
    Status.SKIPPED: "neutral",
}
Progress = Callable[[str], None]


@dataclass(frozen=True)
class StepOutcome:
    model: str
    stage: str
    version: str | None
    status: Status
    verdict: str
    report: Path | None = None


@dataclass(frozen=True)
class PullValidation:
    status: Status
    summary: str
    refusals: tuple[str, ...] = ()
    outcomes: tuple[StepOutcome, ...] = ()
    approvals: Any = None
    plan: Plan | None = field(default=None, repr=False)
    automerge: Any = None

    @property
    def conclusion(self) -> str:
        return CONCLUSIONS[self.status]


def touches_registry(files: Sequence[str]) -> bool:
    return any(f == REGISTRY_FILE or f.startswith(f"{POLICY_DIR}/") for f in files)


def foreign_files(files: Sequence[str]) -> list[str]:
    """Files a promotion PR may not touch: anything but models.yaml and policies/."""
    return [f for f in files if f != REGISTRY_FILE and not f.startswith(f"{POLICY_DIR}/")]


def _policy_names(*revisions: RegistryAt | None) -> set[str]:
    return {m.policy for r in revisions if r is not None for m in r.registry.models.values()}


def _validate_step(
    ctx: BotContext,
    step: Step,
    pull: PullRequest,
    base: RegistryAt | None,
    head: RegistryAt,
    inputs: dict[str, Any],
    progress: Progress,
) -> tuple[StepOutcome, str, str]:
    """Run the validation engine for one transition; returns its outcome, the report's Markdown and the model
    card (kept as files, and recorded in MLflow where the context says: `lasting.keep`)."""
    from bot.flows import lasting
    from bot.report import render as report
    from bot.validation import engine

    t = step.transition
    model = head.registry.models[t.model]
    champion_side = base.registry.model(t.model) if base is not None else None
    # The champion is what the stage serves on the base branch (the head already names the candidate there), and
    # how a model is evaluated (data, target, slices, reference) is the base's word, never the change's.
    if champion_side is not None:
        model = replace(model, stages=champion_side.stages, evaluation=champion_side.evaluation)
    else:
        model = replace(model, stages={})
    assert t.to_version is not None
    subject = engine.Subject.of(model, t.to_version, t.stage)
    root = ctx.workspace or Path.cwd()
    evidence = engine.validate(subject, step.gates, model.evaluation, root, inputs, progress=progress)
    out = ctx.reports / f"{t.model}-{t.stage}"
    room = BODY_LIMIT - len(marker(t.model, t.stage, REPORT)) - 1  # the comment's marker counts towards the limit
    history = lasting.stage_history(ctx, pull.base_sha, t.model, t.to_version)
    needed = {t.stage: [a.as_dict() for a in step.approvals]}
    origin = lasting.provenance(ctx, pull.head_sha, pull.number)
    kept = lasting.keep(ctx, evidence, model, origin, out, room, history, needed)
    if kept.problem:
        progress(kept.problem)
    verdict = report.verdict(evidence).lstrip("# ")
    return StepOutcome(t.model, t.stage, t.to_version, evidence.status, verdict, kept.report), kept.comment, kept.card


def _no_evidence_needed(step: Step) -> StepOutcome:
    t = step.transition
    return StepOutcome(t.model, t.stage, t.to_version, Status.PASS, f"{t} needs no evidence (no gates for a {t.kind})")


def _worst(statuses: Sequence[Status]) -> Status:
    if Status.FAIL in statuses:
        return Status.FAIL
    if Status.INCONCLUSIVE in statuses:
        return Status.INCONCLUSIVE
    return Status.PASS


def _refuse(ctx: BotContext, pull: PullRequest, refusals: Sequence[str], actors: Sequence[str] = ()) -> PullValidation:
    summary = render("refusal.md.j2", refusals=refusals, head_sha=pull.head_sha)
    ctx.forge.upsert_comment(pull.number, marker("pull", str(pull.number), "plan"), summary)
    kept = Record(pull.head_sha, tuple(actors), status=Status.FAIL.value, refusals=tuple(refusals))
    ctx.forge.set_check_run(
        pull.head_sha, CHECK, "failure", "Refused", with_state(summary, kept.as_state()), ctx.run_url
    )
    return PullValidation(Status.FAIL, summary, tuple(refusals))


def _actors(ctx: BotContext, pull: PullRequest, actors: Sequence[str]) -> tuple[str, ...]:
    """`actors` and everyone the bot already recorded for this head (a record only ever grows)."""
    known = record.read(ctx, pull.head_sha, validated_only=False)
    return record.people(actors, known.actors if known else ())


@dataclass(frozen=True)
class PullPlan:
    base: RegistryAt | None
    head: RegistryAt
    policies: Any
    plan: Plan


def plan_pull(ctx: BotContext, pull: PullRequest, files: Sequence[str] | None) -> PullPlan | list[str]:
    """The plan of a PR from its base and head models.yaml (as data) and the base's policies; or refusals."""
    if pull.base_ref != ctx.default_branch:
        # Policies, roles and history are the default branch's: a pull request into any other branch would be
        # judged by rules its author may have written there (and its checks sit on a head it shares).
        return [
            f"this pull request targets '{pull.base_ref}'; modelbot judges only pull requests into the default "
            f"branch '{ctx.default_branch}', whose policies and history hold authority"
        ]
    if files is None:
        files = ctx.forge.pull_files(pull.number)
    outside = foreign_files(files)
    if outside:
        return [
            f"this pull request changes {', '.join(outside[:5])}; a promotion may change only "
            f"{REGISTRY_FILE} and {POLICY_DIR}/ (open a separate pull request for the rest)"
        ]
    try:
        base = registry_at(ctx, pull.base_sha)
        head = registry_at(ctx, pull.head_sha)
        if head is None:
            return [f"{REGISTRY_FILE} does not exist at the head of this pull request"]
        # The base's policies govern the models the base knows; a model new to the file falls under its own.
        names = _policy_names(base) | {
            m.policy for n, m in head.registry.models.items() if base is None or n not in base.registry.models
        }
        policies = policies_at(ctx, pull.base_sha, names)
    except InvalidFile as exc:
        return [str(p) for p in exc.problems]
    keys = [(m, s) for m, model in (base.registry.models.items() if base else ()) for s in model.stages]
    result = plan(
        base.registry if base else None,
        head.registry,
        policies,
        now=ctx.now,
        entered_at=soak_clock(ctx, base, keys) if base else {},
        served=served_history(ctx, base, keys),
        changed_policy_files=tuple(f for f in files if f.startswith(f"{POLICY_DIR}/")),
    )
    return PullPlan(base, head, policies, result)


def validate_pull(
    ctx: BotContext,
    pull: PullRequest,
    files: Sequence[str] | None = None,
    progress: Progress = lambda _: None,
    actors: Sequence[str] = (),
) -> PullValidation:
    """Everything the bot says about a PR's head commit, in one process. `files` are the paths the PR changes,
    when known; `actors` the people who made this head what it is besides its author (who asked the bot for it,
    who pushed it): like the author, their approvals do not count. In Actions the two halves run in two jobs:
    `evaluate_pull` (loads models; its token cannot write) and `publish_pull` (writes; never loads a model)."""
    if files is None:
        files = ctx.forge.pull_files(pull.number)
    return publish_pull(ctx, pull, evaluate_pull(ctx, pull, files, progress), actors, files)


@dataclass(frozen=True)
class Evaluation:
    """What the evaluation of one head found: refusals, or each transition's outcome and report. Plain data,
    handed from the job that loads models to the job that writes (`bot/flows/handoff.py`)."""

    head_sha: str
    refusals: tuple[str, ...] = ()
    outcomes: tuple[StepOutcome, ...] = ()
    reports: Mapping[tuple[str, str], str] = field(default_factory=dict)
    cards: Mapping[tuple[str, str], str] = field(default_factory=dict)  # model cards, for the pull request's body


def evaluate_pull(
    ctx: BotContext, pull: PullRequest, files: Sequence[str] | None = None, progress: Progress = lambda _: None
) -> Evaluation:
    """The plan and the evidence of each transition: reads the forge, writes nothing to it."""
    if files is None:
        files = ctx.forge.pull_files(pull.number)
    if not touches_registry(files):
        return Evaluation(pull.head_sha)
    planned = plan_pull(ctx, pull, files)
    if isinstance(planned, list):
        return Evaluation(pull.head_sha, tuple(planned))
    result = planned.plan
    if not result.ok:
        return Evaluation(pull.head_sha, tuple(result.all_refusals))
    inputs = {
        "models_yaml": {"base": pull.base_sha, "head": pull.head_sha},
        "policy_fingerprint": planned.policies.fingerprint(),
    }
    outcomes: list[StepOutcome] = []
    reports: dict[tuple[str, str], str] = {}
    cards: dict[tuple[str, str], str] = {}
    for step in result.steps:
        t = step.transition
        if t.to_version is None or not step.gates.names:
            outcomes.append(_no_evidence_needed(step))
            continue
        outcome, body, card = _validate_step(ctx, step, pull, planned.base, planned.head, inputs, progress)
        outcomes.append(outcome)
        reports[(t.model, t.stage)] = body
        cards[(t.model, t.stage)] = card
    return Evaluation(pull.head_sha, (), tuple(outcomes), reports, cards)


def publish_pull(
    ctx: BotContext,
    pull: PullRequest,
    evaluation: Evaluation,
    actors: Sequence[str] = (),
    files: Sequence[str] | None = None,
) -> PullValidation:
    """Post what an evaluation found: the report comments, the check run with the bot's record, the approvals,
    and a rollback's self-merge. The plan is computed again here from the base (no model is loaded); an
    evaluation of another head, or one that lacks a transition's evidence, fails."""
    people = _actors(ctx, pull, actors)
    if evaluation.head_sha != pull.head_sha:
        return _refuse(
            ctx,
            pull,
            [f"the evaluation is of {evaluation.head_sha[:12]}, not of the head {pull.head_sha[:12]}: validate again"],
            people,
        )
    if evaluation.refusals:
        return _refuse(ctx, pull, evaluation.refusals, people)
    if files is None:
        files = ctx.forge.pull_files(pull.number)
    if not touches_registry(files):
        # Nothing for the bot to judge; a result all the same, so that a branch protection requiring this check
        # does not wait for ever on pull requests that leave the registry alone.
        summary = f"This pull request changes neither {REGISTRY_FILE} nor {POLICY_DIR}/: nothing to validate."
        kept = Record(pull.head_sha, people, status=Status.SKIPPED.value, verdict="No registry change")
        ctx.forge.set_check_run(
            pull.head_sha, CHECK, "neutral", "No registry change", with_state(summary, kept.as_state()), ctx.run_url
        )
        return PullValidation(Status.SKIPPED, summary)
    planned = plan_pull(ctx, pull, files)
    if isinstance(planned, list):
        return _refuse(ctx, pull, planned, people)
    result = planned.plan
    if not result.ok:
        return _refuse(ctx, pull, result.all_refusals, people)
    found = {(o.model, o.stage): o for o in evaluation.outcomes}
    outcomes: list[StepOutcome] = []
    for step in result.steps:
        t = step.transition
        if t.to_version is None or not step.gates.names:  # decided by the plan alone: nothing handed over is needed
            outcomes.append(_no_evidence_needed(step))
            continue
        outcome = found.get((t.model, t.stage))
        body = evaluation.reports.get((t.model, t.stage))
        if outcome is None or outcome.version != t.to_version:
            outcome = StepOutcome(
                t.model, t.stage, t.to_version, Status.FAIL, f"{t}: the evaluation brought no evidence for it"
            )
        elif body is None:
            outcome = replace(outcome, status=Status.FAIL, verdict=f"{t}: the evaluation brought no report")
        else:
            ctx.forge.upsert_comment(pull.number, marker(t.model, t.stage, REPORT), body)
            card = evaluation.cards.get((t.model, t.stage))
            if card is not None:  # presentation only: nothing is read back from a body others can edit
                text = render("pr_card.md.j2", card=card, outcome=outcome)
                ctx.forge.set_pull_section(pull.number, f"{t.model}:{t.stage}:card", text)
        outcomes.append(outcome)
    status = _worst([o.status for o in outcomes])
    inconclusive = {(o.model, o.stage) for o in outcomes if o.status == Status.INCONCLUSIVE}
    summary = render("validation_summary.md.j2", outcomes=outcomes, plan=result, head_sha=pull.head_sha)
    title = outcomes[0].verdict if len(outcomes) == 1 else f"{len(outcomes)} transitions: {status.value}"
    kept = Record(
        pull.head_sha,
        people,
        frozenset(inconclusive),
        status=status.value,
        verdict=outcomes[0].verdict if outcomes else status.value,
    )
    ctx.forge.set_check_run(
        pull.head_sha, CHECK, CONCLUSIONS[status], title, with_state(summary, kept.as_state()), ctx.run_url
    )
    state = publish_approvals(ctx, pull, planned, inconclusive, people)
    merged = try_merge(ctx, pull, result, planned.policies, state, CONCLUSIONS[status])
    return PullValidation(status, summary, (), tuple(outcomes), state, result, merged)


def validate_or_request(
    ctx: BotContext, pull: PullRequest, files: Sequence[str] | None = None, actors: Sequence[str] = ()
) -> PullValidation | None:
    """Validate `pull` here, or (in Actions, `ctx.validate_by_dispatch`) ask the pull request workflow to: a job
    holding a write token never loads a model. None when it was asked for."""
    if ctx.validate_by_dispatch:
        request_validation(ctx, pull, actors)
        return None
    return validate_pull(ctx, pull, files=files, actors=actors)


_UNREAD: Any = object()


def ensure_validated(
    ctx: BotContext, pull: PullRequest, known: Record | None = _UNREAD, files: Sequence[str] | None = None
) -> PullValidation | None:
    """Validate `pull` (or ask for it) unless its head already has the bot's record, read from GitHub: a run
    killed after opening or updating the pull request, then re-run, finds it as it left it and finishes it. A
    validation asked for (the record pending) whose dispatch GitHub does not list (the run was killed between
    the two, or wrote the record before opening the pull request) is dispatched; one GitHub lists is left to its
    run. A pending record on a head this run made was written by this run before it opened the pull request:
    nothing was asked yet. Outside Actions (no dispatch), a pending record is a validation nobody finished: it
    runs here. None when nothing was validated here."""
    if known is _UNREAD:  # the caller did not read the record already
        known = record.read(ctx, pull.head_sha, validated_only=False)
    if known is None:
        return validate_or_request(ctx, pull, files=files)
    if not known.pending:
        return None
    if not ctx.validate_by_dispatch:
        return validate_pull(ctx, pull, files=files)
    if ctx.forge.made_by_this_run(pull.head_sha):
        request_validation(ctx, pull)
    elif not _validation_dispatched(ctx, pull):
        _dispatch_validation(ctx, pull)
    return None


def validate_or_finish(
    ctx: BotContext, pull: PullRequest, known: Record | None = _UNREAD, files: Sequence[str] | None = None
) -> PullValidation | None:
    """A pull request a run opened, or found open (a rollout step, a rollback, a revert), validated once: asked
    for or run unless its head has the bot's record (`ensure_validated`); once validated, finished here, in the
    job that may write (its approvals, and its merge where the policy lets it merge itself). A re-run of a run
    killed anywhere after opening it ends as that run would have."""
    if known is _UNREAD:
        known = record.read(ctx, pull.head_sha, validated_only=False)
    if known is not None and not known.pending and pull.state == "open":
        return finish_validated(ctx, pull, known, files)
    return ensure_validated(ctx, pull, known, files)


@dataclass(frozen=True)
class Asked:
    """The validation of a proposal: its result (None: asked for, to run in the pull request workflow), and
    whether an earlier run had validated this head or asked for it, for the same requester (`earlier`)."""

    validation: PullValidation | None
    earlier: bool = False


def validate_proposal(
    ctx: BotContext, pull: PullRequest, requester: str, unchanged: bool, files: Sequence[str] = (REGISTRY_FILE,)
) -> Asked:
    """Validate (or ask for the validation of) the pull request a run proposed for `requester`, once. Found
    unchanged, with the requester in the bot's record of its head, it was validated or asked for by an earlier
    run (one killed after that and re-run, or the same request again): that stands, and what the earlier run may
    have left is finished (the approvals; a dispatch GitHub does not list); nothing is asked for twice.
    Otherwise it is validated or asked for, the requester recorded as an author of the change."""
    if unchanged:
        known = record.read(ctx, pull.head_sha, validated_only=False)
        if known is not None and requester.lower() in known.actors:
            if not known.pending:
                finished = finish_validated(ctx, pull, known, files)
                if finished is not None:
                    return Asked(finished, earlier=True)
            elif ctx.validate_by_dispatch:
                ensure_validated(ctx, pull, known)
                return Asked(None, earlier=True)
    return Asked(validate_or_request(ctx, pull, files=files, actors=[requester]))


def validation_title(pull: PullRequest) -> str:
    """The title GitHub lists a dispatched validation of `pull`'s head under: the validation workflow's
    `run-name:` (.github/workflows/modelbot-pull-request.yml) for the inputs `_dispatch_validation` gives."""
    return f"modelbot validates #{pull.number} at {pull.head_sha}"


def _validation_dispatched(ctx: BotContext, pull: PullRequest) -> bool:
    """Whether GitHub lists a run of the validation workflow the bot dispatched for this pull request's head,
    known by its title, which names both: the commit a dispatch runs at is main's tip of that moment, which
    says nothing of the pull request and which main may have left since. When GitHub cannot say, no."""
    if ctx.forge.dispatched_by_this_run(ctx.validate_workflow, _validation_inputs(pull)):
        return True
    try:
        runs = ctx.forge.dispatched_runs(ctx.validate_workflow)
    except ForgeError:
        return False
    return any(run.title == validation_title(pull) for run in runs)


def _validation_inputs(pull: PullRequest) -> dict[str, str]:
    return {"task": "validate", "pull": str(pull.number), "head": pull.head_sha}


def _dispatch_validation(ctx: BotContext, pull: PullRequest) -> None:
    """Dispatch the validation of `pull`'s head, unless this run did already: a run that meets the same pull
    request twice (the schedule's sync finishing it, then its sweep finding it stale and pending, in either
    order) asks for one validation of a head."""
    inputs = _validation_inputs(pull)
    if not ctx.forge.dispatched_by_this_run(ctx.validate_workflow, inputs):
        ctx.forge.dispatch_workflow(ctx.validate_workflow, ctx.default_branch, inputs)


def request_validation(ctx: BotContext, pull: PullRequest, actors: Sequence[str] = ()) -> None:
    """Ask the pull request workflow to validate `pull` (its evaluation job loads the models with a token that
    cannot write). The check run is set in progress first, carrying who asked, so that no approval of theirs
    counts before the validation ends (written already, by this run before it opened the pull request or by
    the run it finishes: kept as it is, labels and all)."""
    known = record.read(ctx, pull.head_sha, validated_only=False)
    people = record.people(actors, known.actors if known else ())
    if known is None or not known.pending or people != known.actors:
        record.write_pending(ctx, pull.head_sha, people, known.labels if known is not None and known.pending else ())
    if ctx.bot_events_start_runs and ctx.forge.made_by_this_run(pull.head_sha):
        return  # under an app's identity, the push or opening of this head starts the pull request workflow
    _dispatch_validation(ctx, pull)


def refresh_approvals(ctx: BotContext, pull: PullRequest, files: Sequence[str] | None = None) -> Any:
    """On a review or a push: the approval state again, without re-running the evidence; and a rollback the
    policy lets merge itself is merged once that state and its validation allow."""
    planned = plan_pull(ctx, pull, files)
    if isinstance(planned, list):
        return None
    known = record.read(ctx, pull.head_sha, validated_only=False)
    if known is None or known.pending:  # not validated on this head (yet): every extra applies
        inconclusive = {(s.transition.model, s.transition.stage) for s in planned.plan.steps if s.gates.names}
    else:
        inconclusive = set(known.inconclusive)
    state = publish_approvals(ctx, pull, planned, inconclusive, known.actors if known else ())
    try_merge(ctx, pull, planned.plan, planned.policies, state)
    return state


def finish_validated(
    ctx: BotContext, pull: PullRequest, known: Record, files: Sequence[str] | None = None
) -> PullValidation | None:
    """A head the bot's check run says it validated: finish what a run killed after that check left (the
    approval state, its check run and comment, a rollback's merge; nothing is written where they stand), and
    the validation as that run would have answered it (None for a record older than the verdict)."""
    state = refresh_approvals(ctx, pull, files)
    if known.verdict is None and not known.refusals:
        return None
    status = Status(known.status or Status.FAIL.value)
    outcomes = () if known.verdict is None else (StepOutcome("", "", None, status, known.verdict),)
    return PullValidation(status, "", known.refusals, outcomes, state)


def publish_approvals(
    ctx: BotContext,
    pull: PullRequest,
    planned: PullPlan,
    inconclusive: set[tuple[str, str]],
    actors: Sequence[str] = (),
) -> Any:
    result = planned.plan
    base = planned.base.registry if planned.base is not None else None
    needed = approvals.rules(result, planned.head.registry, inconclusive, base)
    state = approvals.state(ctx.forge, pull, needed, planned.policies, ctx.bot_login, actors)
    anchor = (
        (result.steps[0].transition.model, result.steps[0].transition.stage)
        if result.steps
        else ("pull", str(pull.number))
    )
    approvals.publish(ctx, pull, state, anchor)
    return state
