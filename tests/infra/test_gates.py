"""Gate decisions from observed results and the policy's `gates.infra`: pure, so every branch is a row."""

from __future__ import annotations

from dataclasses import replace
from typing import Any

import pytest

from bot.evidence import Status, overall
from bot.infra import gates
from bot.infra.loadtest import LoadResult
from bot.infra.parity import ParityResult
from bot.infra.query import QueryResult
from bot.infra.replay import Agreement
from bot.infra.results import InfraResults, ReplayOutcome, ServerRun
from bot.infra.sandbox import Attempt
from bot.infra.signature import ApiReport
from bot.policy.gates import Infra

SLA = {"p50_ms": 30, "p95_ms": 50, "p99_ms": 80, "max_error_rate": 0.01, "min_throughput_rps": 100,
       "max_p95_vs_champion": 1.2}
POLICY: dict[str, Any] = {"mode": "query", "load_deadline_s": 60, "memory_mb": 1024, "parity_tolerance": 1e-6,
                          "load_test": {"concurrency": 4, "requests": 400}, "sla": SLA, "replay": True}


def load(p95: float = 40.0, **changes: Any) -> LoadResult:
    base = LoadResult(concurrency=4, sent=400, ok=400, wall_s=2.0, p50_ms=20.0, p95_ms=p95, p99_ms=60.0,
                      mean_ms=22.0, max_ms=90.0, throughput_rps=200.0, error_rate=0.0, client_cpu_ms_per_request=0.2)
    return replace(base, **changes)


def server(uri: str = "models:/m/2", **changes: Any) -> ServerRun:
    base = ServerRun(uri, (Attempt(1, 5000, 77, 3.2, None),), 3.2, peak_rss_mb=400.0, load=load(),
                     replay={"requests": 5, "errors": 0, "p50_ms": 21.0, "p95_ms": 25.0, "first_error": None})
    return replace(base, **changes)


def results(**changes: Any) -> InfraResults:
    base = InfraResults(
        "query", ApiReport(True), server(), QueryResult(4, 4, 200), ParityResult(200, 0, 0.0, 1e-6),
        champion=server("models:/m/1", load=load(p95=38.0)),
        replay=ReplayOutcome(5, Agreement(5, 9, 8, 0)))
    return replace(base, **changes)


def by_name(policy: dict[str, Any], found: InfraResults) -> dict[str, Any]:
    return {g.gate: g for g in gates.evaluate(Infra.of(policy), found)}


def test_a_healthy_run_passes_every_gate_the_policy_names() -> None:
    found = by_name(POLICY, results())
    assert list(found) == ["infra.api", "infra.load", "infra.memory_mb", "infra.query", "infra.parity",
                           "infra.error_rate", "infra.latency.p50_ms", "infra.latency.p95_ms",
                           "infra.latency.p99_ms", "infra.throughput_rps", "infra.latency.p95_vs_champion",
                           "infra.replay"]
    assert all(g.status is Status.PASS for g in found.values())
    assert found["infra.latency.p95_vs_champion"].observed == pytest.approx(40 / 38, abs=1e-3)
    assert found["infra.replay"].observed == pytest.approx(8 / 9)


def test_load_mode_checks_only_that_the_server_loads() -> None:
    found = by_name({**POLICY, "mode": "load"}, results(mode="load"))
    assert list(found) == ["infra.api", "infra.load", "infra.memory_mb"]


def test_a_server_that_did_not_load_fails_with_its_log_and_skips_the_rest() -> None:
    failed = ServerRun("models:/m/2", (Attempt(1, 5000, 77, 60.0, "not healthy", ("boom",)),),
                       failure="models:/m/2 did not load in 1 try: not healthy", log_tail=("ERROR: boom",))
    found = by_name(POLICY, results(candidate=failed, query=None, parity=None, champion=None, replay=None))
    assert found["infra.load"].status is Status.FAIL and found["infra.load"].details["log_tail"] == ["ERROR: boom"]
    later = [g for name, g in found.items() if name not in ("infra.api", "infra.load", "infra.memory_mb")]
    assert later and all(g.status is Status.SKIPPED for g in later)
    assert {g.gate for g in later} >= {"infra.query", "infra.parity", "infra.latency.p95_ms", "infra.replay"}


