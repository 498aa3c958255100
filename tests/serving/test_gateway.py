"""`modelbot serve` as a process over real HTTP, serving real MLflow models (SQLite store) from a real git
repository: parity with `mlflow models serve`, every routing mode, reloads, faults and what is observed.

One gateway serves the whole module; stages share the model processes of the same artifact.
"""

from __future__ import annotations

import json
import os
import signal
import threading
import time
from collections import Counter
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import numpy as np
import pytest

from tests.serving.conftest import Zoo, features
from tests.serving.support import Answer, Gateway, Registry, running, until

pytestmark = pytest.mark.slow

BG_STATE = {"production": {"strategy": "blue-green", "traffic": {1: 100}, "preview": 2}}


@pytest.fixture(scope="module")
def registry(zoo: Zoo, tmp_path_factory: pytest.TempPathFactory) -> Registry:
    reg = Registry(tmp_path_factory.mktemp("serving-repo"))
    tumor = {"1": zoo.tumor1, "2": zoo.tumor2}
    reg.set("tumor", tumor, {"staging": "1", "production": "2"},
            {"production": {"strategy": "canary", "step": 0, "traffic": {1: 70, 2: 30}}}, commit=False)
    reg.set("ab", tumor, {"staging": "2", "production": "2"},
            {"staging": {"strategy": "shadow", "traffic": {1: 100}, "shadow": 2, "mirror_percent": 100},
             "production": {"strategy": "ab", "traffic": {1: 50, 2: 50}, "sticky_key": "X-User"}}, commit=False)
    reg.set("bg", tumor, {"production": "2"}, BG_STATE, commit=False)
    reg.set("behave", {"1": zoo.healthy, "2": zoo.raising, "3": zoo.slow, "4": zoo.crashing, "5": zoo.chatty},
            {"staging": "3", "production": "2"},
            {"production": {"strategy": "direct", "traffic": {2: 100}, "fallback": 1}}, commit=False)
    reg.set("crashy", {"1": zoo.healthy, "4": zoo.crashing}, {"production": "4"},
            {"production": {"strategy": "direct", "traffic": {4: 100}, "fallback": 1}}, commit=False)
    reg.commit("The serving tests' registry")
    return reg


@pytest.fixture(scope="module")
def gateway(zoo: Zoo, registry: Registry, tmp_path_factory: pytest.TempPathFactory) -> Iterator[Gateway]:
    zoo.store.point()
    with running(registry.path, zoo.env, tmp_path_factory.mktemp("serving-log"), hang_s=5.0,
                 extra=("--max-body-mb", "1")) as gw:
        yield gw


def records(zoo: Zoo, rows: int, offset: int = 0) -> list[dict[str, float]]:
    return features(zoo, rows, offset)


def the_four_formats(rows: list[dict[str, float]]) -> dict[str, Any]:
    columns = list(rows[0])
    return {
        "dataframe_split": {"dataframe_split": {"columns": columns, "data": [[r[c] for c in columns] for r in rows]}},
        "dataframe_records": {"dataframe_records": rows},
        "instances": {"instances": rows},
        "inputs": {"inputs": {c: [r[c] for r in rows] for c in columns}},
    }


def test_answers_equal_mlflow_models_serve_for_the_four_formats(zoo: Zoo, gateway: Gateway) -> None:
    import http.client

    from bot.infra.sandbox import SandboxSpec, serve

    payloads = the_four_formats(records(zoo, 5))
    bad = {"dataframe_records": [{"mean_radius": 1.0}]}
    with serve(SandboxSpec(zoo.tumor1, env=zoo.env)) as direct:
        for name, payload in [*payloads.items(), ("missing columns", bad)]:
            conn = http.client.HTTPConnection(direct.host, direct.port, timeout=30)
            conn.request("POST", "/invocations", json.dumps(payload), {"Content-Type": "application/json"})
            answer = conn.getresponse()
            expected_status, expected = answer.status, answer.read()
            conn.close()
            got = gateway.invoke("tumor", "staging", payload)
            assert got.status == expected_status, (name, got.body, expected)
            if expected_status == 200:
                assert got.body == expected, name  # byte for byte
                assert got.version == "1" and got.headers["x-modelbot-fallback"] == "false"
    assert "Model is missing inputs" in gateway.invoke("tumor", "staging", bad).json()["message"]


