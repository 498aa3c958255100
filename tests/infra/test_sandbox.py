"""The sandbox with real `mlflow models serve` processes: a healthy server and the client and load tester
against it; then every way a start can go wrong, each a SandboxError with the reason and the server's last
lines, within the deadline, and no process left in the server's group; then the bot itself dying."""

from __future__ import annotations

import http.server
import json
import os
import shutil
import signal
import subprocess
import sys
import tempfile
import textwrap
import threading
import time
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import Any

import pytest

from bot.infra import loadtest, procs, sandbox
from bot.infra.client import Connection, encode_split, predictions, prepare
from tests.infra.conftest import InfraStore, group_gone, xy_frame


def spec(store: InfraStore, uri: str, **overrides: Any) -> sandbox.SandboxSpec:
    return sandbox.SandboxSpec(uri, **{"load_deadline_s": 60.0, "env": store.env(), **overrides})


@pytest.fixture(scope="module")
def slow_server(store: InfraStore) -> Iterator[dict[str, Any]]:
    """A model that sleeps 50 ms per predict, served for the whole module."""
    with sandbox.serve(spec(store, store.behaviour(delay_s=0.05))) as server:
        yield {"server": server, "members": procs.group_members(server.pgid)}
    assert group_gone(server.pgid)


def test_a_healthy_server_runs_in_its_own_group_and_answers_the_serving_api(slow_server: dict[str, Any]) -> None:
    server = slow_server["server"]
    assert server.load_s and server.load_s > 0 and [a.ok for a in server.attempts] == [True]
    assert server.serving_pid in slow_server["members"] and server.pgid in slow_server["members"]
    assert server.alive() and server.death() is None
    frame = xy_frame(7)
    conn = Connection(server.port, timeout_s=10)
    try:
        reply = conn.exchange(prepare(server.port, encode_split(frame)))
        assert reply.status == 200
        assert predictions(reply.body, 7) == (2 * frame["x"] + frame["y"]).tolist()
        first = conn._sock.getsockname() if conn._sock else None
        conn.exchange(prepare(server.port, encode_split(frame)))
        assert conn._sock is not None and conn._sock.getsockname() == first, "the connection is kept alive"
    finally:
        conn.close()


def test_the_load_test_sends_exactly_the_requests_asked_and_measures_the_models_delay(
        slow_server: dict[str, Any]) -> None:
    server = slow_server["server"]
    payloads = [loadtest.Payload(prepare(server.port, encode_split(xy_frame(1))), 1)]
    result = loadtest.run(server.port, payloads, loadtest.LoadSpec(concurrency=3, requests=30, warmup=3),
                          server.death)
    assert (result.sent, result.ok, result.error_rate, result.aborted) == (30, 30, 0.0, None)
    assert 50 <= result.p50_ms <= result.p95_ms <= result.p99_ms <= result.max_ms
    assert result.throughput_rps == pytest.approx(30 / result.wall_s)
    assert server.peak_rss_bytes > 50 * 2**20


def test_a_load_test_by_duration_runs_for_that_long(slow_server: dict[str, Any]) -> None:
    server = slow_server["server"]
    payloads = [loadtest.Payload(prepare(server.port, encode_split(xy_frame(2))), 2)]
    result = loadtest.run(server.port, payloads, loadtest.LoadSpec(concurrency=2, requests=None, duration_s=0.5),
                          server.death)
    assert result.wall_s >= 0.5 and result.sent == result.ok > 0


class _Impostor(http.server.BaseHTTPRequestHandler):
    """Another program on the port, answering /ping like a healthy model server would."""

    def do_GET(self) -> None:
        self.send_response(200)
        self.end_headers()

    def log_message(self, *args: Any) -> None:
        pass


def _attempt(server_spec: sandbox.SandboxSpec) -> dict[str, Any]:
    started = time.monotonic()
    try:
        with sandbox.serve(server_spec) as server:
            outcome: dict[str, Any] = {"server": server}
    except sandbox.SandboxError as exc:
        outcome = {"error": exc}
    outcome["seconds"] = time.monotonic() - started
    return outcome


@pytest.fixture(scope="module")
def starts(store: InfraStore, tmp_path_factory: pytest.TempPathFactory) -> Iterator[dict[str, dict[str, Any]]]:
    """Every failing start, run three at a time (each mostly waits for Python to import MLflow)."""
    # The model deletes the marker, so it lives where the model's own user may write: not in pytest's folders
    # (closed to it when the bot runs as root and models run as another user), nor in /tmp (private to each
    # model's mount namespace); /run is neither.
    shared = Path(tempfile.mkdtemp(prefix="modelbot-flaky-", dir="/run" if os.path.isdir("/run") else None))
    shared.chmod(0o777)
    marker = shared / "fail-once"
    marker.write_text("")
    impostor = http.server.ThreadingHTTPServer(("127.0.0.1", 0), _Impostor)
    threading.Thread(target=impostor.serve_forever, daemon=True).start()
    cases = {
        "fails_to_load": spec(store, store.behaviour(fail_load=True), tries=2),
        "never_healthy": spec(store, store.behaviour(load_sleep_s=600), load_deadline_s=8),
        "port_taken": spec(store, store.behaviour(), port=impostor.server_address[1], load_deadline_s=30),
        "memory": spec(store, store.behaviour(), memory_mb=100),
        "flaky": spec(store, store.behaviour(fail_once=str(marker)), tries=2),
    }
    try:
        with ThreadPoolExecutor(max_workers=3) as pool:
            futures = {name: pool.submit(_attempt, case) for name, case in cases.items()}
            yield {name: future.result() for name, future in futures.items()}
    finally:
        impostor.shutdown()
        shutil.rmtree(shared, ignore_errors=True)


