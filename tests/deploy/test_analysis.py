"""Canary analysis: from a JSON Lines prediction log and from Prometheus's HTTP API (a real server on
127.0.0.1 answering in Prometheus's documented format); too little traffic halts and never passes."""

from __future__ import annotations

import json
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import numpy as np
import pytest

from bot.deploy import strategies
from bot.deploy.analysis import JsonLinesLog, Prometheus, Traffic, analyse
from bot.errors import ModelbotError
from bot.evidence import Status, overall

CANARY = {"strategy": "canary", "canary": {"min_requests": 100, "max_error_rate": 0.02, "max_p95_ms": 50}}
ROLLOUT = strategies.start(CANARY, "promote", "6", "7")
SHADOW = strategies.start({"strategy": "shadow"}, "promote", "6", "7")
assert ROLLOUT is not None and SHADOW is not None


@pytest.mark.parametrize(
    ("traffic", "verdict", "failing"),
    [
        (Traffic(99, 0, 10.0), Status.INCONCLUSIVE, []),  # one request short: halt
        (Traffic(99, 99, 900.0), Status.INCONCLUSIVE, []),  # thin traffic decides nothing, either way
        (Traffic(100, 2, 49.0), Status.PASS, []),
        (Traffic(100, 3, 49.0), Status.FAIL, ["error_rate"]),
        (Traffic(400, 0, 51.0), Status.FAIL, ["p95_ms"]),
        (Traffic(400, 0, None), Status.INCONCLUSIVE, []),
    ],
)
def test_the_canary_gates(traffic: Traffic, verdict: Status, failing: list[str]) -> None:
    results = analyse(ROLLOUT, CANARY, traffic)  # type: ignore[arg-type]
    assert overall(results) == verdict
    assert [r.gate for r in results if r.status == Status.FAIL] == failing


def write(path: Path, records: list[dict[str, Any]]) -> Path:
    path.write_text("".join(json.dumps(r) + "\n" for r in records), encoding="utf-8")
    return path


def test_the_log_counts_the_candidates_requests_since_the_step_began(tmp_path: Path) -> None:
    start = datetime(2026, 11, 23, 10, tzinfo=UTC)
    latencies = np.random.default_rng(3).gamma(2.0, 10.0, size=120)
    records = [{"ts": (start + timedelta(seconds=i)).isoformat(), "model": "churn", "stage": "production",
                "version": "7", "latency_ms": float(lat), "status": 500 if i % 40 == 0 else 200}
               for i, lat in enumerate(latencies)]
    records += [{"ts": (start - timedelta(hours=1)).isoformat(), "model": "churn", "stage": "production",
                 "version": "7", "error": True}] * 30  # before the step: not counted
    records += [{"model": "churn", "stage": "staging", "version": "7", "error": True}] * 5  # another stage
    records += [{"model": "churn", "stage": "production", "version": "6", "latency_ms": 1.0}] * 50
    traffic = JsonLinesLog(write(tmp_path / "log.jsonl", records)).traffic("churn", "production", ROLLOUT, start)
    assert (traffic.requests, traffic.errors) == (120, 3)
    ordered = np.sort(latencies)
    assert traffic.p95_ms == pytest.approx(ordered[int(np.ceil(0.95 * 120)) - 1])


def test_the_shadow_is_compared_answer_by_answer_with_the_stable_version(tmp_path: Path) -> None:
    records = []
    for i in range(200):
        stable = round(i / 200, 3)
        records.append({"version": "6", "request_id": f"r{i}", "prediction": stable})
        records.append({"version": "7", "request_id": f"r{i}", "prediction": stable if i % 10 else 1.0,
                        "shadow": True})
    traffic = JsonLinesLog(write(tmp_path / "log.jsonl", records)).traffic("churn", "production", SHADOW, None)
    agreeing = sum(1 for i in range(200) if i % 10)  # every tenth shadow answer is 1.0 instead
    assert (traffic.compared, traffic.agreed) == (200, agreeing)
    results = analyse(SHADOW, {"strategy": "shadow", "shadow": {"min_agreement": 0.9}}, traffic)
    assert overall(results) == Status.PASS and results[1].observed == pytest.approx(agreeing / 200)
    stricter = analyse(SHADOW, {"strategy": "shadow", "shadow": {"min_agreement": 0.95}}, traffic)
    assert [r.gate for r in stricter if r.status == Status.FAIL] == ["agreement"]


def test_a_broken_log_line_is_named(tmp_path: Path) -> None:
    path = tmp_path / "log.jsonl"
    path.write_text('{"version": "7"}\nnot json\n', encoding="utf-8")
    with pytest.raises(ModelbotError, match=r"log.jsonl:2: not a JSON prediction record"):
        JsonLinesLog(path).traffic("churn", "production", ROLLOUT, None)


def test_prometheus_queries_are_scoped_to_the_candidate_and_the_steps_window(
        prometheus: tuple[str, list[str]]) -> None:
    url, queries = prometheus
    now = datetime(2026, 11, 23, 12, tzinfo=UTC)
    source = Prometheus(url, now=now)
    traffic = source.traffic("churn", "production", ROLLOUT, now - timedelta(minutes=30))  # type: ignore[arg-type]
    assert (traffic.requests, traffic.errors, traffic.p95_ms) == (412, 3, 37.5)
    assert all('model="churn",stage="production",version="7"' in q and "[1800s]" in q for q in queries)
    assert overall(analyse(ROLLOUT, CANARY, traffic)) == Status.PASS  # type: ignore[arg-type]
    eight = strategies.start(CANARY, "promote", "7", "8")
    assert eight is not None and source.traffic("churn", "production", eight, None).p95_ms is None


def test_prometheus_errors_and_absence_are_clear(prometheus: tuple[str, list[str]], unused_port: int) -> None:
    url, _ = prometheus
    with pytest.raises(ModelbotError, match=r"refused the query \(400\)"):
        Prometheus(url).query("bad{")
    with pytest.raises(ModelbotError, match="cannot be reached"):
        Prometheus(f"http://127.0.0.1:{unused_port}").query("up")