def test_canary_splits_traffic_by_weight_and_counts_it(zoo: Zoo, gateway: Gateway) -> None:
    from bot.deploy.strategies import Rollout
    from bot.deploy.traffic import JsonLinesLog
    from bot.policy.deploy import RolloutPolicy

    before = {v: gateway.metric("modelbot_requests_total", model="tumor", stage="production", version=v)
              for v in ("1", "2")}
    seen: Counter[str] = Counter()
    ids: dict[str, str] = {}
    payload = {"dataframe_records": records(zoo, 1)}
    for number in range(300):
        answer = gateway.invoke("tumor", "production", payload, {"X-Request-Id": f"canary-{number}"})
        assert answer.status == 200 and answer.headers["x-request-id"] == f"canary-{number}"
        seen[answer.version or ""] += 1
        ids[f"canary-{number}"] = answer.version or ""
    assert set(seen) == {"1", "2"}
    share = seen["2"] / 300
    assert abs(share - 0.30) < 0.106, seen  # four standard deviations of a binomial share of 300
    for version in ("1", "2"):
        after = gateway.metric("modelbot_requests_total", model="tumor", stage="production", version=version)
        assert after - before[version] == seen[version]
    assert gateway.metric("modelbot_request_duration_seconds_count", model="tumor", stage="production",
                          version="2", arm="candidate") >= seen["2"]
    # the prediction log says the same, and `advance` reads it
    assert until(lambda: sum(r["request_id"] in ids for r in gateway.log_records()) == 300)
    logged = {r["request_id"]: r for r in gateway.log_records() if r["request_id"] in ids}
    assert all(logged[i]["served_by"] == v and logged[i]["version"] == v for i, v in ids.items())
    assert all(logged[i]["inputs"] == payload["dataframe_records"] for i in ids)
    window = JsonLinesLog(gateway.log_dir / "predictions.jsonl").window(
        "tumor", "production", Rollout("canary", "2", "1", traffic={"1": 70.0, "2": 30.0}), None, RolloutPolicy())
    assert (window.candidate.requests, window.candidate.errors) == (seen["2"], 0)
    assert window.stable is not None and window.stable.requests >= seen["1"]


def test_ab_keeps_each_user_in_one_arm(zoo: Zoo, gateway: Gateway) -> None:
    payload = {"instances": records(zoo, 1)}
    arms: dict[str, set[str]] = {}
    for user in range(40):
        for _ in range(3):
            answer = gateway.invoke("ab", "production", payload, {"X-User": f"user-{user}"})
            assert answer.status == 200
            arms.setdefault(f"user-{user}", set()).add(answer.version or "")
    assert all(len(versions) == 1 for versions in arms.values()), arms
    assert {v for versions in arms.values() for v in versions} == {"1", "2"}
    described = gateway.stage("ab", "production")
    assert described["strategy"] == "ab" and described["sticky_key"] == "X-User"


def test_shadow_is_mirrored_and_compared_but_never_answers(zoo: Zoo, gateway: Gateway) -> None:
    rows = records(zoo, 2, offset=10)
    reference = gateway.invoke("tumor", "staging", {"dataframe_records": rows})  # version 1, directly
    ids = []
    for number in range(20):
        answer = gateway.invoke("ab", "staging", {"dataframe_records": rows}, {"X-Request-Id": f"shadow-{number}"})
        assert answer.status == 200 and answer.version == "1" and answer.body == reference.body
        ids.append(f"shadow-{number}")
    assert until(lambda: gateway.metric("modelbot_shadow_compared_total", model="ab", stage="staging",
                                        version="2") >= 20)
    agreed = gateway.metric("modelbot_shadow_agreed_total", model="ab", stage="staging", version="2")

    def shadows() -> dict[str, dict[str, Any]]:
        return {r["request_id"]: r for r in gateway.log_records() if r.get("shadow") and r["model"] == "ab"}

    assert until(lambda: set(ids) <= set(shadows()))
    logged = shadows()
    assert all(logged[i]["version"] == "2" and logged[i]["prediction"] is not None for i in ids)
    # agreement: the same class (largest probability) for each row, computed here independently
    live = reference.json()["predictions"]
    expected = sum(all((a[1] > a[0]) == (b[1] > b[0]) for a, b in zip(live, logged[i]["prediction"], strict=True))
                   for i in ids)
    assert agreed == expected


