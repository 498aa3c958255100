"""The whole infrastructure check against real servers: a healthy candidate and its champion under a load
test with a replay, then each fault a model can have, each a failed gate with the reason and the server's
last lines, and never a process left behind."""

from __future__ import annotations

import json
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import Any

import numpy as np
import pytest

from bot.evidence import Status, overall
from bot.infra import check
from bot.infra.check import Options
from bot.policy.gates import Infra
from tests.infra.conftest import InfraStore, xy_frame

POLICY: dict[str, Any] = {
    "mode": "query", "load_deadline_s": 60, "tries": 1, "memory_mb": 2048, "parity_tolerance": 1e-9,
    "load_test": {"concurrency": 2, "requests": 60, "warmup": 4},
    "sla": {"p95_ms": 2000, "max_error_rate": 0.0, "min_throughput_rps": 1, "max_p95_vs_champion": 50},
    "replay": True,
}


def gate(outcome: check.InfraCheck, name: str) -> Any:
    found = [g for g in outcome.gates if g.gate == name]
    assert found, f"no gate {name}; gates: {[g.gate for g in outcome.gates]}"
    return found[0]


def write_replay(path: Path, frame: Any) -> Path:
    """Recorded traffic: single rows, a batch, and one line as a request logger writes it."""
    lines = [{"dataframe_split": json.loads(frame.iloc[[i]].to_json(orient="split", index=False))} for i in range(6)]
    lines.append({"dataframe_records": json.loads(frame.iloc[6:9].to_json(orient="records"))})
    lines.append({"timestamp": "2026-11-23T10:00:00Z",
                  "request": {"dataframe_split": json.loads(frame.iloc[9:11].to_json(orient="split", index=False))}})
    path.write_text("".join(json.dumps(line) + "\n" for line in lines))
    return path


@pytest.fixture(scope="module")
def healthy(tumor: dict[str, Any], store: InfraStore, tmp_path_factory: pytest.TempPathFactory) -> dict[str, Any]:
    store.point()
    data = tumor["data"]
    features = data.evaluation[list(data.features)]
    tmp = tmp_path_factory.mktemp("healthy")
    log = write_replay(tmp / "replay.jsonl", features)
    outcome = check.run(Infra.of(POLICY), tumor["candidate"], data.evaluation[[*data.features, data.target]],
                        champion_uri=tumor["champion"], target=data.target, replay_log=log,
                        options=Options(env=store.env(), artifacts=tmp / "artifacts", sample_rows=120))
    return {"outcome": outcome, "features": features, "tmp": tmp}


def test_a_healthy_candidate_passes_every_gate_the_policy_asks_for(healthy: dict[str, Any]) -> None:
    outcome = healthy["outcome"]
    assert {g.gate for g in outcome.gates} == {
        "infra.api", "infra.load", "infra.memory_mb", "infra.query", "infra.parity", "infra.error_rate",
        "infra.latency.p95_ms", "infra.throughput_rps", "infra.latency.p95_vs_champion", "infra.replay"}
    assert overall(outcome.gates) is Status.PASS, [g.as_dict() for g in outcome.gates if g.status is not Status.PASS]


def test_the_figures_are_json_and_hold_both_servers_measured_the_same_way(healthy: dict[str, Any]) -> None:
    figures = json.loads(json.dumps(healthy["outcome"].figures))
    for side in ("candidate", "champion"):
        run = figures[side]
        assert run["loaded"] and run["load_s"] > 0 and run["peak_rss_mb"] > 50
        load = run["load_test"]
        assert load["sent"] == 60 and load["ok"] == 60 and load["concurrency"] == 2
        assert load["p50_ms"] <= load["p95_ms"] <= load["p99_ms"] <= load["max_ms"]
    assert figures["query"] == {"requests": 3, "answered": 3, "rows": 120, "problems": []}


def test_parity_compares_every_sampled_row_with_the_in_process_answer(healthy: dict[str, Any]) -> None:
    parity = healthy["outcome"].results.parity
    # The server builds its frame row by row from JSON, so BLAS may sum in another order: last-bit differences.
    assert parity.rows == 120 and parity.mismatches == 0 and parity.max_abs_diff < 1e-12


