"""Rollout analysis: is the candidate's live traffic good enough for the next step, compared with the stable
version over the same window?

A pure function of the window's numbers (`bot/deploy/traffic.py` reads them from the prediction log or from
Prometheus) and the policy's `rollout:` rules. Each gate passes only when its interval clears the threshold,
fails only when its interval lies beyond it, and is `inconclusive` in between or with too little traffic: the
step waits, it never promotes. As in Flagger and Argo Rollouts, a step is judged after its bake time, and a
rollout that outlives `max_duration` fails.

- error rate, relative: the Newcombe (hybrid score) interval of candidate minus stable error rate, with the
  one-sided two-proportion z-test's p-value reported; absolute: the candidate's Wilson interval;
- latency: p95 ratio candidate / stable, and the candidate's p95 (point estimates, on enough requests);
- shadow: the Wilson interval of the share of mirrored answers equal to the stable version's;
- A/B: the `/feedback` outcome (accuracy or mean outcome) per arm, a normal interval of the difference.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from datetime import timedelta

import numpy as np

from bot.deploy.strategies import Rollout
from bot.evidence import GateResult, Status
from bot.policy.deploy import OutcomeRule, RolloutPolicy
from bot.validation.intervals import one_sided_p, wilson, z_value


@dataclass(frozen=True)
class Arm:
    """What one version served over the window."""

    requests: int
    errors: int = 0
    p95_ms: float | None = None

    @property
    def error_rate(self) -> float:
        return self.errors / self.requests if self.requests else 0.0


@dataclass(frozen=True)
class Outcomes:
    """`/feedback` outcomes of one arm: how many, their sum and sum of squares (1/0 for right/wrong)."""

    count: int = 0
    total: float = 0.0
    squares: float = 0.0

    @property
    def mean(self) -> float:
        return self.total / self.count if self.count else 0.0

    @property
    def variance(self) -> float:
        if self.count < 2:
            return 0.0
        return max(0.0, (self.squares - self.count * self.mean**2) / (self.count - 1))


@dataclass(frozen=True)
class Window:
    """Candidate and stable over the same window; `compared`/`agreed` count shadow answers matched with the
    stable version's answers to the same requests."""

    candidate: Arm
    stable: Arm | None = None
    compared: int = 0
    agreed: int = 0
    candidate_outcomes: Outcomes | None = None
    stable_outcomes: Outcomes | None = None


@dataclass(frozen=True)
class Timing:
    """How long the step and the whole rollout have run."""

    step: timedelta
    rollout: timedelta


def newcombe(e1: int, n1: int, e2: int, n2: int, level: float) -> tuple[float, float]:
    """Newcombe's hybrid score interval (method 10) for p1 - p2."""
    l1, u1 = wilson(e1, n1, level)
    l2, u2 = wilson(e2, n2, level)
    p1, p2 = e1 / n1, e2 / n2
    low = (p1 - p2) - math.sqrt((p1 - l1) ** 2 + (u2 - p2) ** 2)
    high = (p1 - p2) + math.sqrt((u1 - p1) ** 2 + (p2 - l2) ** 2)
    return low, high


def two_proportion_p(e1: int, n1: int, e2: int, n2: int) -> float:
    """One-sided p-value of the pooled two-proportion z-test that p1 > p2."""
    pooled = (e1 + e2) / (n1 + n2)
    se = math.sqrt(pooled * (1 - pooled) * (1 / n1 + 1 / n2))
    if se == 0:
        return 1.0 if e1 / n1 <= e2 / n2 else 0.0
    return float(one_sided_p(np.asarray((e1 / n1 - e2 / n2) / se)))


def _judge(low: float, high: float, passes_when_below: float) -> Status:
    """PASS when the whole interval is at or below the limit, FAIL when it is wholly above, else inconclusive."""
    if high <= passes_when_below:
        return Status.PASS
    if low > passes_when_below:
        return Status.FAIL
    return Status.INCONCLUSIVE


def _interval(low: float, high: float) -> list[float]:
    return [round(low, 6), round(high, 6)]


