"""`modelbot serve` asked to stop with SIGTERM, as a real process: the requests in flight are answered, the
model processes end, the prediction log holds every answer, and the exit code is 0."""

from __future__ import annotations

import contextlib
import http.client
import json
import signal
import threading
from pathlib import Path

import pytest

from tests.serving.conftest import Zoo
from tests.serving.support import Gateway, Registry, until

pytestmark = pytest.mark.slow


def tree(pid: int) -> list[Path]:
    """A process and its descendants through /proc's children lists (model processes have sessions of their
    own, so no group or session names them all)."""
    found = [Path("/proc") / str(pid)]
    for task in (found[0] / "task").iterdir():
        with contextlib.suppress(OSError):
            for child in (task / "children").read_text().split():
                found += tree(int(child))
    return found


def alive(proc: Path) -> bool:
    """The process exists and is not a zombie."""
    try:
        return (proc / "stat").read_text().rsplit(")", 1)[1].split()[0] != "Z"
    except OSError:
        return False


def test_sigterm_answers_the_requests_in_flight_then_stops_everything_and_exits_0(zoo: Zoo, tmp_path: Path) -> None:
    registry = Registry(tmp_path / "repo")  # production: 3 s before a fallback, far above the model's 1 s
    registry.set("slow", {"1": zoo.slow}, {"production": "1"},
                 {"production": {"strategy": "direct", "traffic": {1: 100}}})
    zoo.store.point()
    gateway = Gateway(registry.path, zoo.env, tmp_path / "log")
    try:
        gateway.wait_ready()
        processes = tree(gateway.proc.pid)
        assert len(processes) >= 3  # the gateway, its model-host server, the model process
        rows = {"1": {"x": 1.0, "y": 0.5}, "2": {"x": 3.0, "y": 2.0}}  # the model answers 2x + y after 1 s
        answers: dict[str, tuple[int, str | None, bytes]] = {}

        def ask(request_id: str) -> None:
            conn = http.client.HTTPConnection("127.0.0.1", gateway.port, timeout=60)
            conn.request("POST", "/models/slow/production/invocations",
                         json.dumps({"dataframe_records": [rows[request_id]]}),
                         {"Content-Type": "application/json", "X-Request-Id": f"in-flight-{request_id}"})
            got = conn.getresponse()
            answers[request_id] = (got.status, got.getheader("X-Modelbot-Version"), got.read())
            conn.close()

        askers = [threading.Thread(target=ask, args=(i,)) for i in rows]
        for asker in askers:
            asker.start()

        def in_flight() -> bool:
            [one] = gateway.stage("slow", "production")["versions"]
            return bool(one["inflight"] == len(rows))

        assert until(in_flight, 10.0)
        gateway.proc.send_signal(signal.SIGTERM)
        for asker in askers:
            asker.join(30)
        assert gateway.proc.wait(60) == 0, gateway.tail()
    finally:
        gateway.stop()
    for request_id, row in rows.items():
        status, version, body = answers[request_id]
        assert (status, version) == (200, "1"), body
        assert json.loads(body) == {"predictions": [2 * row["x"] + row["y"]]}
    assert until(lambda: not any(alive(p) for p in processes), 10.0), [p for p in processes if alive(p)]
    logged = {r["request_id"]: r for r in gateway.log_records()}
    for request_id in rows:
        record = logged[f"in-flight-{request_id}"]
        assert (record["status"], record["served_by"]) == (200, "1")
    assert "Traceback" not in gateway.tail()
