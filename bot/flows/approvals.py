"""The approval state of a promotion PR, published as the `modelbot/approvals` check run (a commit status could
be posted by any writer; a check run is the bot's app's own) and one PR comment
kept up to date. The rules come from the plan (base-branch policy); people from roles and their teams."""

from __future__ import annotations

from collections.abc import Collection, Iterable, Mapping
from dataclasses import dataclass

from bot.approvals import ApprovalState, Review, approval_state
from bot.flows.context import BotContext
from bot.github.forge import Forge, PullRequest
from bot.plan import Plan
from bot.policy import OWNERS_ROLE, Approval, Policies
from bot.registry import Registry
from bot.texts import render

CONTEXT = "modelbot/approvals"
KIND = "approvals"


@dataclass(frozen=True)
class Rule:
    """One `{role, count}` to satisfy, under one policy; `label` tells apart the owners of different models and,
    in a change that spans policies, the same role of different policies. `models` are those the rule covers:
    a member must hold the role for each of them (a model's overrides may change who holds it)."""

    label: str
    role: str
    count: int
    policy: str
    owners: tuple[str, ...] = ()
    models: tuple[str, ...] = ()


def rules(
    plan: Plan, after: Registry, inconclusive: Collection[tuple[str, str]] = (), before: Registry | None = None
) -> list[Rule]:
    """Every approval a PR needs: each transition's, plus its inconclusive extras, plus a governance change's
    (the admin role; and the current owners of a model whose owners change). A model's owners are the base's
    (`before`): a change cannot name its own approvers; only a model new to the file has its owners from it."""
    models = {s.transition.model for s in plan.steps} | set(plan.owner_approvals)
    needed: dict[str, Rule] = {}

    def owners_of(model: str) -> tuple[str, ...]:
        known = before.models.get(model) if before is not None else None
        if known is not None:
            return known.owners
        return after.models[model].owners if model in after.models else ()

    def add(approval: Approval, policy: str, model: str | None) -> None:
        owners = owners_of(model) if model else ()
        label = approval.role
        if approval.role == OWNERS_ROLE and len(models) > 1 and model:
            label = f"{OWNERS_ROLE}:{model}"
        elif label in needed and needed[label].policy != policy:
            label = f"{approval.role}@{policy}"  # a role of one policy never approves for another
        current = needed.get(label)
        covered = tuple(dict.fromkeys((*(current.models if current else ()), *((model,) if model else ()))))
        count = max(approval.count, current.count if current else 0)
        needed[label] = Rule(
            label, approval.role, count, policy, owners if approval.role == OWNERS_ROLE else (), covered
        )

    for step in plan.steps:
        key = (step.transition.model, step.transition.stage)
        extra = step.inconclusive_approvals if key in inconclusive else ()
        for approval in (*step.approvals, *extra):
            add(approval, step.policy or "default", step.transition.model)
    for approval in plan.policy_change_approvals:
        add(approval, "default", None)
    for model in plan.owner_approvals:
        policy = before.models[model].policy if before is not None and model in before.models else "default"
        add(Approval(OWNERS_ROLE, 1), policy, model)
    return list(needed.values())


def members(forge: Forge, policies: Policies, rule: Rule, candidates: Iterable[str] | None = None) -> frozenset[str]:
    """Users of a role. Its teams are resolved through GitHub only for `candidates` (the reviewers) who are not
    members directly; with `candidates=None`, every team is resolved (cached by the adapter within a run)."""
    found: frozenset[str] | None = None
    for model in rule.models or (None,):
        role = policies.get(rule.policy, model).role_members(rule.role, rule.owners)
        people = {u.lower() for u in role.users}
        pending = None if candidates is None else {c.lower() for c in candidates} - people
        if pending is None or pending:
            for team in role.teams:
                org, slug = team.split("/", 1)
                people |= {m.lower() for m in forge.team_members(org, slug)}
        found = frozenset(people) if found is None else found & people
    return found or frozenset()


def teams(policies: Policies, rule: Rule) -> tuple[str, ...]:
    return tuple(f"@{t}" for t in policies.get(rule.policy).role_members(rule.role, rule.owners).teams)


def state(
    forge: Forge,
    pull: PullRequest,
    needed: Iterable[Rule],
    policies: Policies,
    bot_login: str,
    actors: Iterable[str] = (),
) -> ApprovalState:
    """The approval state; `actors` (who asked for the change, who pushed it) count as its authors."""
    needed = list(needed)
    reviews = [Review(r.author, r.state, r.commit_id or "", r.submitted_at or "") for r in forge.reviews(pull.number)]
    reviewers = {r.user for r in reviews}
    role_members: Mapping[str, frozenset[str]] = {r.label: members(forge, policies, r, reviewers) for r in needed}
    result = approval_state(
        reviews,
        tuple(Approval(r.label, r.count) for r in needed),
        role_members,
        pull.author,
        pull.head_sha,
        bots=frozenset({bot_login.lower()}),
        authors=frozenset(a.lower() for a in actors),
    )
    from dataclasses import replace

    return replace(
        result,
        rules=tuple(
            replace(rs, may_approve=(*rs.may_approve, *teams(policies, rule)))
            for rs, rule in zip(result.rules, needed, strict=True)
        ),
    )


def publish(ctx: BotContext, pull: PullRequest, result: ApprovalState, anchor: tuple[str, str]) -> None:
    """The one comment naming who may still approve, then the check run on the head SHA; each is written only
    when it says something else. Whether the check run must change is read from the check run itself (the
    bot's own, read with its record: no request), never from the comment, which any writer may edit: an edit
    to the text the bot is about to write would otherwise keep a withdrawn approval's check green."""
    from bot.github.markers import marker

    mark = marker(anchor[0], anchor[1], KIND)
    body = render("approvals.md.j2", state=result, head_sha=pull.head_sha)
    conclusion = "success" if result.approved else ("failure" if result.blocked_by else None)
    sha = pull.head_sha
    if ctx.forge.check_run_summary(sha, CONTEXT) == (conclusion, body):
        ctx.forge.upsert_comment(pull.number, mark, body)  # the check run stands; the comment catches up if need be
        return
    # The comment first, by the id the check run keeps (no listing of the comments), then the check run with that
    # id: a run killed between the two finds the check run saying something else, and writes both again. The id
    # is read only from the bot's own check run; under the bare workflow token any workflow of the repository
    # posts as the same app and could plant another id, but such a workflow's token could edit that comment
    # itself, so following the id grants it nothing.
    known = ctx.forge.check_run_external_id(sha, CONTEXT)
    posted = ctx.forge.upsert_comment(pull.number, mark, body, int(known) if known and known.isdigit() else None)
    ctx.forge.set_check_run(sha, CONTEXT, conclusion, result.description, body, ctx.run_url, str(posted.comment.id))
