"""`modelbot serve` following its ref by polling, and a model process that hangs: one small gateway of its own
(it polls, which the module gateway of test_gateway.py must not: its tests reload by hand and check what changed).

Behaviour models only (2x + y, or a predict that sleeps for ten minutes), so every process loads in seconds.
"""

from __future__ import annotations

import threading
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from tests.serving.conftest import Zoo
from tests.serving.support import Answer, Gateway, Registry, running, until

pytestmark = pytest.mark.slow

HANG_S = 2.0
FOLLOW_S = 30.0  # a poll, a state read in a process of its own, and model loads
ROWS = {"dataframe_records": [{"x": 1.0, "y": 2.0}, {"x": 3.0, "y": 0.5}]}
EXPECTED = {"predictions": [4.0, 6.5]}  # 2x + y, computed here


@pytest.fixture(scope="module")
def registry(zoo: Zoo, tmp_path_factory: pytest.TempPathFactory) -> Registry:
    reg = Registry(tmp_path_factory.mktemp("follow-repo"))
    reg.set("follow", {"1": zoo.healthy, "5": zoo.chatty}, {"staging": "5", "production": "1"}, commit=False)
    reg.set("hang", {"1": zoo.store.behaviour(delay_s=600.0)}, {"production": "1"}, commit=False)
    reg.commit("The following tests' registry")
    return reg


@pytest.fixture(scope="module")
def gateway(zoo: Zoo, registry: Registry, tmp_path_factory: pytest.TempPathFactory) -> Iterator[Gateway]:
    zoo.store.point()
    with running(registry.path, zoo.env, tmp_path_factory.mktemp("follow-log"), poll_s=0.2, hang_s=HANG_S) as gw:
        yield gw


def served_commit(gateway: Gateway) -> str:
    return str(gateway.get("/models").json()["commit"])


def backend(gateway: Gateway, model: str, version: str) -> dict[str, Any]:
    found: list[dict[str, Any]] = [v for v in gateway.stage(model, "production")["versions"] if v["version"] == version]
    return found[0]


def test_a_new_commit_on_the_ref_is_served_without_a_reload(registry: Registry, gateway: Gateway) -> None:
    first = gateway.invoke("follow", "production", ROWS)
    assert first.status == 200 and first.version == "1" and first.json() == EXPECTED
    applied = gateway.metric("modelbot_reloads_total", outcome="applied")

    registry.models["follow"]["stages"]["production"] = 5
    registry.models["follow"]["deployment"] = {"production": {"strategy": "direct", "traffic": {5: 100}}}
    sha = registry.commit("follow production on version 5, directly")
    assert until(lambda: served_commit(gateway) == sha, FOLLOW_S), gateway.get("/models").json()
    answer = gateway.invoke("follow", "production", ROWS)
    assert answer.status == 200 and answer.version == "5" and answer.json() == EXPECTED
    assert answer.headers["x-modelbot-fallback"] == "false"
    assert gateway.stage("follow", "production")["traffic"] == {"5": 100.0}
    assert gateway.metric("modelbot_reloads_total", outcome="applied") == applied + 1

    # a commit that cannot be served is reported and the gateway keeps serving the last good one; the next good
    # commit on the ref is followed again
    registry.repo.write("models.yaml", "version: 1\nmodels: [not, a, mapping]\n")
    broken = registry.repo.commit("A models.yaml that does not parse as a registry")
    assert until(lambda: bool(gateway.get("/models").json()["reload_error"]), FOLLOW_S)
    assert served_commit(gateway) == sha and broken != sha
    assert gateway.invoke("follow", "production", ROWS).version == "5"
    failed = gateway.metric("modelbot_reloads_total", outcome="failed")
    assert failed >= 1

    registry.models["follow"]["stages"]["production"] = 1
    registry.models["follow"]["deployment"] = {"production": {"strategy": "direct", "traffic": {1: 100}}}
    fixed = registry.commit("follow production back on version 1, directly")
    assert until(lambda: served_commit(gateway) == fixed, FOLLOW_S)
    assert gateway.get("/models").json()["reload_error"] is None
    assert gateway.invoke("follow", "production", ROWS).version == "1"
    assert gateway.metric("modelbot_reloads_total", outcome="failed") == failed  # the broken commit read once


