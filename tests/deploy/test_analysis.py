"""Rollout analysis: the candidate against the stable version over the same window, each gate decided by an
interval (checked against SciPy), thin or straddling evidence waiting and never passing; the numbers read from a
JSON Lines prediction log and from Prometheus's HTTP API (a real server on 127.0.0.1)."""

from __future__ import annotations

import json
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import numpy as np
import pytest
from scipy import stats

from bot.deploy import strategies
from bot.deploy.analysis import Arm, Outcomes, Timing, Window, analyse, mean_difference, newcombe, two_proportion_p
from bot.deploy.traffic import JsonLinesLog, Prometheus
from bot.errors import ModelbotError
from bot.evidence import Status, overall
from bot.policy.deploy import DeployPolicy, ErrorRule, LatencyRule, OutcomeRule, RolloutPolicy, parse
from bot.policy.load import _approvals, parse_duration

RULES = RolloutPolicy(min_requests=100, errors=ErrorRule(max_increase=0.02, max=0.05), latency=LatencyRule(1.5, 200))
CANARY = DeployPolicy(strategy="canary", rollout=RULES)
ROLLOUT = strategies.start(CANARY, "promote", "6", "7")
SHADOW = strategies.start(DeployPolicy(strategy="shadow"), "promote", "6", "7")
assert ROLLOUT is not None and SHADOW is not None


def wilson(successes: int, trials: int, level: float = 0.95) -> tuple[float, float]:
    found = stats.binomtest(successes, trials).proportion_ci(confidence_level=level, method="wilson")
    return float(found.low), float(found.high)


@pytest.mark.parametrize(("e1", "n1", "e2", "n2"), [(3, 412, 30, 3700), (0, 200, 0, 900), (25, 300, 4, 2700)])
def test_the_error_rate_difference_interval_is_newcombes_from_scipys_wilson_intervals(
    e1: int, n1: int, e2: int, n2: int
) -> None:
    (l1, u1), (l2, u2) = wilson(e1, n1), wilson(e2, n2)
    p1, p2 = e1 / n1, e2 / n2
    expected = (p1 - p2 - np.hypot(p1 - l1, u2 - p2), p1 - p2 + np.hypot(u1 - p1, p2 - l2))
    assert newcombe(e1, n1, e2, n2, 0.95) == pytest.approx(expected, abs=1e-9)


@pytest.mark.parametrize(("e1", "n1", "e2", "n2"), [(25, 300, 4, 2700), (3, 412, 30, 3700), (9, 500, 10, 500)])
def test_the_two_proportion_p_value_is_the_uncorrected_chi_square_test_halved(
    e1: int, n1: int, e2: int, n2: int
) -> None:
    _, p, _, _ = stats.chi2_contingency([[e1, n1 - e1], [e2, n2 - e2]], correction=False)
    one_sided = p / 2 if e1 / n1 > e2 / n2 else 1 - p / 2
    assert two_proportion_p(e1, n1, e2, n2) == pytest.approx(one_sided, rel=1e-9)


def test_the_outcome_difference_interval_uses_welchs_standard_error() -> None:
    rng = np.random.default_rng(5)
    a, b = rng.binomial(1, 0.8, 400).astype(float), rng.binomial(1, 0.74, 350).astype(float)
    diff, low, high = mean_difference(
        Outcomes(len(a), a.sum(), (a * a).sum()), Outcomes(len(b), b.sum(), (b * b).sum()), 0.95
    )
    welch = stats.ttest_ind(a, b, equal_var=False)
    se = (a.mean() - b.mean()) / welch.statistic
    assert diff == pytest.approx(a.mean() - b.mean())
    assert (low, high) == pytest.approx((diff - stats.norm.ppf(0.975) * se, diff + stats.norm.ppf(0.975) * se))


@pytest.mark.parametrize(
    ("window", "verdict", "failing"),
    [
        (Window(Arm(99, 0, 10.0), Arm(900, 0, 10.0)), Status.INCONCLUSIVE, []),  # one request short: wait
        (Window(Arm(99, 99, 900.0), Arm(900, 0, 10.0)), Status.INCONCLUSIVE, []),  # thin traffic decides nothing
        (Window(Arm(400, 0, 10.0), Arm(80, 0, 10.0)), Status.INCONCLUSIVE, []),  # the stable side is thin
        (Window(Arm(1000, 2, 40.0), Arm(9000, 20, 35.0)), Status.PASS, []),
        (Window(Arm(1000, 80, 40.0), Arm(9000, 20, 35.0)), Status.FAIL, ["error_rate_vs_stable", "error_rate"]),
        (Window(Arm(1000, 60, 40.0), Arm(9000, 20, 35.0)), Status.FAIL, ["error_rate_vs_stable"]),  # 6 %: maybe under 5
        (Window(Arm(120, 3, 40.0), Arm(1000, 10, 35.0)), Status.INCONCLUSIVE, []),  # the interval straddles +2 %
        (Window(Arm(1000, 2, 60.0), Arm(9000, 20, 35.0)), Status.FAIL, ["p95_vs_stable"]),
        (Window(Arm(1000, 2, 250.0), Arm(9000, 20, 200.0)), Status.FAIL, ["p95_ms"]),
        (Window(Arm(1000, 2, None), Arm(9000, 20, 35.0)), Status.INCONCLUSIVE, []),
    ],
)
def test_the_canary_gates_compare_with_the_stable_version(window: Window, verdict: Status, failing: list[str]) -> None:
    results = analyse(ROLLOUT, RULES, window)
    assert overall(results) == verdict
    assert [r.gate for r in results if r.status == Status.FAIL] == failing