def test_blue_green_previews_then_switches_atomically(zoo: Zoo, registry: Registry, gateway: Gateway) -> None:
    payload = {"dataframe_records": records(zoo, 1)}
    live = gateway.invoke("bg", "production", payload)
    preview = gateway.invoke("bg", "production", payload, {"X-Modelbot-Preview": "1"})
    assert (live.version, preview.version) == ("1", "2")
    assert live.headers["x-modelbot-colour"] == "blue" and preview.headers["x-modelbot-colour"] == "green"
    assert preview.headers["x-modelbot-arm"] == "preview"
    described = gateway.stage("bg", "production")
    assert described["colour"] == "blue" and described["preview"] == "2"
    registry.models["bg"]["deployment"] = {"production": {"strategy": "blue-green", "traffic": {2: 100}}}
    sha = registry.commit("Switch bg to green")
    result = gateway.reload()
    assert result["commit"] == sha and result["changed"]
    after = gateway.invoke("bg", "production", payload)
    assert after.version == "2" and after.headers["x-modelbot-colour"] == "green"
    assert gateway.stage("bg", "production")["colour"] == "green"
    registry.models["bg"]["deployment"] = BG_STATE
    registry.commit("bg back on blue with a preview")
    gateway.reload()


def test_a_version_coming_in_is_warmed_with_recent_requests(zoo: Zoo, registry: Registry, gateway: Gateway) -> None:
    payload = {"dataframe_records": records(zoo, 1)}
    for _ in range(5):
        assert gateway.invoke("behave", "production", {"dataframe_records": [{"x": 1.0, "y": 2.0}]}).status == 200
    registry.models["behave"]["stages"]["production"] = 5
    registry.models["behave"]["deployment"] = {"production": {"strategy": "direct", "traffic": {5: 100}}}
    registry.commit("behave production on version 5, directly")
    gateway.reload()
    described = gateway.stage("behave", "production")
    [five] = [v for v in described["versions"] if v["version"] == "5"]
    assert five["role"] == "live" and five["warmed"] >= 5 and five["state"] == "ready"
    answer = gateway.invoke("behave", "production", {"dataframe_records": [{"x": 1.0, "y": 2.0}]})
    assert answer.version == "5" and answer.json() == {"predictions": [4.0]}
    assert gateway.invoke("tumor", "staging", payload).status == 200
    registry.models["behave"]["stages"]["production"] = 2
    registry.models["behave"]["deployment"] = {"production": {"strategy": "direct", "traffic": {2: 100},
                                                              "fallback": 1}}
    registry.commit("behave production back on the raising version 2 with fallback 1")
    gateway.reload()


def test_an_error_falls_back_to_the_fallback_version(gateway: Gateway) -> None:
    rows = [{"x": 1.0, "y": 2.0}, {"x": 3.0, "y": 0.5}]
    errors = gateway.metric("modelbot_request_errors_total", model="behave", version="2", reason="error")
    answer = gateway.invoke("behave", "production", {"dataframe_records": rows})
    assert answer.status == 200 and answer.json() == {"predictions": [4.0, 6.5]}
    assert answer.version == "1" and answer.headers["x-modelbot-fallback"] == "true"
    assert gateway.metric("modelbot_request_errors_total", model="behave", version="2", reason="error") == errors + 1
    assert gateway.metric("modelbot_fallbacks_total", model="behave", served_by="1") >= 1


def test_a_wrong_input_is_the_clients_error_even_where_the_model_fails(gateway: Gateway) -> None:
    # the model process enforces the signature; the gateway checks it only once a version has failed, so a
    # request without column y is a 400 (not a model error the fallback, version 1, would answer)
    labels = {"model": "behave", "stage": "production"}
    errors = gateway.metric("modelbot_request_errors_total", **labels)
    fallbacks = gateway.metric("modelbot_fallbacks_total", **labels)
    answer = gateway.invoke("behave", "production", {"dataframe_records": [{"x": 1.0}]})
    assert answer.status == 400 and "missing inputs" in answer.json()["message"], answer.body
    assert "x-modelbot-version" not in answer.headers
    assert gateway.metric("modelbot_request_errors_total", **labels) == errors
    assert gateway.metric("modelbot_fallbacks_total", **labels) == fallbacks


