"""Rollout strategies as pure functions: the next deployment state from the current one and the policy's `deploy`.

A state is what models.yaml keeps under `deployment.<stage>` (strategy, step, traffic, shadow, mirror_percent,
preview, sticky_key, fallback). The version a stage holds in `stages` is the *candidate*; the other version the
state names is the *stable* one still serving. A rollout is complete when the candidate takes all traffic and
nothing is shadowed or previewed. Rollbacks and promotions into an empty stage are always direct: there is
nothing to compare against, and restoring service must not wait for a canary.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

from bot.deploy.base import Fallback
from bot.errors import RefusedError
from bot.policy.deploy import SHADOW_STEP, STRATEGIES, DeployPolicy
from bot.registry.model import version_key


@dataclass(frozen=True)
class Rollout:
    """The serving state of one stage: who gets which share of traffic, and what is shadowed or previewed."""

    strategy: str
    candidate: str
    stable: str | None = None
    step: int | None = None
    traffic: Mapping[str, float] = field(default_factory=dict)
    shadow: str | None = None
    mirror_percent: float | None = None
    preview: str | None = None
    sticky_key: str | None = None
    fallback: str | None = None

    @property
    def candidate_percent(self) -> float:
        return float(self.traffic.get(self.candidate, 0.0))

    @property
    def complete(self) -> bool:
        return self.candidate_percent >= 100 and self.shadow is None and self.preview is None

    def as_state(self) -> dict[str, Any]:
        """The models.yaml `deployment.<stage>` value (version ids as integers where they are numbers)."""
        state: dict[str, Any] = {"strategy": self.strategy}
        if self.step is not None:
            state["step"] = self.step
        state["traffic"] = {_id(v): _number(w) for v, w in self.traffic.items()}
        for key in ("shadow", "preview", "fallback"):
            value = getattr(self, key)
            if value is not None:
                state[key] = _id(value)
        if self.mirror_percent is not None:
            state["mirror_percent"] = _number(self.mirror_percent)
        if self.sticky_key is not None:
            state["sticky_key"] = self.sticky_key
        return state

    def describe(self) -> str:
        if self.complete:
            return f"{self.candidate} serves 100%"
        if self.shadow is not None:
            return f"{self.candidate} shadows {self.stable} ({_number(self.mirror_percent or 0)}% mirrored)"
        if self.preview is not None:
            return f"{self.candidate} on preview, {self.stable} serves 100%"
        share = ", ".join(f"{v}: {_number(w)}%" for v, w in self.traffic.items())
        return f"{self.strategy} step {self.step}: {share}" if self.step is not None else f"{self.strategy}: {share}"


def _id(version: str) -> str | int:
    return int(version) if version.isdigit() and not version.startswith("0") else version


def _number(value: float) -> float | int:
    return int(value) if float(value).is_integer() else float(value)


def canary_steps(deploy: DeployPolicy) -> tuple[float | str, ...]:
    """The candidate's traffic share at each step (`shadow`: mirrored only); the last step is always 100."""
    return deploy.rollout.canary_steps


def direct(candidate: str, fallback: str | None = None, strategy: str = "direct") -> Rollout:
    return Rollout(strategy, candidate, traffic={candidate: 100.0}, fallback=fallback)


def start(deploy: DeployPolicy, kind: str, previous: str | None, candidate: str | None) -> Rollout | None:
    """The first state after a stage changed to `candidate` (None: nothing serves any more)."""
    if candidate is None:
        return None
    strategy = deploy.strategy
    if kind == "rollback" or previous is None or previous == candidate:
        return direct(candidate)
    fallback = previous if deploy.fallback.version == "previous" else None
    if strategy == "canary":
        return _canary_step(deploy, candidate, previous, 0, fallback)
    if strategy == "shadow":
        return _shadowing("shadow", deploy, candidate, previous, fallback)
    if strategy == "blue-green":
        return Rollout(
            "blue-green", candidate, previous, traffic={previous: 100.0}, preview=candidate, fallback=fallback
        )
    if strategy == "ab":
        return Rollout(
            "ab",
            candidate,
            previous,
            traffic=_split(previous, candidate, deploy.challenger_percent),
            sticky_key=deploy.sticky_key,
            fallback=fallback,
        )
    return direct(candidate, fallback)