def nice_of_each_thread(pid: int) -> set[int]:
    """The nice value of every thread of a process, from /proc (field 19 of each task's stat)."""
    found = set()
    for task in Path(f"/proc/{pid}/task").iterdir():
        fields = (task / "stat").read_text().rsplit(")", 1)[1].split()
        found.add(int(fields[16]))  # fields after the name start at field 3 (state)
    return found


def test_a_shadow_is_loaded_before_the_reload_returns_and_yields_the_cpu(zoo: Zoo, registry: Registry,
                                                                          gateway: Gateway) -> None:
    uris = {"1": zoo.healthy, "5": zoo.chatty, "7": zoo.store.behaviour(delay_s=0.01)}
    registry.set("follow", uris, {"staging": "5", "production": "7"},
                 {"production": {"strategy": "shadow", "traffic": {1: 100}, "shadow": 7, "mirror_percent": 100}})
    gateway.reload()  # (or the poller got there first: then this waited for it)
    seven, one = backend(gateway, "follow", "7"), backend(gateway, "follow", "1")
    assert seven["role"] == "shadow" and seven["state"] == "ready" and seven["pid"], seven
    # the process that only answers mirrored requests runs at nice 10, each of its threads; the live one at 0
    assert nice_of_each_thread(int(seven["pid"])) == {10}
    assert nice_of_each_thread(int(one["pid"])) == {0}
    for _ in range(5):
        answer = gateway.invoke("follow", "production", ROWS)
        assert answer.status == 200 and answer.version == "1" and answer.json() == EXPECTED
    assert until(lambda: gateway.metric("modelbot_shadow_compared_total", model="follow", version="7") >= 5, FOLLOW_S)
    assert gateway.metric("modelbot_shadow_agreed_total", model="follow", version="7") >= 5  # 2x + y both
    assert gateway.metric("modelbot_shadow_errors_total", model="follow", version="7") == 0  # none 'not loaded'


def test_a_hung_model_is_killed_and_restarted_while_other_versions_answer(gateway: Gateway) -> None:
    before = backend(gateway, "hang", "1")
    healthy = {v: backend(gateway, "follow", v)["pid"] for v in ("1",)}
    assert before["state"] == "ready" and before["restarts"] == 0
    hung: list[Answer] = []
    done = threading.Event()

    def ask() -> None:
        mine = Gateway.__new__(Gateway)
        mine.port, mine._conn = gateway.port, None
        hung.append(mine.invoke("hang", "production", ROWS))
        done.set()

    asker = threading.Thread(target=ask)
    asker.start()
    try:
        assert until(lambda: backend(gateway, "hang", "1")["inflight"] == 1, 10.0)
        # while version 1 of `hang` holds the request, the other versions answer
        meanwhile: list[tuple[int, str | None, Any, bool]] = []
        while not done.is_set() and len(meanwhile) < 50:
            answer = gateway.invoke("follow", "production", ROWS)
            meanwhile.append((answer.status, answer.version, answer.json(), done.is_set()))
    finally:
        asker.join(60)
    assert any(not after for *_, after in meanwhile), "no other request was answered during the hang"
    assert all(status == 200 and version == "1" and body == EXPECTED for status, version, body, _ in meanwhile)

    [answer] = hung
    assert answer.status == 502 and answer.version == "1", answer.body
    assert f"held a request longer than {HANG_S:g}s and was stopped" in answer.json()["message"]
    assert "Traceback" not in answer.body.decode()

    def restarted() -> bool:
        now = backend(gateway, "hang", "1")
        return bool(now["restarts"] >= 1 and now["state"] == "ready" and now["pid"] not in (None, before["pid"]))

    assert until(restarted, FOLLOW_S), backend(gateway, "hang", "1")
    assert gateway.metric("modelbot_request_errors_total", model="hang", version="1", reason="hung") == 1
    assert gateway.metric("modelbot_backend_restarts_total", model="hang", version="1") >= 1
    # the other version's process was never touched, and the gateway is ready again
    assert {v: backend(gateway, "follow", v)["pid"] for v in healthy} == healthy
    assert backend(gateway, "follow", "1")["restarts"] == 0
    assert gateway.get("/readyz").status == 200
