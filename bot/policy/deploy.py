"""A stage's `deploy:` and `rollout:` sections as typed, read-only values.

`deploy` says how a change reaches serving (strategy, deployers, alias, fallback, the live check); `rollout` says
how a progressive rollout decides its next step: the steps, the bake time, the minimum traffic, the thresholds
(relative to the stable version over the same window, and absolute), the queries and whether steps merge
themselves. Older policies put part of this under `deploy.canary` and `deploy.shadow`; those keys are read into
the same values, and `rollout` wins where both speak.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import timedelta
from typing import Any

from bot.policy.roles import Approval

STRATEGIES = ("direct", "canary", "shadow", "blue-green", "ab")
SHADOW_STEP = "shadow"
DEFAULT_CANARY_STEPS: tuple[float | str, ...] = (10.0, 50.0, 100.0)
DEFAULT_MIRROR_PERCENT = 100.0
DEFAULT_CHALLENGER_PERCENT = 50.0
DEFAULT_MIN_REQUESTS = 100
DEFAULT_MAX_ERROR_INCREASE = 0.01
DEFAULT_MIN_AGREEMENT = 0.95
DEFAULT_CONFIDENCE = 0.95
DEFAULT_DEPLOYERS = ("mlflow-alias",)


@dataclass(frozen=True)
class DeployerSpec:
    """One item of `deploy.deployers`: its type and its own settings (checked by the deployer catalog)."""

    kind: str
    settings: Mapping[str, Any] = field(default_factory=dict)


@dataclass(frozen=True)
class FallbackPolicy:
    version: str | None = None  # "previous": the stable version answers when the candidate cannot
    constant: Any = None
    timeout_ms: float | None = None


@dataclass(frozen=True)
class ErrorRule:
    """Candidate error rate: at most `max_increase` above the stable version's (a two-proportion comparison),
    and at most `max` in absolute terms."""

    max_increase: float | None = DEFAULT_MAX_ERROR_INCREASE
    max: float | None = None


@dataclass(frozen=True)
class LatencyRule:
    """Candidate p95 latency: at most `max_ratio` times the stable version's, and at most `max_ms`."""

    max_ratio: float | None = None
    max_ms: float | None = None


@dataclass(frozen=True)
class OutcomeRule:
    """A/B: the outcome from `/feedback` labels. `metric` is `accuracy` (prediction equals the label) or `mean`
    (the mean outcome, e.g. a conversion); the challenger may trail the control by at most `non_inferiority`
    (or must lead by `min_lift`), judged on at least `min_labels` labels per arm."""

    metric: str = "accuracy"
    min_labels: int = 100
    non_inferiority: float = 0.0
    min_lift: float | None = None


@dataclass(frozen=True)
class RolloutPolicy:
    steps: tuple[float | str, ...] = DEFAULT_CANARY_STEPS
    mirror_percent: float = DEFAULT_MIRROR_PERCENT
    bake: timedelta = timedelta(0)
    min_requests: int = DEFAULT_MIN_REQUESTS
    max_duration: timedelta | None = None
    confidence: float = DEFAULT_CONFIDENCE
    errors: ErrorRule = field(default_factory=ErrorRule)
    latency: LatencyRule = field(default_factory=LatencyRule)
    min_agreement: float = DEFAULT_MIN_AGREEMENT
    outcome: OutcomeRule | None = None
    queries: Mapping[str, str] = field(default_factory=dict)
    auto_merge: bool = False
    approvals: tuple[Approval, ...] | None = None  # None: the rollback rules' approvals, else the stage's

    @property
    def canary_steps(self) -> tuple[float | str, ...]:
        """The steps, the last always 100 % to the candidate."""
        last = self.steps[-1] if self.steps else None
        return self.steps if isinstance(last, float) and last >= 100 else (*self.steps, 100.0)


@dataclass(frozen=True)
class DeployPolicy:
    strategy: str = "direct"
    deployers: tuple[DeployerSpec, ...] = tuple(DeployerSpec(d) for d in DEFAULT_DEPLOYERS)
    alias: str | None = None
    challenger_percent: float = DEFAULT_CHALLENGER_PERCENT
    sticky_key: str | None = None
    fallback: FallbackPolicy = field(default_factory=FallbackPolicy)
    verify: bool = True
    live_check: LiveCheck | None = None
    rollout: RolloutPolicy = field(default_factory=RolloutPolicy)
    raw: Mapping[str, Any] = field(default_factory=dict, compare=False)

    @property
    def deployer_names(self) -> tuple[str, ...]:
        return tuple(d.kind for d in self.deployers)

    def as_dict(self) -> dict[str, Any]:
        """The section as the policy wrote it (for the plan's JSON)."""
        return dict(self.raw)