def _timing_gates(rules: RolloutPolicy, timing: Timing | None) -> list[GateResult]:
    if timing is None:
        return []
    out = []
    if rules.max_duration is not None and timing.rollout > rules.max_duration:
        out.append(
            GateResult(
                "duration",
                Status.FAIL,
                f"the rollout has run {_human(timing.rollout)}, longer than max_duration {_human(rules.max_duration)}",
                observed=timing.rollout.total_seconds(),
                threshold=rules.max_duration.total_seconds(),
            )
        )
    if timing.step < rules.bake:
        out.append(
            GateResult(
                "bake",
                Status.INCONCLUSIVE,
                f"the step has baked {_human(timing.step)} of {_human(rules.bake)}",
                observed=timing.step.total_seconds(),
                threshold=rules.bake.total_seconds(),
            )
        )
    return out


def _human(span: timedelta) -> str:
    seconds = int(span.total_seconds())
    for unit, size in (("d", 86400), ("h", 3600), ("m", 60)):
        if seconds >= size and seconds % size == 0:
            return f"{seconds // size}{unit}"
    return f"{seconds}s"


def analyse(rollout: Rollout, rules: RolloutPolicy, window: Window, timing: Timing | None = None) -> list[GateResult]:
    """The gates of one step. A failed duration stands alone (the rollout is over); an unbaked step waits."""
    timed = _timing_gates(rules, timing)
    if timed:
        return timed
    if rollout.shadow is not None:
        return _shadow(rollout, rules, window)
    return _served(rollout, rules, window)


def _shadow(rollout: Rollout, rules: RolloutPolicy, window: Window) -> list[GateResult]:
    if window.compared < rules.min_requests:
        return [
            GateResult(
                "traffic",
                Status.INCONCLUSIVE,
                f"only {window.compared} shadow answers of version {rollout.candidate} compared; "
                f"{rules.min_requests} needed (waiting)",
                observed=window.compared,
                threshold=rules.min_requests,
            )
        ]
    low, high = wilson(window.agreed, window.compared, rules.confidence)
    rate = window.agreed / window.compared
    status = Status.PASS if low >= rules.min_agreement else Status.FAIL if high < rules.min_agreement else None
    return [
        GateResult(
            "traffic",
            Status.PASS,
            f"{window.compared} shadow answers compared",
            observed=window.compared,
            threshold=rules.min_requests,
        ),
        GateResult(
            "agreement",
            status or Status.INCONCLUSIVE,
            f"the shadow agreed with the stable version on {rate:.1%} of requests "
            f"({rules.confidence:.0%} interval {low:.1%}–{high:.1%}; at least {rules.min_agreement:.1%} needed)",
            observed=round(rate, 6),
            threshold=rules.min_agreement,
            details={"interval": _interval(low, high), "compared": window.compared, "agreed": window.agreed},
        ),
    ]


def _served(rollout: Rollout, rules: RolloutPolicy, window: Window) -> list[GateResult]:
    cand, stable = window.candidate, window.stable
    compared = stable is not None and rollout.stable is not None and bool(rollout.traffic.get(rollout.stable))
    short = [("candidate", rollout.candidate, cand.requests)]
    if compared and stable is not None and rules.errors.max_increase is not None:
        short.append(("stable", rollout.stable or "", stable.requests))
    thin = [(who, version, n) for who, version, n in short if n < rules.min_requests]
    if thin:
        said = "; ".join(f"{n} requests to {who} version {version}" for who, version, n in thin)
        return [
            GateResult(
                "traffic",
                Status.INCONCLUSIVE,
                f"only {said}; {rules.min_requests} needed per version (waiting)",
                observed=min(n for _, _, n in thin),
                threshold=rules.min_requests,
            )
        ]
    results = [
        GateResult(
            "traffic",
            Status.PASS,
            ", ".join(f"{n} requests to {who} version {v}" for who, v, n in short),
            observed=cand.requests,
            threshold=rules.min_requests,
        )
    ]
    level = rules.confidence
    if compared and stable is not None and rules.errors.max_increase is not None:
        limit = rules.errors.max_increase
        low, high = newcombe(cand.errors, cand.requests, stable.errors, stable.requests, level)
        p_value = two_proportion_p(cand.errors, cand.requests, stable.errors, stable.requests)
        results.append(
            GateResult(
                "error_rate_vs_stable",
                _judge(low, high, limit),
                f"error rate {cand.error_rate:.2%} ({cand.errors}/{cand.requests}) vs stable "
                f"{stable.error_rate:.2%} ({stable.errors}/{stable.requests}); difference "
                f"{level:.0%} interval {low:+.2%} to {high:+.2%}, at most +{limit:.2%} allowed "
                f"(two-proportion test p = {p_value:.3g})",
                observed=round(cand.error_rate - stable.error_rate, 6),
                threshold=limit,
                details={"interval": _interval(low, high), "p_value": p_value},
            )
        )
    if rules.errors.max is not None:
        low, high = wilson(cand.errors, cand.requests, level)
        results.append(
            GateResult(
                "error_rate",
                _judge(low, high, rules.errors.max),
                f"{cand.errors} errors in {cand.requests} requests ({cand.error_rate:.2%}; {level:.0%} interval "
                f"{low:.2%}–{high:.2%}), at most {rules.errors.max:.2%} allowed",
                observed=round(cand.error_rate, 6),
                threshold=rules.errors.max,
                details={"interval": _interval(low, high)},
            )
        )
    results.extend(_latency(rules, cand, stable if compared else None))
    if rollout.strategy == "ab" and rules.outcome is not None:
        results.append(_outcome(rules.outcome, level, window))
    return results


