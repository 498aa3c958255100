"""plan(before, after, policies): what a change to models.yaml requires, or why it is refused. No I/O.

The caller supplies everything that needs the outside world: the base branch's policies, the current time,
and when each (model, stage) got the version it holds in the base revision (for soak times).
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import Any

from bot.errors import InvalidFile
from bot.policy import Approval, Policies, Policy
from bot.policy.deploy import DeployPolicy
from bot.policy.gates import Gates
from bot.policy.model import uri_problem
from bot.registry.diff import Served, Transition, VersionChange, diff, rollout_steps, version_changes
from bot.registry.model import Model, Registry

EnteredAt = Mapping[tuple[str, str], datetime]
ROLLBACK_KINDS = ("rollback", "demote")  # kinds that take a stage back: the policy's rollback rules apply
# Only a return to a version that served the stage before (or emptying it) may merge itself, never a promotion.
SELF_MERGING_KINDS = ("rollback", "demote")


@dataclass(frozen=True)
class Step:
    """One transition and what it requires: gates, approvals and deployment; or its refusals."""

    transition: Transition
    policy: str | None
    gates: Gates = field(default_factory=Gates)
    approvals: tuple[Approval, ...] = ()
    inconclusive_approvals: tuple[Approval, ...] = ()
    deploy: DeployPolicy = field(default_factory=DeployPolicy)
    refusals: tuple[str, ...] = ()

    @property
    def ok(self) -> bool:
        return not self.refusals

    def as_dict(self) -> dict[str, Any]:
        return {
            **self.transition.as_dict(),
            "policy": self.policy,
            "ok": self.ok,
            "refusals": list(self.refusals),
            "gates": self.gates.as_dict(),
            "approvals": [a.as_dict() for a in self.approvals],
            "inconclusive_approvals": [a.as_dict() for a in self.inconclusive_approvals],
            "deploy": self.deploy.as_dict(),
        }


@dataclass(frozen=True)
class Plan:
    steps: tuple[Step, ...]
    version_changes: tuple[VersionChange, ...] = ()
    policy_change_approvals: tuple[Approval, ...] = ()
    refusals: tuple[str, ...] = ()
    governance: tuple[str, ...] = ()  # what the change does to authority (policies, owners, evaluation...)
    owner_approvals: tuple[str, ...] = ()  # models whose current owners must approve (their owners change)

    @property
    def ok(self) -> bool:
        return not self.refusals and all(step.ok for step in self.steps)

    @property
    def is_governance_change(self) -> bool:
        return bool(self.governance)

    @property
    def all_refusals(self) -> list[str]:
        return [
            *self.refusals,
            *(f"{s.transition.model} {s.transition.stage}: {r}" for s in self.steps for r in s.refusals),
        ]

    def as_dict(self) -> dict[str, Any]:
        return {
            "ok": self.ok,
            "transitions": [s.as_dict() for s in self.steps],
            "registered": [f"{c.model} {c.version}" for c in self.version_changes if c.change == "registered"],
            "policy_change_approvals": [a.as_dict() for a in self.policy_change_approvals],
            "governance": list(self.governance),
            "owner_approvals": list(self.owner_approvals),
            "refusals": self.all_refusals,
        }


def _fmt(delta: timedelta) -> str:
    minutes = int(delta.total_seconds() // 60)
    hours, minutes = divmod(minutes, 60)
    return f"{hours}h{minutes:02d}m" if hours else f"{minutes}m"


def _promotion_refusals(
    t: Transition, policy: Policy, before: Registry | None, now: datetime, entered_at: EnteredAt
) -> list[str]:
    stage = policy.stage(t.stage)
    previous = policy.previous_stage(t.stage)
    refusals: list[str] = []
    if previous is None:
        return refusals
    old_model = before.model(t.model) if before else None
    held_previous = old_model is not None and old_model.stages.get(previous) == t.to_version
    if not stage.allow_skip and not held_previous:
        refusals.append(
            f"version {t.to_version} must serve '{previous}' before '{t.stage}' "
            f"(the policy '{policy.name}' does not allow skipping a stage)"
        )
    if stage.soak and held_previous:
        entered = entered_at.get((t.model, previous))
        if entered is None:
            refusals.append(
                f"cannot tell since when version {t.to_version} serves '{previous}'; "
                f"'{t.stage}' needs a soak of {_fmt(stage.soak)} there"
            )
        elif now - entered < stage.soak:
            refusals.append(
                f"version {t.to_version} has served '{previous}' for {_fmt(now - entered)}; "
                f"'{t.stage}' needs {_fmt(stage.soak)} (ready at {(entered + stage.soak).isoformat()})"
            )
    return refusals


def plan_step(
    t: Transition, policies: Policies, before: Registry | None, after: Registry, now: datetime, entered_at: EnteredAt
) -> Step:
    # Which policy governs a model is the base's word: a change that moves a model onto another policy is a
    # governance change, judged under the rules the model has today.
    model = (before.model(t.model) if before else None) or after.model(t.model)
    assert model is not None
    try:
        policy = policies.resolve(model)
    except InvalidFile as exc:
        return Step(t, model.policy, refusals=(exc.problems[0].message,))
    if not policy.has_stage(t.stage):
        return Step(
            t,
            policy.name,
            refusals=(f"stage '{t.stage}' is not in policy '{policy.name}' (stages: {', '.join(policy.stage_names)})",),
        )
    stage = policy.stage(t.stage)
    refusals: list[str] = []
    freeze = policy.frozen(t.stage, now)
    rollback = t.kind in ROLLBACK_KINDS
    if freeze and not (rollback and policy.rollback.during_freeze):
        refusals.append(f"'{t.stage}' is frozen: {freeze.reason}")
    if t.kind in ("promote", "new_model"):
        refusals.extend(_promotion_refusals(t, policy, before, now, entered_at))
    target = after.model(t.model)
    version = target.version(t.to_version) if target is not None and t.to_version is not None else None
    if version is not None and t.kind != "step" and (problem := uri_problem(version.uri, policy.model_uris)):
        refusals.append(f"version {version.id}: {problem}")
    gates = stage.gates if t.kind in ("promote", "new_model") else Gates()
    approvals = stage.approvals
    if rollback and t.to_version is not None:
        gates = policy.rollback.gates if policy.rollback.gates is not None else stage.gates
    if rollback or t.kind == "step":  # a step moves traffic to a version approved for the stage: operators decide
        approvals = policy.rollback.approvals if policy.rollback.approvals is not None else stage.approvals
    if t.kind == "step" and stage.deploy.rollout.approvals is not None:
        approvals = stage.deploy.rollout.approvals
    return Step(
        transition=t,
        policy=policy.name,
        gates=gates,
        approvals=approvals,
        inconclusive_approvals=stage.inconclusive_approvals if gates.names else (),
        deploy=stage.deploy,
        refusals=tuple(refusals),
    )


def plan(
    before: Registry | None,
    after: Registry,
    policies: Policies,
    *,
    now: datetime,
    entered_at: EnteredAt | None = None,
    head_policies: Policies | None = None,
    served: Served | None = None,
    changed_policy_files: tuple[str, ...] = (),
) -> Plan:
    """The plan of a change. `policies` are the base branch's; `head_policies` those the change proposes;
    `served` the versions each (model, stage) held along the base branch's history (without it, no move is a
    rollback); `changed_policy_files` the files under policies/ the change touches."""
    transitions = [*diff(before, after, served or {}), *rollout_steps(before, after)]
    steps = tuple(plan_step(t, policies, before, after, now, entered_at or {}) for t in transitions)
    changes = tuple(version_changes(before, after))
    refusals = [
        f"{c.model} version {c.version} was {c.change}; registered versions are immutable "
        "(register a new version instead)"
        for c in changes
        if c.change == "modified" or (c.change == "removed" and c.model in after.models)
    ]
    refusals.extend(rollout_refusals(before, after, served or {}))
    governance = list(governance_changes(before, after))
    if changed_policy_files or (head_policies is not None and head_policies.fingerprint() != policies.fingerprint()):
        governance.insert(0, f"edits {', '.join(changed_policy_files) or 'policies/'}")
    policy_approvals: tuple[Approval, ...] = ()
    if governance:
        admin = _admin_role(policies)
        if admin is None:
            refusals.append(
                "this change is a governance change (it "
                + "; it ".join(governance)
                + "), and the base policy names no admin_role to approve it"
            )
        else:
            policy_approvals = (Approval(admin, 1),)
    old_models = before.models if before else {}
    owners_changed = tuple(
        m for m, old in old_models.items() if m in after.models and after.models[m].owners != old.owners
    )
    return Plan(steps, changes, policy_approvals, tuple(refusals), tuple(governance), owners_changed)


def governance_changes(before: Registry | None, after: Registry) -> list[str]:
    """What a change does to authority in models.yaml: who owns a model, which policy governs it, and how it is
    evaluated all come from the base branch; a change to any of them is for the policy's admin role."""
    old_models = before.models if before else {}
    out: list[str] = []
    for name, model in after.models.items():
        old = old_models.get(name)
        if old is None:
            out.append(f"adds the model {name} (its owners, policy and evaluation settings)")
            continue
        out.extend(f"changes the {what} of {name}" for what in _authority_fields(old, model))
    out.extend(f"removes the model {name}" for name in old_models if name not in after.models)
    return out


