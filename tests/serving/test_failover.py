"""A dead model process fails over at once, and a saturated shadow drops mirrors it counts: one small gateway
on behaviour models (2x + y), real processes, real HTTP.

What is asserted is the gateway's own account (who answered, `X-Modelbot-Fallback-Reason`, its metrics, its
log), never a duration: the policy's timeout is 3 s, so an answer that waited for it says `timeout`.
"""

from __future__ import annotations

import os
import signal
import threading
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from tests.serving.conftest import Zoo
from tests.serving.support import Answer, Gateway, Registry, running, until

pytestmark = pytest.mark.slow

MODEL_CODE = Path(__file__).with_name("helper_model.py")
ROWS = {"dataframe_records": [{"x": 1.0, "y": 2.0}]}
EXPECTED = {"predictions": [4.0]}  # 2x + y, computed here
MIRROR_QUEUE = 2


def log_helper_model(zoo: Zoo, config: dict[str, Any]) -> str:
    """The registry URI of tests/serving/helper_model.py logged with this model_config."""
    import mlflow
    from mlflow.models import infer_signature

    from tests.infra.conftest import xy_frame

    zoo.store.point()
    example = xy_frame(3)
    signature = infer_signature(example, (2 * example["x"] + example["y"]).to_numpy())
    with mlflow.start_run(experiment_id=zoo.store.mlflow.experiment_id):
        info = mlflow.pyfunc.log_model(name="model", python_model=str(MODEL_CODE), model_config=config,
                                       signature=signature, pip_requirements=["mlflow"],
                                       registered_model_name="failover")
    return f"models:/failover/{info.registered_model_version}"


@pytest.fixture(scope="module")
def gateway(zoo: Zoo, tmp_path_factory: pytest.TempPathFactory) -> Iterator[Gateway]:
    # kill: answers in 1 s, reloads in >= 2 s (a request right after a kill finds it restarting)
    kill = log_helper_model(zoo, {"delay_s": 1.0, "load_sleep_s": 2.0})
    helper = log_helper_model(zoo, {"delay_s": 1.0, "helper": True})  # its pipe outlives it
    reg = Registry(tmp_path_factory.mktemp("failover-repo"))  # production: fallback to version 1 after 3 s
    reg.set("kill", {"1": zoo.healthy, "2": kill}, {"production": "2"}, {"production": direct()}, commit=False)
    reg.set("helper", {"1": zoo.healthy, "2": helper}, {"production": "2"}, {"production": direct()}, commit=False)
    reg.set("mirror", {"1": zoo.healthy, "3": zoo.slow}, {"production": "3"},
            {"production": {"strategy": "shadow", "traffic": {1: 100}, "shadow": 3, "mirror_percent": 100}},
            commit=False)
    reg.commit("failover models")
    zoo.store.point()
    with running(reg.path, zoo.env, tmp_path_factory.mktemp("failover-log"),
                 extra=("--mirror-queue", str(MIRROR_QUEUE))) as gw:
        yield gw


def direct() -> dict[str, Any]:
    """Version 2 serves, version 1 falls back (a new dict each time: shared ones would be YAML anchors)."""
    return {"strategy": "direct", "traffic": {2: 100}, "fallback": 1}


def backend(gateway: Gateway, model: str, version: str) -> dict[str, Any]:
    [found] = [v for v in gateway.stage(model, "production")["versions"] if v["version"] == version]
    return found


def in_flight(gateway: Gateway, model: str, count: int) -> list[Answer]:
    """Send `count` requests from threads of their own; returns the list their answers land in."""
    answers: list[Answer] = []

    def ask() -> None:
        mine = Gateway.__new__(Gateway)
        mine.port, mine._conn = gateway.port, None
        answers.append(mine.invoke(model, "production", ROWS))

    for _ in range(count):
        threading.Thread(target=ask, daemon=True).start()
    return answers


def fallbacks(gateway: Gateway, model: str) -> dict[str, float]:
    """The gateway's fallback answers for `model`, by why the routed version failed."""
    out: dict[str, float] = {}
    for (name, labels), value in gateway.metrics().items():
        found = dict(labels)
        if name == "modelbot_fallbacks_total" and found["model"] == model:
            out[found["reason"]] = out.get(found["reason"], 0.0) + value
    return out