def test_replay_keeps_the_candidates_answers_and_matches_them_to_the_model(
        healthy: dict[str, Any], tumor: dict[str, Any]) -> None:
    import mlflow.pyfunc

    outcome = healthy["outcome"]
    artifact = outcome.results.replay.artifact
    answers = [json.loads(line) for line in artifact.read_text().splitlines()]
    assert [a["line"] for a in answers] == list(range(1, 9)) and all(a["status"] == 200 for a in answers)
    served = [row for a in answers for row in a["predictions"]]
    expected = mlflow.pyfunc.load_model(tumor["candidate"]).predict(healthy["features"].iloc[:11])
    np.testing.assert_allclose(np.array(served), np.asarray(expected), rtol=0, atol=1e-12)
    agreement = outcome.results.replay.agreement
    assert agreement.compared_rows == 11 and agreement.candidate_only_errors == 0
    assert gate(outcome, "infra.replay").observed == agreement.agreeing_rows / 11


@pytest.fixture(scope="module")
def faults(store: InfraStore) -> dict[str, check.InfraCheck]:
    """One check per faulty behaviour model, with a short request timeout so a hang is noticed quickly."""
    store.point()
    policy = Infra.of(
        {**POLICY, "replay": False, "sla": {"p95_ms": 2000}, "load_test": {"concurrency": 2, "requests": 20}}
    )
    frame = xy_frame(40)
    options = Options(env=store.env(), request_timeout_s=2, sample_rows=40, batch=10)
    cases = {"raise": {"raise": True}, "wrong_shape": {"wrong_shape": True}, "crash": {"crash_after": 5},
             "hang": {"delay_s": 30}, "skew": {"serving_skew": True}}
    uris = {name: store.behaviour(**config) for name, config in cases.items()}
    with ThreadPoolExecutor(max_workers=3) as pool:  # servers mostly wait; three at a time halves the wall time
        futures = {name: pool.submit(check.run, policy, uri, frame, options=options) for name, uri in uris.items()}
        return {name: future.result() for name, future in futures.items()}


def test_a_model_that_raises_fails_the_query_gate_with_its_error(faults: dict[str, check.InfraCheck]) -> None:
    result = gate(faults["raise"], "infra.query")
    assert result.status is Status.FAIL
    assert "HTTP 400" in result.reason and "predict failed on purpose" in result.reason
    assert gate(faults["raise"], "infra.parity").status is Status.SKIPPED
    errors = gate(faults["raise"], "infra.error_rate")
    assert errors.status is Status.FAIL and errors.observed == 1.0 and "http_400" in errors.details["errors"]


def test_a_model_that_answers_the_wrong_shape_fails_the_query_gate(faults: dict[str, check.InfraCheck]) -> None:
    result = gate(faults["wrong_shape"], "infra.query")
    assert result.status is Status.FAIL
    assert "5 predictions for 10 rows" in result.reason


def test_a_server_that_crashes_mid_test_fails_with_its_exit_and_last_lines(faults: dict[str, check.InfraCheck]) -> None:
    outcome = faults["crash"]
    run = outcome.results.candidate
    assert run.death is not None and "exited" in run.death
    errors = gate(outcome, "infra.error_rate")
    assert errors.status is Status.FAIL and "during the load test" in errors.reason
    assert any("uvicorn" in line.lower() or "mlflow" in line.lower() or "INFO" in line
               for line in errors.details["log_tail"])
    assert gate(outcome, "infra.latency.p95_ms").status is Status.INCONCLUSIVE


def test_a_hanging_model_fails_within_the_request_timeout(faults: dict[str, check.InfraCheck]) -> None:
    outcome = faults["hang"]
    query = gate(outcome, "infra.query")
    assert query.status is Status.FAIL and ("no answer" in query.reason or "504" in query.reason)
    assert outcome.results.query.requests == 1
    errors = gate(outcome, "infra.error_rate")
    assert errors.status is Status.FAIL and "stopped answering" in errors.reason


def test_a_model_that_answers_differently_when_served_fails_parity(faults: dict[str, check.InfraCheck]) -> None:
    result = gate(faults["skew"], "infra.parity")
    assert result.status is Status.FAIL and result.observed == 40
    first = result.details["examples"][0]
    assert first["served"] - first["in_process"] == pytest.approx(0.5)