def _shadowing(
    strategy: str, deploy: DeployPolicy, candidate: str, stable: str, fallback: str | None, step: int | None = None
) -> Rollout:
    return Rollout(
        strategy,
        candidate,
        stable,
        step=step,
        traffic={stable: 100.0},
        shadow=candidate,
        mirror_percent=deploy.rollout.mirror_percent,
        fallback=fallback,
    )


def _split(stable: str, candidate: str, share: float) -> dict[str, float]:
    if share >= 100:
        return {candidate: 100.0}
    return {stable: 100.0 - share, candidate: share}


def _canary_step(deploy: DeployPolicy, candidate: str, stable: str, step: int, fallback: str | None) -> Rollout:
    share = canary_steps(deploy)[step]
    if share == SHADOW_STEP:
        return _shadowing("canary", deploy, candidate, stable, fallback, step)
    traffic = _split(stable, candidate, float(share))
    return Rollout("canary", candidate, stable, step=step, traffic=traffic, fallback=fallback)


def advance(rollout: Rollout, deploy: DeployPolicy) -> Rollout:
    """The next step: a canary's next weight, or the switch of shadow, blue-green and ab to the candidate."""
    if rollout.complete:
        raise RefusedError(f"the rollout of version {rollout.candidate} is complete; there is no next step")
    if rollout.strategy == "canary" and rollout.stable is not None:
        steps = canary_steps(deploy)
        following = min((rollout.step or 0) + 1, len(steps) - 1)
        return _canary_step(deploy, rollout.candidate, rollout.stable, following, rollout.fallback)
    return Rollout(
        rollout.strategy,
        rollout.candidate,
        rollout.stable,
        step=rollout.step,
        traffic={rollout.candidate: 100.0},
        fallback=rollout.fallback,
    )


def from_state(state: Mapping[str, Any] | None, candidate: str | None) -> Rollout | None:
    """Read a models.yaml deployment state for the stage's version; None when it describes another rollout
    (left over from before the stage last changed) or there is none."""
    if not state or candidate is None:
        return None
    traffic = {version_key(v): float(w) for v, w in (state.get("traffic") or {}).items()}
    shadow = _opt(state.get("shadow"))
    preview = _opt(state.get("preview"))
    if candidate not in traffic and candidate not in (shadow, preview):
        return None
    others = [v for v in traffic if v != candidate]
    stable = others[0] if others else None
    strategy = str(state.get("strategy", "direct"))
    if strategy not in STRATEGIES:
        return None
    mirror = state.get("mirror_percent")
    return Rollout(
        strategy,
        candidate,
        stable,
        step=state.get("step"),
        traffic=traffic,
        shadow=shadow,
        mirror_percent=float(mirror) if mirror is not None else None,
        preview=preview,
        sticky_key=state.get("sticky_key"),
        fallback=_opt(state.get("fallback")),
    )


def _opt(value: object) -> str | None:
    return None if value is None else version_key(value)


def fallback(deploy: DeployPolicy, rollout: Rollout | None) -> Fallback:
    """The stage's fallback for the manifests: the state's failover version and the policy's constant/timeout."""
    section = deploy.fallback
    version = rollout.fallback if rollout is not None else None
    if version is None and rollout is not None and rollout.stable is not None and section.version == "previous":
        version = rollout.stable
    return Fallback(version=version, constant=section.constant, timeout_ms=section.timeout_ms)


def target(
    deploy: DeployPolicy,
    kind: str,
    previous: str | None,
    candidate: str | None,
    state_before: Mapping[str, Any] | None,
    state_after: Mapping[str, Any] | None,
) -> Rollout | None:
    """The state to deploy for one (model, stage) after a change.

    `kind` is the transition's kind, or `step` when only the deployment state changed. A state written in the
    same change as the stage (a proposal that sets its first step) is taken as written; a state the change did
    not touch belongs to the rollout before it and is ignored, so the strategy starts afresh.
    """
    if kind != "step":
        written = from_state(state_after, candidate) if state_after != state_before else None
        return written or start(deploy, kind, previous, candidate)
    if candidate is None:
        return None
    if not state_after:
        return direct(candidate)
    found = from_state(state_after, candidate)
    if found is None:
        raise RefusedError(
            f"the deployment state {dict(state_after)} does not describe version {candidate}, which the stage holds"
        )
    return found