def test_a_timeout_answers_the_constant(gateway: Gateway) -> None:
    started = time.monotonic()
    answer = gateway.invoke("behave", "staging", {"dataframe_records": [{"x": 1.0, "y": 2.0}] * 3})
    elapsed = time.monotonic() - started
    assert answer.status == 200 and answer.json() == {"predictions": [-1, -1, -1]}
    assert answer.version == "constant" and answer.headers["x-modelbot-fallback"] == "true"
    assert elapsed < 1.0  # the slow version takes 1 s; the policy's timeout is 300 ms
    assert gateway.metric("modelbot_request_errors_total", model="behave", stage="staging", reason="timeout") >= 1


def test_a_crashing_model_falls_back_and_is_restarted(gateway: Gateway) -> None:
    rows = {"dataframe_records": [{"x": 2.0, "y": 1.0}]}
    answers = [gateway.invoke("crashy", "production", rows) for _ in range(3)]
    assert all(a.status == 200 and a.json() == {"predictions": [5.0]} for a in answers)
    assert {a.version for a in answers} == {"1"}

    def restarted() -> bool:
        [four] = [v for v in gateway.stage("crashy", "production")["versions"] if v["version"] == "4"]
        return bool(int(four["restarts"]) >= 1)

    assert until(restarted, 20.0)
    assert gateway.metric("modelbot_backend_restarts_total", model="crashy", version="4") >= 1


def test_a_killed_process_never_takes_down_the_gateway(zoo: Zoo, gateway: Gateway) -> None:
    payload = {"dataframe_records": records(zoo, 1)}
    [one] = [v for v in gateway.stage("tumor", "staging")["versions"] if v["version"] == "1"]
    os.kill(int(one["pid"]), signal.SIGKILL)
    answers = [gateway.invoke("tumor", "staging", payload) for _ in range(20)]
    assert all(a.status == 200 for a in answers)  # version 1, or the constant while it restarts
    assert {a.version for a in answers} <= {"1", "constant"}
    other = gateway.invoke("bg", "production", payload, {"X-Modelbot-Preview": "1"})  # version 2's process
    assert other.status == 200 and other.version == "2"

    def back() -> bool:
        [found] = [v for v in gateway.stage("tumor", "staging")["versions"] if v["version"] == "1"]
        return bool(found["state"] == "ready" and found["pid"] != one["pid"])

    assert until(back, 20.0)
    assert gateway.invoke("tumor", "staging", payload).version == "1"


def test_bad_requests_get_clear_answers(zoo: Zoo, registry: Registry, gateway: Gateway) -> None:
    malformed = gateway.invoke("tumor", "staging", b'{"dataframe_records": [')
    assert malformed.status == 400 and "not valid JSON" in malformed.json()["message"]
    wrong = gateway.invoke("tumor", "staging", {"dataframe_records": [{"x": 1}]})
    assert wrong.status == 400 and "missing inputs" in wrong.json()["message"]
    no_format = gateway.invoke("tumor", "staging", {"rows": []})
    assert no_format.status == 400 and "dataframe_split" in no_format.json()["message"]
    model = gateway.invoke("nobody", "staging", {"inputs": []})
    assert model.status == 404 and "served models" in model.json()["message"]
    stage = gateway.invoke("tumor", "canary", {"inputs": []})
    assert stage.status == 404 and "stages served: production, staging" in stage.json()["message"]
    large = gateway.invoke("tumor", "staging", b"{" + b" " * (1024 * 1024 + 10) + b"}")
    assert large.status == 413
    media = gateway.invoke("tumor", "staging", b"x", content_type="text/xml")
    assert media.status == 415
    for answer in (malformed, wrong, no_format, model, stage, large, media):
        assert "Traceback" not in answer.body.decode() and answer.headers.get("x-request-id")
    # no backend and no fallback: 503 with Retry-After, and the gateway says it is not ready
    registry.set("broken", {"1": "models:/no-such-model/1"}, {"production": "1"})
    gateway.reload()
    unavailable = gateway.invoke("broken", "production", {"inputs": [[1.0]]})
    assert unavailable.status == 503 and unavailable.headers.get("retry-after")
    assert "no fallback" in unavailable.json()["message"]
    ready = gateway.get("/readyz")
    assert ready.status == 503 and any("broken" in w for w in ready.json()["waiting"])
    del registry.models["broken"]
    registry.commit("Remove the broken model")
    gateway.reload()
    assert gateway.get("/readyz").status == 200