def test_the_relative_gate_passes_only_when_its_whole_interval_clears_the_threshold() -> None:
    window = Window(Arm(1000, 12, 40.0), Arm(9000, 90, 35.0))
    [gate] = [g for g in analyse(ROLLOUT, RULES, window) if g.gate == "error_rate_vs_stable"]
    _, high = gate.details["interval"]
    assert high <= 0.02 and gate.status == Status.PASS
    _, p, _, _ = stats.chi2_contingency([[12, 988], [90, 8910]], correction=False)
    assert gate.details["p_value"] == pytest.approx(p / 2, rel=1e-6)


def test_an_unbaked_step_waits_and_an_overdue_rollout_fails() -> None:
    rules = RolloutPolicy(bake=timedelta(minutes=10), max_duration=timedelta(hours=2), min_requests=10)
    healthy = Window(Arm(1000, 0, 5.0), Arm(1000, 0, 5.0))
    waiting = analyse(ROLLOUT, rules, healthy, Timing(timedelta(minutes=9), timedelta(minutes=30)))
    assert overall(waiting) == Status.INCONCLUSIVE and [g.gate for g in waiting] == ["bake"]
    baked = analyse(ROLLOUT, rules, healthy, Timing(timedelta(minutes=10), timedelta(minutes=30)))
    assert overall(baked) == Status.PASS
    overdue = analyse(ROLLOUT, rules, healthy, Timing(timedelta(minutes=50), timedelta(hours=2, seconds=1)))
    assert overall(overdue) == Status.FAIL and [g.gate for g in overdue] == ["duration"]


@pytest.mark.parametrize(
    ("compared", "agreed", "verdict"),
    [(99, 99, Status.INCONCLUSIVE), (400, 396, Status.PASS), (400, 360, Status.FAIL), (200, 192, Status.INCONCLUSIVE)],
)
def test_shadow_agreement_is_judged_by_its_wilson_interval(compared: int, agreed: int, verdict: Status) -> None:
    rules = RolloutPolicy(min_agreement=0.95, min_requests=100)
    results = analyse(SHADOW, rules, Window(Arm(0), Arm(compared), compared, agreed))
    assert overall(results) == verdict
    if compared >= 100:
        assert results[1].details["interval"] == pytest.approx(wilson(agreed, compared), abs=1e-6)


def test_an_ab_test_is_decided_by_feedback_outcomes_with_a_minimum_sample() -> None:
    ab = strategies.start(DeployPolicy(strategy="ab"), "promote", "6", "7")
    assert ab is not None
    rules = RolloutPolicy(min_requests=10, outcome=OutcomeRule("accuracy", min_labels=200, non_inferiority=0.02))
    arms = Arm(1000, 0, 5.0), Arm(1000, 0, 5.0)

    def verdict(right: int, n: int, right_stable: int, n_stable: int) -> Status:
        window = Window(*arms, candidate_outcomes=Outcomes(n, right, right), stable_outcomes=Outcomes(
            n_stable, right_stable, right_stable))
        [gate] = [g for g in analyse(ab, rules, window) if g.gate == "outcome"]
        return gate.status

    assert verdict(150, 199, 160, 210) == Status.INCONCLUSIVE  # one arm short of 200 labels
    assert verdict(1700, 2000, 1680, 2000) == Status.PASS  # clearly no worse
    assert verdict(1400, 2000, 1700, 2000) == Status.FAIL  # clearly worse than -2 points
    assert verdict(160, 200, 166, 200) == Status.INCONCLUSIVE  # could be either


