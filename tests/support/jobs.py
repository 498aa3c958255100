"""A bot run as a job of its own (a separate process, as a runner runs it), which localhub can kill right after
its k-th API request (`localhub.faults.JobKill`); then re-run, as GitHub's "Re-run job" does.

    result = run_job(hub, tmp_path / "run1", handle_comment, event, env=store.env(), kill_after=3)
    assert result.killed

`flow(ctx, *args)` must be importable by name (a module-level function); the job builds its own context (a
fresh adapter and a fresh clone of the repository, as a new run does) and prints nothing the caller needs but
its result's `outcome`, if it has one.

Each job is a process forked from a job server (`Forker`): one process per test session that has imported the
bot and the libraries its flows use (MLflow's pyfunc, scikit-learn, pandas: seconds of imports a fresh process
would pay in every job) and nothing else, so a job starts where a fresh interpreter would be after those
imports. A job is still a process of its own, with the environment and working directory it is given,
its own stdout and stderr, killed with everything it started, and reaped for its exit code.
"""

from __future__ import annotations

import contextlib
import importlib
import os
import pickle
import selectors
import signal
import socket
import subprocess
import sys
import threading
import time
import traceback
from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path
from typing import Any

from localhub.faults import JobKill, kill_tree
from localhub.hub import ACTIONS_BOT

ROOT = Path(__file__).resolve().parents[2]
# What jobs import, imported once by the job server (a job imports anything else itself, as it would anyway).
PRELOAD = (
    "bot.flows.context",
    "bot.github.client",
    "bot.flows.commands",
    "bot.flows.validate_pr",
    "bot.flows.sweep",
    "bot.actions.deploys",
    "bot.validation.engine",
    "mlflow.pyfunc",
    "mlflow.tracking",
    "sklearn.linear_model",
    "tests.support.handler_runs",
)


@dataclass(frozen=True)
class JobResult:
    returncode: int
    killed: bool
    outcome: str | None
    stderr: str


@dataclass(frozen=True)
class JobSpec:
    api_url: str
    repository: str
    token: str
    clone_url: str
    workdir: str
    now: datetime
    flow: Callable[..., Any]
    args: tuple[Any, ...]


def run_job(running: Any, workdir: Path, flow: Callable[..., Any], *args: Any, now: datetime,
            env: dict[str, str] | None = None, kill_after: int | None = None, timeout: float = 600) -> JobResult:
    """Run `flow(ctx, *args)` in a job process acting as github-actions[bot]; with `kill_after=k`, localhub
    kills it (and everything it started) right after its k-th API request took effect."""
    hub = running.hub
    workdir.mkdir(parents=True, exist_ok=True)
    spec = JobSpec(running.url, hub.state.repo.full_name, hub.token_for(ACTIONS_BOT), hub.clone_url(), str(workdir),
                   now, flow, args)
    kill = JobKill(ACTIONS_BOT, kill_after) if kill_after is not None else None
    running.faults.kill = kill
    try:
        job = Forker.shared().start(pickle.dumps(spec), {**os.environ, **(env or {}), "PYTHONPATH": str(ROOT)},
                                    flow.__module__)
        if kill is not None:
            kill.arm(job.pid)
        out, err, code = job.communicate(timeout)
    finally:
        running.faults.kill = None
    killed = kill is not None and kill.killed
    text = out.decode(errors="replace").strip().splitlines()
    outcome = text[-1] if text and code == 0 else None
    if not killed and code != 0:
        raise AssertionError(f"the job failed ({code}):\n{err.decode(errors='replace')[-4000:]}")
    return JobResult(code, killed, outcome, err.decode(errors="replace"))


class Job:
    """One forked job: its pid and its output pipes."""

    def __init__(self, forker: Forker, pid: int, out: int, err: int) -> None:
        self.forker, self.pid, self._pipes = forker, pid, {out: bytearray(), err: bytearray()}
        self._out, self._err = out, err

    def communicate(self, timeout: float) -> tuple[bytes, bytes, int]:
        """Read stdout and stderr to their end, then reap the job for its exit code (negative: the signal that
        ended it); past `timeout`, kill it (and all it started) and raise."""
        deadline = time.monotonic() + timeout
        with selectors.DefaultSelector() as selector:
            for fd in self._pipes:
                selector.register(fd, selectors.EVENT_READ)
            while selector.get_map():
                left = deadline - time.monotonic()
                if left <= 0:
                    kill_tree(self.pid)
                    self.forker.reap(self.pid)
                    raise subprocess.TimeoutExpired(f"job {self.pid}", timeout)
                for key, _ in selector.select(left):
                    chunk = os.read(key.fd, 1 << 16)
                    if chunk:
                        self._pipes[key.fd] += chunk
                    else:
                        selector.unregister(key.fd)
                        os.close(key.fd)
        return bytes(self._pipes[self._out]), bytes(self._pipes[self._err]), self.forker.reap(self.pid)