def _latency(rules: RolloutPolicy, cand: Arm, stable: Arm | None) -> list[GateResult]:
    out = []
    if rules.latency.max_ratio is not None:
        bound = rules.latency.max_ratio
        if cand.p95_ms is None or stable is None or not stable.p95_ms:
            out.append(
                GateResult(
                    "p95_vs_stable", Status.INCONCLUSIVE, "no latency of both versions measured", threshold=bound
                )
            )
        else:
            ratio = cand.p95_ms / stable.p95_ms
            out.append(
                GateResult(
                    "p95_vs_stable",
                    Status.PASS if ratio <= bound else Status.FAIL,
                    f"p95 latency {cand.p95_ms:.1f} ms vs stable {stable.p95_ms:.1f} ms ({ratio:.2f}x; at most "
                    f"{bound:g}x)",
                    observed=round(ratio, 4),
                    threshold=bound,
                )
            )
    if rules.latency.max_ms is not None:
        bound = rules.latency.max_ms
        if cand.p95_ms is None:
            out.append(GateResult("p95_ms", Status.INCONCLUSIVE, "no latency measured", threshold=bound))
        else:
            out.append(
                GateResult(
                    "p95_ms",
                    Status.PASS if cand.p95_ms <= bound else Status.FAIL,
                    f"p95 latency {cand.p95_ms:.1f} ms (at most {bound:g} ms)",
                    observed=cand.p95_ms,
                    threshold=bound,
                )
            )
    return out


def mean_difference(a: Outcomes, b: Outcomes, level: float) -> tuple[float, float, float]:
    """(difference, low, high): the normal (Welch) interval of mean(a) - mean(b)."""
    diff = a.mean - b.mean
    se = math.sqrt(a.variance / a.count + b.variance / b.count)
    half = z_value(level) * se
    return diff, diff - half, diff + half


def _outcome(rule: OutcomeRule, level: float, window: Window) -> GateResult:
    cand = window.candidate_outcomes or Outcomes()
    stable = window.stable_outcomes or Outcomes()
    what = "labelled answers" if rule.metric == "accuracy" else "outcomes"
    if min(cand.count, stable.count) < rule.min_labels:
        return GateResult(
            "outcome",
            Status.INCONCLUSIVE,
            f"{cand.count} {what} for the challenger and {stable.count} for the control; {rule.min_labels} needed "
            "per arm (waiting)",
            observed=min(cand.count, stable.count),
            threshold=rule.min_labels,
        )
    diff, low, high = mean_difference(cand, stable, level)
    if rule.min_lift is not None:
        bound, goal = rule.min_lift, f"a lift of at least {rule.min_lift:+.3g}"
    else:
        bound, goal = -rule.non_inferiority, f"no worse than {-rule.non_inferiority:+.3g}"
    status = Status.PASS if low >= bound else Status.FAIL if high < bound else Status.INCONCLUSIVE
    return GateResult(
        "outcome",
        status,
        f"{rule.metric} {cand.mean:.4g} (challenger, n={cand.count}) vs {stable.mean:.4g} (control, "
        f"n={stable.count}); difference {diff:+.4g}, {level:.0%} interval {low:+.4g} to {high:+.4g}; {goal} needed",
        observed=round(diff, 6),
        threshold=bound,
        details={"interval": _interval(low, high), "challenger": cand.mean, "control": stable.mean},
    )
