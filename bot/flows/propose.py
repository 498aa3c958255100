"""Propose a promotion on GitHub: the plan against the default branch, then one pull request per (model, stage)
holding the one-line edit of models.yaml. A refused plan opens nothing and says why."""

from __future__ import annotations

from dataclasses import dataclass, field

from bot.errors import ModelbotError, names
from bot.flows import record
from bot.flows.context import BotContext, policies_at, registry_at, served_history, soak_clock
from bot.github.forge import BaseTip, PromotionPR
from bot.plan import Plan, Step, plan
from bot.registry.edit import set_stage
from bot.registry.model import Model, Version
from bot.revision import RegistryAt
from bot.texts import render
from bot.workspace import REGISTRY_FILE

LABEL = "promotion"


@dataclass(frozen=True)
class ProposeResult:
    model: str
    version: str
    stage: str
    refusals: tuple[str, ...] = ()
    pull: PromotionPR | None = None
    plan: Plan | None = None
    notes: tuple[str, ...] = field(default=())

    @property
    def ok(self) -> bool:
        return not self.refusals and self.pull is not None


def title(model: str, version: str, stage: str) -> str:
    return f"Promote {model} {version} to {stage}"


def labels(model: str, stage: str) -> list[str]:
    return [LABEL, f"model:{model}", f"stage:{stage}"]


def body(
    model: Model,
    candidate: Version,
    stage: str,
    step: Step,
    requested_by: str | None,
    source: str | None,
    run_url: str | None,
) -> str:
    champion_id = model.stages.get(stage)
    return render(
        "promotion_pr.md.j2",
        model=model,
        candidate=candidate,
        champion=model.version(champion_id) if champion_id else None,
        stage=stage,
        step=step,
        requested_by=requested_by,
        source=source,
        run_url=run_url,
        file=REGISTRY_FILE,
    )


def _tip(ctx: BotContext, ref: str) -> BaseTip | None:
    """The base commit and tree from the run's checkout: the promotion commit goes on the very revision the
    plan was made against, and GitHub need not be asked for the branch."""
    if ctx.workspace is None:
        return None
    from bot import gitio

    return BaseTip(ref, gitio.tree(ctx.workspace, ref))


def base_revision(ctx: BotContext) -> RegistryAt:
    """models.yaml on the default branch, at the workspace's commit when the run has a checkout of it."""
    ref = ctx.default_branch
    if ctx.workspace is not None:
        from bot import gitio

        ref = gitio.resolve(ctx.workspace, "HEAD")
    base = registry_at(ctx, ref)
    if base is None:
        raise ModelbotError(f"there is no {REGISTRY_FILE} on {ctx.default_branch}")
    return base


def propose(
    ctx: BotContext,
    model_name: str,
    version: str,
    stage: str,
    *,
    requested_by: str | None = None,
    source: str | None = None,
) -> ProposeResult:
    base = base_revision(ctx)
    model = base.registry.model(model_name)
    if model is None:
        return ProposeResult(
            model_name,
            version,
            stage,
            (f"model '{model_name}' is not in {REGISTRY_FILE}; known: {names(base.registry.models)}",),
        )
    candidate = model.version(version)
    if candidate is None:
        return ProposeResult(
            model_name,
            version,
            stage,
            (
                f"version {version} of '{model_name}' is not registered; registered: "
                f"{names([v.id for v in model.versions], 30)}",
            ),
        )
    if model.stages.get(stage) == candidate.id:
        return ProposeResult(model_name, version, stage, (f"{model_name} {stage} already serves version {version}",))
    new_text, after = set_stage(base.text, model_name, stage, candidate.id)
    policies = policies_at(ctx, base.ref, [model.policy])
    keys = [(model_name, s) for s in model.stages]
    result = plan(
        base.registry,
        after,
        policies,
        now=ctx.now,
        entered_at=soak_clock(ctx, base, keys),
        served=served_history(ctx, base, keys),
    )
    if not result.ok:
        return ProposeResult(model_name, version, stage, tuple(result.all_refusals), plan=result)
    [step] = result.steps
    text = body(model, candidate, stage, step, requested_by, source, ctx.run_url)
    wanted = labels(model_name, stage)

    # Who asked and the labels, on the new head before a pull request shows it: a run killed after opening it
    # leaves them where its re-run and the schedule's sweep read them (bot/flows/record.py), and a re-run of one
    # killed before finds them on the branch's commit, which it keeps (branches.point_branch).
    pull = ctx.forge.promotion_pr(
        model_name,
        stage,
        {REGISTRY_FILE: new_text},
        title(model_name, candidate.id, stage),
        text,
        base=ctx.default_branch,
        labels=wanted,
        base_tip=_tip(ctx, base.ref),
        on_head=record.recorder(ctx, [requested_by] if requested_by else []),
    )
    if pull.action != "unchanged":
        ctx.remember(REGISTRY_FILE, pull.pull.head_sha, new_text)
    return ProposeResult(model_name, candidate.id, stage, pull=pull, plan=result)