def test_feedback_is_matched_with_the_answer(zoo: Zoo, gateway: Gateway) -> None:
    rows = records(zoo, 1)
    answer = gateway.invoke("tumor", "staging", {"dataframe_records": rows}, {"X-Request-Id": "fb-1"})
    [[p0, p1]] = answer.json()["predictions"]
    truth = 1 if p1 > p0 else 0
    said = gateway.request("POST", "/feedback", json.dumps({"request_id": "fb-1", "label": truth}).encode())
    assert said.status == 202 and said.json()["outcome"] == "correct" and said.json()["version"] == "1"
    wrong = gateway.request("POST", "/feedback", json.dumps({"request_id": "fb-1", "label": 1 - truth}).encode())
    assert wrong.json()["outcome"] == "wrong"
    unknown = gateway.request("POST", "/feedback", json.dumps({"request_id": "never", "outcome": 1}).encode())
    assert unknown.status == 202 and unknown.json()["known"] is False
    assert gateway.request("POST", "/feedback", b'{"label": 1}').status == 400
    assert gateway.metric("modelbot_feedback_total", model="tumor", version="1", outcome="correct") >= 1
    assert until(lambda: any(r.get("kind") == "feedback" and r["request_id"] == "fb-1"
                             for r in gateway.log_records()))


def test_reloads_under_load_drop_no_request(zoo: Zoo, registry: Registry, gateway: Gateway) -> None:
    payload = {"dataframe_records": records(zoo, 1)}
    failures: list[Answer | str] = []
    done = threading.Event()
    counts: Counter[str] = Counter()

    def client() -> None:
        mine = Gateway.__new__(Gateway)
        mine.port, mine._conn = gateway.port, None
        while not done.is_set():
            try:
                answer = mine.invoke("tumor", "production", payload)
            except OSError as exc:
                failures.append(str(exc))
                continue
            if answer.status != 200 or answer.headers["x-modelbot-fallback"] != "false":
                failures.append(answer)
            counts[answer.version or ""] += 1

    threads = [threading.Thread(target=client) for _ in range(4)]
    for thread in threads:
        thread.start()
    try:
        time.sleep(0.3)
        for weights in ({1: 50, 2: 50}, {1: 0, 2: 100}, {1: 70, 2: 30}):
            registry.models["tumor"]["deployment"] = {"production": {"strategy": "canary", "step": 1,
                                                                     "traffic": weights}}
            sha = registry.commit(f"tumor production {weights}")
            if weights[1] == 0:  # this one by SIGHUP
                os.kill(gateway.proc.pid, signal.SIGHUP)
                assert until(lambda sha=sha: gateway.get("/models").json()["commit"] == sha, 10.0)  # type: ignore[misc]
            else:
                assert gateway.reload()["commit"] == sha
            time.sleep(0.3)
    finally:
        done.set()
        for thread in threads:
            thread.join()
    assert not failures, [f if isinstance(f, str) else (f.status, f.headers.get("x-modelbot-fallback-reason"),
                                                        f.body[:200]) for f in failures[:3]]
    assert counts["1"] > 0 and counts["2"] > 0


def test_reload_is_refused_from_elsewhere_and_metrics_carry_advance_names(gateway: Gateway) -> None:
    from bot.deploy.traffic import DEFAULT_QUERIES

    text = gateway.get("/metrics").body.decode()
    for query in DEFAULT_QUERIES.values():
        name = query.split("(")[-1].split("{")[0]
        family = name.removesuffix("_bucket").removesuffix("_total")
        assert any(f"# TYPE {n} " in text for n in (name, family)), name
    assert gateway.get("/healthz").json() == {"ok": True}
    assert gateway.request("GET", "/-/reload").status == 405
    everything = gateway.get("/models").json()
    assert {(s["model"], s["stage"]) for s in everything["stages"]} >= {("tumor", "staging"), ("bg", "production")}
    assert Path(gateway.log_dir / "predictions.jsonl").stat().st_size > 0