def test_a_killed_process_fails_over_at_once_and_comes_back_warm(gateway: Gateway) -> None:
    before = backend(gateway, "kill", "2")
    answers = in_flight(gateway, "kill", 2)
    assert until(lambda: backend(gateway, "kill", "2")["inflight"] == 2, 10.0)
    os.kill(int(before["pid"]), signal.SIGKILL)
    assert until(lambda: len(answers) == 2, 10.0)
    # the two it held: answered by the fallback, for a crash (not after the policy's 3 s timeout)
    assert [(a.status, a.version, a.json(), a.headers["x-modelbot-fallback-reason"]) for a in answers] == [
        (200, "1", EXPECTED, "crashed")
    ] * 2
    # while it restarts (a reload of >= 2 s), requests go straight to the fallback: it is not asked at all
    after = gateway.invoke("kill", "production", ROWS)
    assert (after.status, after.version, after.json(), after.headers["x-modelbot-fallback-reason"]) == (
        200, "1", EXPECTED, "down")
    assert fallbacks(gateway, "kill") == {"crashed": 2.0, "down": 1.0}

    def back() -> bool:
        now = backend(gateway, "kill", "2")
        return bool(now["state"] == "ready" and now["restarts"] == 1)

    assert until(back, 30.0)
    # replayed the stage's recent requests (the three above) before it took any
    again = backend(gateway, "kill", "2")
    assert again["warmed"] == 3 and again["answered"] == 3 and again["pid"] != before["pid"], again
    answer = gateway.invoke("kill", "production", ROWS)
    assert (answer.status, answer.version, answer.headers["x-modelbot-fallback"]) == (200, "2", "false")


def test_a_process_whose_pipe_outlives_it_fails_over_at_its_exit(gateway: Gateway) -> None:
    """The helper process the model started holds the answers' pipe open: no end of file comes when the model's
    own process is killed, only its exit says it is gone."""
    before = backend(gateway, "helper", "2")
    answers = in_flight(gateway, "helper", 2)
    assert until(lambda: backend(gateway, "helper", "2")["inflight"] == 2, 10.0)
    os.kill(int(before["pid"]), signal.SIGKILL)  # the process alone, not its group: the helper lives on
    assert until(lambda: len(answers) == 2, 10.0)
    assert [(a.status, a.version, a.headers["x-modelbot-fallback-reason"]) for a in answers] == [
        (200, "1", "crashed")
    ] * 2
    assert "timeout" not in fallbacks(gateway, "helper")


def test_a_saturated_shadow_drops_mirrors_and_counts_them(gateway: Gateway) -> None:
    """The shadow (version 3) takes 1 s an answer; its lane holds 2 mirrors waiting and 2 sent: of 12 requests
    sent back to back, those beyond are dropped, counted and logged, and the rest compared."""
    sent = 12
    labels = {"model": "mirror", "stage": "production", "version": "3"}
    for number in range(sent):
        answer = gateway.invoke("mirror", "production", ROWS, {"X-Request-Id": f"mirror-{number}"})
        assert (answer.status, answer.version, answer.json()) == (200, "1", EXPECTED)

    def settled() -> float:
        return sum(gateway.metric(f"modelbot_shadow_{what}_total", **labels) for what in ("compared", "errors",
                                                                                       "dropped"))

    assert until(lambda: settled() == sent, 30.0)
    compared = gateway.metric("modelbot_shadow_compared_total", **labels)
    dropped = gateway.metric("modelbot_shadow_dropped_total", **labels, reason="full")
    assert gateway.metric("modelbot_shadow_errors_total", **labels) == 0
    assert dropped >= 1 and compared >= MIRROR_QUEUE + 2  # the lane's 2 waiting and 2 sent at least
    assert gateway.metric("modelbot_shadow_agreed_total", **labels) == compared  # 2x + y both

    def drop_lines() -> list[dict[str, Any]]:
        return [r for r in gateway.log_records() if r.get("kind") == "shadow_dropped" and r["model"] == "mirror"]

    assert until(lambda: sum(r["dropped"] for r in drop_lines()) == dropped, 10.0)
    assert all(r["shadow"] is True and r["error"] and r["reason"] == "full" for r in drop_lines())

    def mirrored() -> set[str]:
        return {r["request_id"] for r in gateway.log_records() if r.get("shadow") and "agreed" in r}

    assert until(lambda: len(mirrored()) == compared, 10.0)  # the log is written every 0.2 s
    assert mirrored() <= {f"mirror-{n}" for n in range(sent)}
    assert "mirrored request(s) to shadow version 3 dropped" in gateway.tail()
    # the shadow yields the CPU to the live version: its session's scheduling group too, where there is one
    shadow, live = backend(gateway, "mirror", "3"), backend(gateway, "mirror", "1")
    for found, nice in ((shadow, "10"), (live, "0")):
        group = Path(f"/proc/{found['pid']}/autogroup")
        if group.exists():  # autogroup kernels: '/autogroup-N nice K'
            assert group.read_text().split()[-1] == nice, (found, group.read_text())