class Forker:
    """The job server: `python -m tests.support.jobs --forker FD`, spoken to over a socket pair (a request and
    the job's stdout and stderr descriptors in; its pid, or the exit code of a job reaped, out)."""

    _shared: Forker | None = None
    _guard = threading.Lock()

    @classmethod
    def shared(cls) -> Forker:
        with cls._guard:
            if cls._shared is None or cls._shared.proc.poll() is not None:
                cls._shared = cls()
            return cls._shared

    def __init__(self) -> None:
        ours, theirs = socket.socketpair(socket.AF_UNIX, socket.SOCK_SEQPACKET)
        self.proc = subprocess.Popen([sys.executable, "-m", "tests.support.jobs", "--forker", str(theirs.fileno())],
                                     cwd=ROOT, pass_fds=[theirs.fileno()], stdout=subprocess.DEVNULL,
                                     env={**os.environ, "PYTHONPATH": str(ROOT)})
        theirs.close()
        self.sock = ours
        self._lock = threading.Lock()
        if self.sock.recv(64) != b"ready":
            raise RuntimeError(f"the job server did not start (exit {self.proc.wait()})")

    def start(self, spec: bytes, env: dict[str, str], module: str) -> Job:
        out_r, out_w = os.pipe()
        err_r, err_w = os.pipe()
        try:
            with self._lock:
                request = pickle.dumps({"spec": spec, "env": env, "module": module})
                socket.send_fds(self.sock, [request], [out_w, err_w])
                pid = pickle.loads(self.sock.recv(1 << 16))
        finally:
            os.close(out_w)
            os.close(err_w)
        return Job(self, int(pid), out_r, err_r)

    def reap(self, pid: int) -> int:
        with self._lock:
            self.sock.send(pickle.dumps({"reap": pid}))
            return int(pickle.loads(self.sock.recv(1 << 16)))


def serve(fd: int) -> int:
    """The job server's loop: import what jobs use, then fork one child per request, until the socket closes."""
    from bot.sandboxing import die_with_parent

    die_with_parent(signal.SIGKILL)
    sock = socket.socket(fileno=fd)
    for name in PRELOAD:
        importlib.import_module(name)
    sock.send(b"ready")
    while True:
        try:
            data, fds, _, _ = socket.recv_fds(sock, 1 << 20, 2)
        except OSError:
            return 0
        if not data:
            return 0
        request = pickle.loads(data)
        if "reap" in request:
            _, status = os.waitpid(int(request["reap"]), 0)
            sock.send(pickle.dumps(os.waitstatus_to_exitcode(status)))
            continue
        with contextlib.suppress(Exception):  # the flow's module, kept for the next jobs (else the job imports it)
            importlib.import_module(request["module"])
        pid = os.fork()
        if pid == 0:
            _child(sock, fds, request)
        for descriptor in fds:
            os.close(descriptor)
        sock.send(pickle.dumps(pid))


def _child(sock: socket.socket, fds: list[int], request: dict[str, Any]) -> None:
    """One job, in the forked child: the descriptors, environment and directory it was given, then the flow."""
    code = 1
    try:
        sock.close()
        null = os.open(os.devnull, os.O_RDONLY)
        for target, descriptor in ((0, null), (1, fds[0]), (2, fds[1])):
            os.dup2(descriptor, target)
            os.close(descriptor)
        os.environ.clear()
        os.environ.update(request["env"])
        os.chdir(ROOT)
        code = job(pickle.loads(request["spec"]))
    except SystemExit as exc:
        code = exc.code if isinstance(exc.code, int) else 1
    except BaseException:
        traceback.print_exc()
    finally:
        with contextlib.suppress(Exception):
            sys.stdout.flush()
            sys.stderr.flush()
        os._exit(code)


def _context(spec: JobSpec) -> Any:
    from bot.flows.context import BotContext
    from bot.github.client import GitHubForge
    from bot.github.config import GitHubConfig

    workdir = Path(spec.workdir)
    checkout = workdir / "workspace"
    env = {"GIT_CONFIG_NOSYSTEM": "1", "HOME": str(workdir), "PATH": "/usr/local/bin:/usr/bin:/bin"}
    subprocess.run(["git", "clone", "-q", spec.clone_url, str(checkout)], check=True, capture_output=True, env=env)
    return BotContext(
        GitHubForge(GitHubConfig(spec.api_url, spec.repository, spec.token), bot_login=ACTIONS_BOT),
        "main",
        spec.now,
        workspace=checkout,
        run_url=f"{spec.api_url.replace('/api/v3', '')}/{spec.repository}/actions/runs/1",
        bot_login=ACTIONS_BOT,
        reports=workdir / "reports",
    )


def job(spec: JobSpec) -> int:
    result = spec.flow(_context(spec), *spec.args)
    print(getattr(result, "outcome", "done"), flush=True)
    return 0


if __name__ == "__main__":
    if sys.argv[1:2] == ["--forker"]:
        raise SystemExit(serve(int(sys.argv[2])))
    raise SystemExit(job(pickle.loads(sys.stdin.buffer.read())))