def _no_orphans(error: sandbox.SandboxError) -> None:
    assert error.attempts and all(group_gone(a.pgid) for a in error.attempts)


def test_a_model_that_fails_to_load_is_reported_with_its_error_after_each_try(starts: dict[str, Any]) -> None:
    error = starts["fails_to_load"]["error"]
    assert len(error.attempts) == 2 and "did not load in 2 tries" in error.reason
    assert "exited with code" in error.reason and "before it became healthy" in error.reason
    assert any("refusing to load (fail_load)" in line for line in error.log_tail)
    _no_orphans(error)


def test_a_server_that_never_gets_healthy_is_ended_at_the_load_deadline(starts: dict[str, Any]) -> None:
    found = starts["never_healthy"]
    error = found["error"]
    assert "not healthy within the load deadline of 8 s" in error.reason
    # ended at the deadline, not later: the margin covers stopping the tree on a busy 2-core machine
    assert error.attempts[0].seconds >= 8 and found["seconds"] < 8 + 15
    _no_orphans(error)


def test_a_taken_port_is_not_mistaken_for_a_healthy_server(starts: dict[str, Any]) -> None:
    error = starts["port_taken"]["error"]
    assert "another program answers on port" in error.reason
    assert any("address already in use" in line.lower() for line in error.log_tail)
    _no_orphans(error)


def test_a_server_over_its_memory_limit_is_killed(starts: dict[str, Any]) -> None:
    error = starts["memory"]["error"]
    assert "exceeded its memory limit of 100 MB" in error.reason
    _no_orphans(error)


def test_a_transient_failure_is_retried_on_a_fresh_port(starts: dict[str, Any]) -> None:
    server = starts["flaky"]["server"]
    first, second = server.attempts
    assert not first.ok and first.port != second.port and second.ok
    assert any("failing this once" in line for line in first.log_tail)
    assert group_gone(first.pgid) and group_gone(second.pgid)


_BOT = textwrap.dedent("""
    import sys, time
    from bot.infra import sandbox
    spec = sandbox.SandboxSpec(sys.argv[1], load_deadline_s=60, env={})
    with sandbox.serve(spec) as server:
        print("READY", server.pgid, flush=True)
        time.sleep(600)
""")


@pytest.fixture(scope="module")
def bots(store: InfraStore) -> Iterator[dict[str, tuple[subprocess.Popen[str], int]]]:
    """Two bot processes, each holding a healthy server, to be ended by a signal."""
    started = {}
    for name in ("sigterm", "sigkill"):
        bot = subprocess.Popen([sys.executable, "-c", _BOT, store.behaviour()], stdout=subprocess.PIPE, text=True,
                               env={**os.environ, **store.env()})
        started[name] = bot
    ready = {}
    for name, bot in started.items():
        line = bot.stdout.readline() if bot.stdout else ""
        assert line.startswith("READY"), f"the bot did not start its server: {line!r}"
        ready[name] = (bot, int(line.split()[1]))
    yield ready
    for bot in started.values():
        bot.kill()
        bot.wait()


def _gone_within(pgid: int, seconds: float) -> bool:
    deadline = time.monotonic() + seconds
    while not group_gone(pgid):
        if time.monotonic() > deadline:
            return False
        time.sleep(0.1)
    return True


@pytest.mark.parametrize("name, sig", [("sigterm", signal.SIGTERM), ("sigkill", signal.SIGKILL)])
def test_a_bot_that_is_terminated_or_killed_takes_its_server_with_it(
        bots: dict[str, tuple[subprocess.Popen[str], int]], name: str, sig: int) -> None:
    bot, pgid = bots[name]
    assert procs.group_members(pgid), "the server runs before the signal"
    bot.send_signal(sig)
    code = bot.wait(timeout=30)
    assert code == (128 + signal.SIGTERM if sig == signal.SIGTERM else -signal.SIGKILL)
    assert _gone_within(pgid, 20), procs.group_members(pgid, include_zombies=True)


def test_logs_are_read_from_the_end(tmp_path: Path) -> None:
    log = tmp_path / "server.log"
    log.write_text("".join(f"line {i}\n" for i in range(100_000)))
    assert sandbox.tail(log, 3) == ["line 99997", "line 99998", "line 99999"]
    assert sandbox.tail(tmp_path / "missing.log") == []
    trace = ["Traceback (most recent call last):", '  File "x.py", line 1', "    boom()", "    ^^^^",
             "ValueError: boom"]
    log.write_text("\n".join(trace) + "\n")
    assert sandbox.tail(log) == ["Traceback (most recent call last):", "ValueError: boom"]


def test_the_server_command_is_mlflow_models_serve_on_loopback_with_the_local_env_manager() -> None:
    argv = sandbox.command(sandbox.SandboxSpec("models:/m/3", workers=2, request_timeout_s=7), 5123)
    serve = argv[1:]
    assert serve[:4] == ["-m", "mlflow", "models", "serve"]
    flags = dict(zip(serve[4::2], serve[5::2], strict=True))
    assert flags == {"-m": "models:/m/3", "--env-manager": "local", "-h": "127.0.0.1", "-p": "5123", "-w": "2",
                     "-t": "7"}
    assert json.loads(json.dumps(argv)) == argv