def _authority_fields(old: Model, new: Model) -> list[str]:
    fields = []
    if old.owners != new.owners:
        fields.append("owners")
    if old.policy != new.policy:
        fields.append("policy")
    if old.evaluation != new.evaluation:
        fields.append("evaluation settings")
    if old.task != new.task:  # the task decides the metrics, the baseline and the outputs a model is judged on
        fields.append("task")
    return fields


def _admin_role(policies: Policies) -> str | None:
    from bot.policy import DEFAULT_POLICY

    names = [DEFAULT_POLICY] if DEFAULT_POLICY in policies.raw else list(policies.names)
    for name in names:
        admin = policies.get(name).admin_role
        if admin:
            return admin
    return None


def rollout_refusals(before: Registry | None, after: Registry, served: Served) -> list[str]:
    """A rollout state the change writes may route traffic (weights, a shadow, a preview, a fallback) only to the
    version the stage holds after it, the one it held before, or one that served the stage before: moving
    traffic is an operator's step, never a way to serve a version that was not promoted to the stage."""
    out = []
    for name, model in after.models.items():
        old = before.model(name) if before else None
        for stage, state in model.deployment.items():
            if old is not None and old.deployment.get(stage) == state:
                continue
            allowed = {
                model.stages.get(stage),
                old.stages.get(stage) if old else None,
                *served.get((name, stage), frozenset()),
            }
            referenced = [
                *map(str, state.get("traffic", {}) or {}),
                *(str(state[k]) for k in ("shadow", "preview", "fallback") if state.get(k) is not None),
            ]
            for version in dict.fromkeys(v for v in referenced if v not in allowed):
                out.append(
                    f"{name} {stage}: the rollout state sends traffic to version {version}, which neither "
                    f"serves nor served '{stage}'; promote it to '{stage}' first"
                )
    return out
