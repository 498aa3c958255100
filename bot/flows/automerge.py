"""A rollback merges itself when the base branch's policy says `rollback.auto_merge: true`, its approvals (the
rollback rules) hold on the head commit and its validation passed there: restoring service should not wait
for someone to press a button. A rollout step merges itself likewise under the stage's `rollout.auto_merge`,
with the step's approvals, and only on a head the bot's own analysis passed (its `modelbot/rollout` check).

Only a change whose every transition returns a stage to a version that served it before qualifies, judged from the
plan (the base policy
against the change itself), never from a label anyone with triage rights can add. The merge is bound to the
head SHA that was judged. A merge made with the workflow's own token starts no workflow run, so the bot
dispatches the deploy workflow itself (`workflow_dispatch` is the one event such a token may start), unless
GitHub already lists a dispatched run of it at the merge commit: a run killed between dispatching and saying
so, then re-run, starts no second deploy.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING, Any, Literal

from bot.deploy.advance import ROLLOUT_CHECK
from bot.flows.record import CHECK
from bot.github.forge import ForgeError
from bot.github.markers import marker
from bot.plan import SELF_MERGING_KINDS, Plan, Step
from bot.policy import Policies
from bot.texts import say

if TYPE_CHECKING:
    from bot.flows.context import BotContext
    from bot.github.forge import PullRequest

DEPLOY_WORKFLOW = "modelbot-deploy.yml"

Result = Literal["merged", "waiting", "failed"]


@dataclass(frozen=True)
class AutoMerge:
    result: Result
    reason: str
    merge_sha: str | None = None
    deploy_dispatched: bool = False

    def as_dict(self) -> dict[str, Any]:
        return {
            "result": self.result,
            "reason": self.reason,
            "merge_sha": self.merge_sha,
            "deploy_dispatched": self.deploy_dispatched,
        }


def allowed(plan: Plan, policies: Policies) -> bool:
    """True when every transition of the change returns a stage to a version that served it before (the base
    branch's history says so), the change touches no authority, and every policy it falls under lets rollbacks
    merge themselves."""
    if not plan.ok or not plan.steps or plan.policy_change_approvals or plan.is_governance_change:
        return False
    if plan.version_changes or any(step.transition.kind not in (*SELF_MERGING_KINDS, "step") for step in plan.steps):
        return False

    def lets_it(step: Step) -> bool:
        if step.policy is None:
            return False
        policy = policies.get(step.policy, step.transition.model)
        if step.transition.kind == "step":
            return (
                policy.has_stage(step.transition.stage)
                and policy.stage(step.transition.stage).deploy.rollout.auto_merge
            )
        return policy.rollback.auto_merge

    return all(lets_it(step) for step in plan.steps)


def has_steps(plan: Plan) -> bool:
    return any(step.transition.kind == "step" for step in plan.steps)


def waiting_for(approved: bool, validation: str | None, sha: str, analysis: str | None = "success") -> str | None:
    """What the merge still waits for, or None when nothing. `analysis` is the bot's own analysis of a rollout
    step on this head (its `modelbot/rollout` check): a step anyone pushed, that the bot did not judge, waits."""
    missing = []
    if validation != "success":
        missing.append(f"its validation to pass on {sha[:12]} (it is {validation or 'not reported'})")
    if analysis != "success":
        missing.append(f"the bot's rollout analysis to pass on {sha[:12]} (it is {analysis or 'not reported'})")
    if not approved:
        missing.append("the approvals the policy requires")
    return " and ".join(missing) or None


def try_merge(
    ctx: BotContext, pull: PullRequest, plan: Plan, policies: Policies, approvals: Any, validation: str | None = None
) -> AutoMerge | None:
    """Merge the rollback `pull` and dispatch its deploy when it may; None when it is no self-merging rollback.
    `validation` is this run's conclusion on the head, when this run validated it."""
    if pull.state != "open" or not allowed(plan, policies):
        return None
    said = ctx.forge.find_comment(pull.number, marker("pull", str(pull.number), "automerge"))
    if said is not None and "**Merged by modelbot**" in said.body:
        # An earlier run merged, started the deploy and said so, then was killed; the event still calls the pull
        # request open. A comment can be edited by any writer, so GitHub's word decides, not the comment's.
        fresh = ctx.forge.pull_request(pull.number)
        if fresh.merged:
            return AutoMerge(
                "merged", "merged by an earlier run, which started the deploy workflow", fresh.merge_commit_sha
            )
    conclusion = validation if validation is not None else ctx.forge.check_conclusion(pull.head_sha, CHECK)
    analysis = ctx.forge.check_conclusion(pull.head_sha, ROLLOUT_CHECK) if has_steps(plan) else "success"
    missing = waiting_for(bool(approvals is not None and approvals.approved), conclusion, pull.head_sha, analysis)
    if missing is not None:
        return AutoMerge("waiting", f"merges itself once it has {missing}")
    try:
        sha = ctx.forge.merge_pull(
            pull.number, pull.head_sha, f"Merge pull request #{pull.number} from {pull.head_ref}", pull.title
        )
    except ForgeError as exc:
        outcome = AutoMerge("failed", f"the policy lets it merge itself, but GitHub refused: {exc}; merge it by hand")
        _say(ctx, pull, outcome)
        return outcome
    if ctx.bot_events_start_runs:  # an app's merge is a push GitHub announces: the deploy workflow runs on it
        outcome = AutoMerge("merged", f"merged as {sha[:12]}; its push starts the deploy workflow", sha, True)
        _say(ctx, pull, outcome)
        return outcome
    outcome = AutoMerge("merged", f"merged as {sha[:12]}; the deploy workflow was started", sha, True)
    if not _deploy_started(ctx, sha):
        try:
            ctx.forge.dispatch_workflow(ctx.deploy_workflow, ctx.default_branch, {"task": "deploy", "after": sha})
        except ForgeError as exc:
            outcome = AutoMerge(
                "merged",
                f"merged as {sha[:12]}, but the deploy workflow could not be started "
                f"({exc}): run it by hand with task `deploy` and after `{sha}`",
                sha,
            )
    _say(ctx, pull, outcome)
    return outcome


def _deploy_started(ctx: BotContext, sha: str) -> bool:
    """Whether GitHub lists a dispatched run of the deploy workflow at the merge commit `sha`: a run killed
    after merging and dispatching, then re-run, finds the merge done and must not start the deploy twice.
    When GitHub cannot say, the deploy is started (deploying a commit deployed before changes nothing)."""
    try:
        return bool(ctx.forge.dispatched_runs(ctx.deploy_workflow, sha))
    except ForgeError:
        return False


def _say(ctx: BotContext, pull: PullRequest, outcome: AutoMerge) -> None:
    body = say("automerge", merged=outcome.result == "merged", reason=outcome.reason, run_url=ctx.run_url)
    ctx.forge.upsert_comment(pull.number, marker("pull", str(pull.number), "automerge"), body)