def test_policies_old_and_new_read_into_the_same_rules() -> None:
    old = parse({"strategy": "canary", "canary": {"steps": [5, 25], "min_requests": 50, "max_error_rate": 0.02,
                                                  "max_p95_ms": 80}, "shadow": {"min_agreement": 0.9}},
                {}, parse_duration, _approvals)
    assert old.rollout.canary_steps == (5.0, 25.0, 100.0)
    assert old.rollout.errors == ErrorRule(max_increase=None, max=0.02)  # the old absolute limit, as it was
    assert (old.rollout.min_requests, old.rollout.latency.max_ms, old.rollout.min_agreement) == (50, 80.0, 0.9)
    new = parse({"strategy": "canary"}, {"steps": ["shadow", 10, 50], "bake": "5m", "min_requests": 200,
                                         "analysis": {"error_rate": {"max_increase": 0.01}}, "auto_merge": True,
                                         "approvals": []}, parse_duration, _approvals)
    assert new.rollout.canary_steps == ("shadow", 10.0, 50.0, 100.0)
    assert (new.rollout.bake, new.rollout.auto_merge, new.rollout.approvals) == (timedelta(minutes=5), True, ())


def write(path: Path, records: list[dict[str, Any]]) -> Path:
    path.write_text("".join(json.dumps(r) + "\n" for r in records), encoding="utf-8")
    return path


def test_the_log_counts_both_versions_since_the_step_began(tmp_path: Path) -> None:
    start = datetime(2026, 11, 23, 10, tzinfo=UTC)
    latencies = np.random.default_rng(3).gamma(2.0, 10.0, size=120)
    records = [{"ts": (start + timedelta(seconds=i)).isoformat(), "model": "churn", "stage": "production",
                "version": "7", "latency_ms": float(lat), "status": 500 if i % 40 == 0 else 200}
               for i, lat in enumerate(latencies)]
    records += [{"ts": (start - timedelta(hours=1)).isoformat(), "model": "churn", "stage": "production",
                 "version": "7", "error": True}] * 30  # before the step: not counted
    records += [{"model": "churn", "stage": "staging", "version": "7", "error": True}] * 5  # another stage
    records += [{"model": "churn", "stage": "production", "version": "6", "latency_ms": 1.0, "error": i < 2}
                for i in range(50)]
    records += [{"model": "churn", "stage": "production", "version": "5", "error": True}] * 9  # neither version
    window = JsonLinesLog(write(tmp_path / "log.jsonl", records)).window("churn", "production", ROLLOUT, start, RULES)
    assert (window.candidate.requests, window.candidate.errors) == (120, 3)
    assert window.stable == Arm(50, 2, 1.0)
    assert window.candidate.p95_ms == pytest.approx(np.percentile(latencies, 95, method="inverted_cdf"))


def test_the_shadow_is_compared_answer_by_answer_with_the_stable_version(tmp_path: Path) -> None:
    records = []
    for i in range(200):
        stable = round(i / 200, 3)
        records.append({"version": "6", "request_id": f"r{i}", "prediction": stable})
        records.append({"version": "7", "request_id": f"r{i}", "prediction": stable if i % 10 else 1.0,
                        "shadow": True})
    window = JsonLinesLog(write(tmp_path / "log.jsonl", records)).window("churn", "production", SHADOW, None, RULES)
    agreeing = sum(1 for i in range(200) if i % 10)  # every tenth shadow answer is 1.0 instead
    assert (window.compared, window.agreed, window.candidate.requests) == (200, agreeing, 0)
    results = analyse(SHADOW, RolloutPolicy(min_agreement=0.8), window)
    assert overall(results) == Status.PASS and results[1].observed == pytest.approx(agreeing / 200)
    stricter = analyse(SHADOW, RolloutPolicy(min_agreement=0.97), window)
    assert [r.gate for r in stricter if r.status == Status.FAIL] == ["agreement"]


def test_the_log_reads_feedback_outcomes_per_arm(tmp_path: Path) -> None:
    ab = strategies.start(DeployPolicy(strategy="ab"), "promote", "6", "7")
    assert ab is not None
    records: list[dict[str, Any]] = [{"version": v, "request_id": f"{v}-{i}"} for v in ("6", "7") for i in range(30)]
    records += [{"kind": "feedback", "version": "7", "outcome": "correct" if i % 3 else "wrong", "truth": i % 2,
                 "request_id": f"7-{i}"} for i in range(30)]
    records += [{"kind": "feedback", "version": "6", "outcome": "correct", "truth": 2.5, "request_id": f"6-{i}"}
                for i in range(10)]
    records += [{"kind": "feedback", "outcome": "unknown", "truth": 1}] * 4  # a label for no known request
    # a second label of one answer counts nothing, whether the gateway said so (`counted`) or not (older logs)
    records += [{"kind": "feedback", "version": "7", "outcome": "wrong", "truth": 0, "request_id": "7-1"}] * 5
    records += [{"kind": "feedback", "version": "7", "outcome": "wrong", "truth": 0, "request_id": "7-2",
                 "counted": False}]
    path = write(tmp_path / "log.jsonl", records)
    accuracy = RolloutPolicy(outcome=OutcomeRule("accuracy"))
    window = JsonLinesLog(path).window("churn", "production", ab, None, accuracy)
    assert window.candidate_outcomes == Outcomes(30, 20.0, 20.0) and window.stable_outcomes == Outcomes(10, 10, 10)
    assert window.candidate.requests == 30  # feedback lines are not requests
    mean = JsonLinesLog(path).window("churn", "production", ab, None, RolloutPolicy(outcome=OutcomeRule("mean")))
    assert mean.candidate_outcomes == Outcomes(30, 15.0, 15.0) and mean.stable_outcomes == Outcomes(10, 25.0, 62.5)