@pytest.mark.parametrize("key, gate, value, status", [
    ("p95_ms", "infra.latency.p95_ms", 50.0, Status.PASS),
    ("p95_ms", "infra.latency.p95_ms", 50.01, Status.FAIL),
    ("throughput_rps", "infra.throughput_rps", 100.0, Status.PASS),
    ("throughput_rps", "infra.throughput_rps", 99.9, Status.FAIL),
    ("error_rate", "infra.error_rate", 0.01, Status.PASS),
    ("error_rate", "infra.error_rate", 0.0125, Status.FAIL),
])
def test_each_sla_bound_is_inclusive(key: str, gate: str, value: float, status: Status) -> None:
    candidate = server(load=replace(load(), **{key: value}), replay=server().replay)
    assert by_name(POLICY, results(candidate=candidate))[gate].status is status


def test_errors_fail_a_load_test_even_when_the_policy_names_no_error_rate() -> None:
    policy = {**POLICY, "sla": {"p95_ms": 50}}
    candidate = server(load=load(ok=399, error_rate=1 / 400, errors={"http_500": 1}, first_error="HTTP 500: boom"))
    found = by_name(policy, results(candidate=candidate))["infra.error_rate"]
    assert found.status is Status.FAIL and found.threshold == 0.0 and "first: HTTP 500: boom" in found.reason


def test_a_crash_during_the_load_test_fails_with_the_log_and_leaves_latency_inconclusive() -> None:
    crashed = server(death="the server exited with code 1", log_tail=("Killed",),
                     load=load(aborted="the server exited with code 1 during the load test"))
    found = by_name(POLICY, results(candidate=crashed))
    assert found["infra.error_rate"].status is Status.FAIL
    assert found["infra.error_rate"].details["log_tail"] == ["Killed"]
    assert found["infra.latency.p95_ms"].status is Status.INCONCLUSIVE
    assert overall(list(found.values())) is Status.FAIL


@pytest.mark.parametrize("champion, status, words", [
    (None, Status.SKIPPED, "no champion"),
    (server("models:/m/1", failure="did not load", load=None), Status.INCONCLUSIVE, "did not load"),
    (server("models:/m/1", load=load(p95=30.0)), Status.FAIL, "1.33x (allowed 1.2x)"),
])
def test_the_champion_comparison(champion: ServerRun | None, status: Status, words: str) -> None:
    found = by_name(POLICY, results(champion=champion))["infra.latency.p95_vs_champion"]
    assert found.status is status and words in found.reason


def test_parity_and_query_failures_say_what_differs() -> None:
    found = by_name(POLICY, results(
        query=QueryResult(4, 3, 200, ("rows 50-99: HTTP 400: boom",)),
        parity=ParityResult(200, 3, 0.25, 1e-6, ({"row": 7, "served": 1.25, "in_process": 1.0},))))
    assert found["infra.query"].status is Status.FAIL and "rows 50-99: HTTP 400: boom" in found["infra.query"].reason
    assert found["infra.parity"].status is Status.FAIL and found["infra.parity"].details["examples"][0]["row"] == 7


def test_the_api_gate() -> None:
    broken = ApiReport(True, ("the candidate requires input column `c`",))
    assert by_name(POLICY, results(api=broken))["infra.api"].status is Status.FAIL
    unknown = ApiReport(False, notes=("the candidate has no input signature",))
    assert by_name(POLICY, results(api=unknown))["infra.api"].status is Status.INCONCLUSIVE


def test_the_replay_gate() -> None:
    missing = ReplayOutcome(0, problem="no evaluation.replay log")
    assert by_name(POLICY, results(replay=missing))["infra.replay"].status is Status.INCONCLUSIVE
    regressed = ReplayOutcome(5, Agreement(5, 8, 8, 1))
    candidate = server(replay={"requests": 5, "errors": 1, "first_error": "line 3: HTTP 400: boom"})
    found = by_name(POLICY, results(replay=regressed, candidate=candidate))["infra.replay"]
    assert found.status is Status.FAIL and "failed 1 of 5 recorded requests that the champion answered" in found.reason


def test_a_memory_kill_fails_the_memory_gate() -> None:
    killed = server(failure="exceeded its memory limit", memory_exceeded=True, load=None)
    assert by_name(POLICY, results(candidate=killed))["infra.memory_mb"].status is Status.FAIL