@dataclass(frozen=True)
class LiveCheck:
    """After a deploy, pinned rows go through the serving endpoint and must equal the offline predictions.
    `url` is a gateway (`modelbot serve`) or a KServe/Seldon endpoint answering MLflow's scoring protocol;
    `{model}` and `{stage}` in it are filled in."""

    url: str
    rows: int = 5
    timeout_s: float = 60.0
    tolerance: float = 1e-6


def _section(raw: Mapping[str, Any], name: str) -> Mapping[str, Any]:
    value = raw.get(name)
    return value if isinstance(value, Mapping) else {}


def _float(value: Any) -> float | None:
    return None if value is None else float(value)


def _step(value: Any) -> float | str:
    return SHADOW_STEP if value == SHADOW_STEP else float(value)


def parse(
    deploy: Mapping[str, Any],
    rollout: Mapping[str, Any],
    duration: Any,
    approvals: Any,
) -> DeployPolicy:
    """The typed sections from schema-valid mappings; `duration` parses `10m`-style values and `approvals` a
    list of `{role, count}` (the loader's own readers, passed in so this module stays free of them)."""
    canary = _section(deploy, "canary")
    shadow = _section(deploy, "shadow")
    ab = _section(deploy, "ab")
    fallback = _section(deploy, "fallback")
    analysis = _section(rollout, "analysis")
    errors = _section(analysis, "error_rate")
    latency = _section(analysis, "latency_p95")
    agreement = _section(analysis, "agreement")
    outcome = _section(analysis, "outcome")
    steps = rollout.get("steps", canary.get("steps", DEFAULT_CANARY_STEPS))
    legacy_max_error = canary.get("max_error_rate")
    error_rule = ErrorRule(
        max_increase=_float(errors["max_increase"])
        if "max_increase" in errors
        else (None if legacy_max_error is not None else DEFAULT_MAX_ERROR_INCREASE),
        max=_float(errors.get("max", legacy_max_error)),
    )
    verify = deploy.get("verify", True)
    live: LiveCheck | None = None
    if isinstance(verify, Mapping):
        live = (
            LiveCheck(
                str(verify["url"]),
                int(verify.get("rows", 5)),
                float(verify.get("timeout_s", 60.0)),
                float(verify.get("tolerance", 1e-6)),
            )
            if verify.get("url")
            else None
        )
    return DeployPolicy(
        strategy=str(deploy.get("strategy", "direct")),
        deployers=tuple(
            DeployerSpec(item) if isinstance(item, str) else DeployerSpec(str(item["type"]), dict(item))
            for item in deploy.get("deployers", DEFAULT_DEPLOYERS)
        ),
        alias=deploy.get("alias"),
        challenger_percent=float(ab.get("challenger_percent", DEFAULT_CHALLENGER_PERCENT)),
        sticky_key=ab.get("sticky_key"),
        fallback=FallbackPolicy(fallback.get("version"), fallback.get("constant"), _float(fallback.get("timeout_ms"))),
        verify=bool(verify.get("enabled", True)) if isinstance(verify, Mapping) else bool(verify),
        live_check=live,
        rollout=RolloutPolicy(
            steps=tuple(_step(s) for s in steps),
            mirror_percent=float(rollout.get("mirror_percent", shadow.get("mirror_percent", DEFAULT_MIRROR_PERCENT))),
            bake=duration(rollout["bake"]) if rollout.get("bake") else timedelta(0),
            min_requests=int(rollout.get("min_requests", canary.get("min_requests", DEFAULT_MIN_REQUESTS))),
            max_duration=duration(rollout["max_duration"]) if rollout.get("max_duration") else None,
            confidence=float(rollout.get("confidence", DEFAULT_CONFIDENCE)),
            errors=error_rule,
            latency=LatencyRule(
                _float(latency.get("max_ratio")), _float(latency.get("max_ms", canary.get("max_p95_ms")))
            ),
            min_agreement=float(agreement.get("min", shadow.get("min_agreement", DEFAULT_MIN_AGREEMENT))),
            outcome=OutcomeRule(
                str(outcome.get("metric", "accuracy")),
                int(outcome.get("min_labels", 100)),
                float(outcome.get("non_inferiority", 0.0)),
                _float(outcome.get("min_lift")),
            )
            if outcome
            else None,
            queries={str(k): str(v) for k, v in _section(rollout, "queries").items()},
            auto_merge=bool(rollout.get("auto_merge", False)),
            approvals=approvals(rollout["approvals"]) if "approvals" in rollout else None,
        ),
        raw=dict(deploy),
    )