def test_a_broken_log_line_is_named(tmp_path: Path) -> None:
    path = tmp_path / "log.jsonl"
    path.write_text('{"version": "7"}\nnot json\n', encoding="utf-8")
    with pytest.raises(ModelbotError, match=r"log.jsonl:2: not a JSON prediction record"):
        JsonLinesLog(path).window("churn", "production", ROLLOUT, None, RULES)


def test_prometheus_queries_both_versions_over_the_steps_window(prometheus: tuple[str, list[str]]) -> None:
    url, queries = prometheus
    now = datetime(2026, 11, 23, 12, tzinfo=UTC)
    source = Prometheus(url, now=now)
    window = source.window("churn", "production", ROLLOUT, now - timedelta(minutes=30), RULES)
    assert window.candidate == Arm(412, 3, 37.5) and window.stable == Arm(3700, 30, 30.0)
    assert all('model="churn",stage="production"' in q and "[1800s]" in q for q in queries)
    assert {q.split('version="')[1][0] for q in queries} == {"6", "7"}
    judged = analyse(ROLLOUT, RolloutPolicy(min_requests=100, errors=ErrorRule(0.02), latency=LatencyRule(1.5)), window)
    assert overall(judged) == Status.PASS
    eight = strategies.start(CANARY, "promote", "7", "8")
    assert eight is not None and source.window("churn", "production", eight, None, RULES).candidate.p95_ms is None


def test_prometheus_fills_shadow_comparisons_and_takes_the_policys_queries(
        prometheus: tuple[str, list[str]]) -> None:
    url, queries = prometheus
    window = Prometheus(url).window("churn", "production", SHADOW, None, RULES)
    assert (window.compared, window.agreed) == (500, 490)  # it used to leave them empty, so a shadow always waited
    assert overall(analyse(SHADOW, RolloutPolicy(min_agreement=0.95), window)) == Status.PASS
    queries.clear()
    custom = RolloutPolicy(queries={"requests": 'sum(my_requests_total{{svc="{model}",v="{version}"}})'})
    Prometheus(url).window("churn", "production", ROLLOUT, None, custom)
    assert 'sum(my_requests_total{svc="churn",v="7"})' in queries


def test_prometheus_errors_and_absence_are_clear(prometheus: tuple[str, list[str]], unused_port: int) -> None:
    url, _ = prometheus
    with pytest.raises(ModelbotError, match=r"refused the query \(400\)"):
        Prometheus(url).query("bad{")
    with pytest.raises(ModelbotError, match="cannot be reached"):
        Prometheus(f"http://127.0.0.1:{unused_port}").query("up")


def test_a_policy_query_with_single_braces_is_refused_by_name(prometheus: tuple[str, list[str]]) -> None:
    url, _ = prometheus
    rules = RolloutPolicy(queries={"requests": 'sum(my_requests_total{svc="{model}"})'})
    with pytest.raises(ModelbotError, match=r"rollout.queries: cannot fill in .*braces are written \{\{ and \}\}"):
        Prometheus(url).window("churn", "production", ROLLOUT, None, rules)


def test_the_log_takes_the_gateways_own_verdict_on_a_shadow_and_skips_failed_ones(tmp_path: Path) -> None:
    """The gateway judges agreement by label (the larger probability's class) and says so in `agreed`; that
    verdict counts, as its shadow counters do. A mirrored request the shadow failed is not a comparison."""
    records: list[dict[str, Any]] = []
    for i in range(30):
        records.append({"version": "6", "request_id": f"r{i}", "prediction": [[0.2, 0.8]]})
        records.append({"version": "7", "request_id": f"r{i}", "shadow": True, "prediction": [[0.3, 0.7]],
                        "agreed": i % 3 != 0})
    records += [{"version": "7", "request_id": "r-fail", "shadow": True, "error": "timeout", "status": 500},
                {"version": "6", "request_id": "r-fail", "prediction": [[0.1, 0.9]]}]
    window = JsonLinesLog(write(tmp_path / "log.jsonl", records)).window("churn", "production", SHADOW, None, RULES)
    assert (window.compared, window.agreed) == (30, 20)