def test_the_gateway_deployer_reloads_and_checks_what_is_served(zoo: Zoo, registry: Registry,
                                                                gateway: Gateway) -> None:
    from bot.deploy.base import DeployError, Deployment
    from bot.deploy.catalog import Context, build
    from bot.policy.load import parse_deploy

    [deployer] = build(parse_deploy({"deployers": [{"type": "gateway", "url": f"http://127.0.0.1:{gateway.port}",
                                                    "timeout_s": 30}]}), Context(repo=registry.path))
    registry.models["bg"]["deployment"] = {"production": {"strategy": "blue-green", "traffic": {2: 100}}}
    sha = registry.commit("bg on green, deployed through the gateway deployer")
    outcome = deployer.deploy(Deployment("bg", "production", "2", "1", sha))
    assert outcome.status == "done" and sha[:12] in outcome.detail and "version 2 ready" in outcome.detail
    assert gateway.invoke("bg", "production", {"dataframe_records": records(zoo, 1)}).version == "2"
    assert deployer.deploy(Deployment("bg", "production", "2", "1", sha)).status == "unchanged"
    with pytest.raises(DeployError, match="with versions 2, not 9"):
        deployer.deploy(Deployment("bg", "production", "9", "2", sha))
    registry.models["bg"]["deployment"] = BG_STATE
    registry.commit("bg back on blue with a preview")
    gateway.reload()


def test_the_live_check_pins_the_candidate_and_compares_with_its_offline_predictions(
        zoo: Zoo, gateway: Gateway) -> None:
    """The canary of `tumor` gives 30 % to version 2: pinned, every row comes from version 2 (not a 70 % mix),
    so its answers equal version 2's own predictions, computed here by MLflow in this process."""
    import mlflow.pyfunc
    import pandas as pd

    from bot.deploy.base import Deployment
    from bot.deploy.verify import live_problem
    from bot.policy.deploy import LiveCheck

    frame = pd.DataFrame(records(zoo, 8))
    offline = {v: np.asarray(mlflow.pyfunc.load_model(uri).predict(frame)).tolist()
               for v, uri in (("1", zoo.tumor1), ("2", zoo.tumor2))}
    assert offline["1"] != offline["2"]  # else the check below could not tell the versions apart
    check = LiveCheck(f"http://127.0.0.1:{gateway.port}/models/{{model}}/{{stage}}/invocations", rows=8,
                      timeout_s=10)
    two = Deployment(model="tumor", stage="production", version="2", previous="1", commit="c" * 40)
    assert live_problem(check, two, frame, offline["2"]) is None
    said = live_problem(check, two, frame, offline["1"])
    assert said is not None and "differ from version 2's offline predictions" in said
    nowhere = Deployment(model="tumor", stage="nowhere", version="2", previous=None, commit="c" * 40)
    said = live_problem(check, nowhere, frame, offline["2"])
    assert said is not None and "(404)" in said  # an unknown stage is not retried as "not ready"


def test_an_ab_test_is_decided_by_feedback_labels_on_the_gateways_own_log(zoo: Zoo, gateway: Gateway) -> None:
    """Users in the `ab` production test (sticky by X-User) get answers; their true labels come back through
    /feedback; `advance` reads the log and judges accuracy per arm: the numbers equal what we count here."""
    from bot.deploy import strategies
    from bot.deploy.analysis import analyse
    from bot.deploy.traffic import JsonLinesLog
    from bot.evidence import Status
    from bot.policy.deploy import OutcomeRule, RolloutPolicy

    start = datetime.now(UTC) - timedelta(seconds=1)
    frame = zoo.data.evaluation
    rows = frame[list(zoo.data.features)].head(160).to_dict(orient="records")
    truths = frame[zoo.data.target].head(160).tolist()
    right: Counter[str] = Counter()
    seen: Counter[str] = Counter()
    for i, (row, truth) in enumerate(zip(rows, truths, strict=True)):
        rid = f"ab-{i}"
        answer = gateway.invoke("ab", "production", {"dataframe_records": [row]},
                                {"X-Request-Id": rid, "X-User": f"user-{i}"})
        assert answer.status == 200
        said = gateway.request("POST", "/feedback", json.dumps({"request_id": rid, "label": int(truth)}).encode())
        seen[answer.version or ""] += 1
        right[answer.version or ""] += said.json()["outcome"] == "correct"
    assert set(seen) == {"1", "2"}
    assert until(lambda: sum(r.get("kind") == "feedback" and r["request_id"].startswith("ab-")
                             for r in gateway.log_records()) == 160)
    ab = strategies.Rollout("ab", "2", "1", traffic={"1": 50.0, "2": 50.0}, sticky_key="X-User")
    rules = RolloutPolicy(min_requests=10, outcome=OutcomeRule("accuracy", min_labels=20, non_inferiority=0.5))
    window = JsonLinesLog(gateway.log_dir / "predictions.jsonl").window("ab", "production", ab, start, rules)
    assert window.candidate_outcomes is not None and window.stable_outcomes is not None
    assert (window.candidate_outcomes.count, window.candidate_outcomes.total) == (seen["2"], right["2"])
    assert (window.stable_outcomes.count, window.stable_outcomes.total) == (seen["1"], right["1"])
    [outcome] = [g for g in analyse(ab, rules, window) if g.gate == "outcome"]
    assert outcome.status == Status.PASS  # two logistic regressions within half a point of accuracy of each other
    strict = RolloutPolicy(min_requests=10, outcome=OutcomeRule("accuracy", min_labels=1000))
    [waiting] = [g for g in analyse(ab, strict, window) if g.gate == "outcome"]
    assert waiting.status == Status.INCONCLUSIVE  # fewer labels than the policy asks for: it waits


def test_a_shadow_is_compared_request_by_request_on_the_gateways_own_log(zoo: Zoo, gateway: Gateway) -> None:
    """`ab` staging shadows version 2 behind version 1 (all mirrored): the log pairs each mirrored answer with
    the live one; the agreement `advance` computes equals the share of equal answers counted here."""
    from bot.deploy import strategies
    from bot.deploy.traffic import JsonLinesLog
    from bot.policy.deploy import RolloutPolicy

    start = datetime.now(UTC) - timedelta(seconds=1)
    for i, row in enumerate(records(zoo, 40)):
        assert gateway.invoke("ab", "staging", {"dataframe_records": [row]}, {"X-Request-Id": f"sh-{i}"}).status == 200
    shadow = strategies.Rollout("shadow", "2", "1", traffic={"1": 100.0}, shadow="2", mirror_percent=100.0)

    def paired() -> tuple[int, int]:
        live = {r["request_id"]: r["prediction"] for r in gateway.log_records()
                if r.get("model") == "ab" and r.get("stage") == "staging" and not r.get("shadow")
                and str(r.get("request_id", "")).startswith("sh-")}
        mirrored = {r["request_id"]: r["prediction"] for r in gateway.log_records()
                    if r.get("model") == "ab" and r.get("shadow") and str(r.get("request_id", "")).startswith("sh-")}
        both = [k for k in mirrored if k in live]  # agreement is per row label: the larger probability's class
        return len(both), sum(int(np.argmax(mirrored[k][0]) == np.argmax(live[k][0])) for k in both)

    assert until(lambda: paired()[0] == 40)
    window = JsonLinesLog(gateway.log_dir / "predictions.jsonl").window("ab", "staging", shadow, start,
                                                                         RolloutPolicy())
    assert (window.compared, window.agreed) == paired()


def test_blue_greens_preview_passes_the_live_check_before_the_switch(zoo: Zoo, gateway: Gateway) -> None:
    """`bg` production previews version 2 while version 1 serves: the live check pins version 2, which
    answers from its preview colour exactly what version 2 predicts, before any client is switched to it."""
    import mlflow.pyfunc
    import pandas as pd

    from bot.deploy.base import Deployment
    from bot.deploy.verify import live_problem
    from bot.policy.deploy import LiveCheck

    if gateway.get("/models/bg/production").json().get("traffic") != {"1": 100.0}:
        gateway.reload()  # an earlier test may have switched it: start from the blue-green state of the fixture
    frame = pd.DataFrame(records(zoo, 6))
    offline = np.asarray(mlflow.pyfunc.load_model(zoo.tumor2).predict(frame)).tolist()
    check = LiveCheck(f"http://127.0.0.1:{gateway.port}/models/{{model}}/{{stage}}/invocations", timeout_s=10)
    green = Deployment(model="bg", stage="production", version="2", previous="1", commit="c" * 40)
    assert live_problem(check, green, frame, offline) is None
    client = gateway.invoke("bg", "production", {"dataframe_records": records(zoo, 1)})
    assert client.version == "1"  # clients still get blue
