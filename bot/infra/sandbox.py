"""The sandbox: the candidate in the real model server a deployment would use, `mlflow models serve`.

One server runs in its own session (so its process group names the whole tree) on a free loopback port, with
a load deadline, a bounded number of tries, and a memory limit, isolated by `bot.sandboxing` (scrubbed
environment, its own user where the bot can switch, its own directory). It is always ended: by the context manager,
also on an exception or Ctrl-C; by an atexit hook; by SIGTERM, which `serve` turns into SystemExit while a
server is up (main thread only); and by PR_SET_PDEATHSIG if the bot itself is killed outright.

The memory limit is a watchdog on the resident memory of the whole tree (the figure a container limit
counts), not RLIMIT_AS: a Python process that imports MLflow maps about 1.5 GB of address space while holding
under 200 MB, so an address-space limit would either refuse healthy models or limit nothing. The watchdog
samples every 100 ms, so a runaway allocation overshoots by what it can touch in that time.
"""

from __future__ import annotations

import atexit
import contextlib
import http.client
import os
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import threading
import time
from collections.abc import Iterator, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from types import FrameType

from bot import sandboxing
from bot.errors import ModelbotError
from bot.infra import procs

HOST = "127.0.0.1"
LOG_LINES = 20
_SAMPLE_S = 0.1
_MEMBERS_EVERY = 10


class SandboxError(ModelbotError):
    """The server could not be brought up in any try; carries each try's reason and the server's last lines."""

    def __init__(self, reason: str, attempts: tuple[Attempt, ...]) -> None:
        self.reason = reason
        self.attempts = attempts
        super().__init__(reason)

    @property
    def log_tail(self) -> list[str]:
        return list(self.attempts[-1].log_tail) if self.attempts else []


@dataclass(frozen=True)
class SandboxSpec:
    model_uri: str
    load_deadline_s: float = 120.0
    tries: int = 1
    memory_mb: int | None = None
    workers: int = 1
    request_timeout_s: int = 60
    port: int | None = None
    env: Mapping[str, str] = field(default_factory=dict)


@dataclass(frozen=True)
class Attempt:
    number: int
    port: int
    pgid: int
    seconds: float
    reason: str | None
    log_tail: tuple[str, ...] = ()

    @property
    def ok(self) -> bool:
        return self.reason is None

    def as_dict(self) -> dict[str, object]:
        return {
            "try": self.number,
            "port": self.port,
            "pgid": self.pgid,
            "seconds": round(self.seconds, 3),
            "ok": self.ok,
            "reason": self.reason,
            "log_tail": list(self.log_tail),
        }


class Server:
    """A live server: where it listens, how long it took to load, and what its process tree does."""

    def __init__(self, spec: SandboxSpec, port: int, proc: subprocess.Popen[bytes], log_path: Path) -> None:
        self.spec = spec
        self.port = port
        self.proc = proc
        self.pgid = proc.pid
        self.log_path = log_path
        self.started = time.monotonic()
        self.load_s: float | None = None
        self.attempts: tuple[Attempt, ...] = ()
        self.final_log: list[str] | None = None
        self.serving_pid: int | None = None
        self.workdir: Path | None = None
        self._watch = _Watchdog(self.pgid, spec.memory_mb)

    @property
    def host(self) -> str:
        return HOST

    @property
    def url(self) -> str:
        return f"http://{HOST}:{self.port}"

    @property
    def peak_rss_bytes(self) -> int:
        return self._watch.peak

    def alive(self) -> bool:
        return self.proc.poll() is None and not self._watch.killed

    def death(self) -> str | None:
        """Why the server is gone, or None while it runs."""
        if self._watch.killed:
            return (
                f"the server exceeded its memory limit of {self.spec.memory_mb} MB "
                f"(resident {self._watch.peak / 2**20:.0f} MB) and was killed"
            )
        code = self.proc.poll()
        if code is not None:
            return f"the server exited with code {code}" if code >= 0 else f"the server was killed by signal {-code}"
        if self.serving_pid is not None and not procs.running(self.serving_pid):
            return f"the server's serving process (pid {self.serving_pid}) exited"
        return None

    def log_tail(self, lines: int = LOG_LINES) -> list[str]:
        if self.final_log is not None:
            return self.final_log[-lines:]
        return tail(self.log_path, lines)

    def stop(self) -> list[int]:
        """End the whole process group; returns processes that survived (empty unless the kernel refused)."""
        if self.final_log is not None:
            return []
        self._watch.stop()
        left = procs.end_group(self.pgid, self.proc.poll)
        self.final_log = tail(self.log_path, LOG_LINES * 5)
        _LIVE.discard(self)
        if self.workdir is not None:
            shutil.rmtree(self.workdir, ignore_errors=True)
        return left


def free_port() -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.bind((HOST, 0))
        return int(sock.getsockname()[1])


def tail(path: Path, lines: int = LOG_LINES) -> list[str]:
    """The last lines of a log file, without reading all of it. Indented lines (traceback frames and their
    source) are left out: what remains of a traceback is its exception line, the reason a reader needs, which
    `mlflow models serve` otherwise buries under the traceback of its own wrapper."""
    try:
        with open(path, "rb") as handle:
            handle.seek(0, os.SEEK_END)
            handle.seek(max(0, handle.tell() - 64 * 1024))
            text = handle.read().decode("utf-8", "replace")
    except FileNotFoundError:
        return []
    return [row for row in text.splitlines() if row.strip() and not row[0].isspace()][-lines:]


@contextlib.contextmanager
def serve(spec: SandboxSpec, log_dir: Path | None = None) -> Iterator[Server]:
    """Start the model server (bounded tries), yield it once healthy, and always end its process tree.

    The calling thread must outlive the server: the kernel ties PR_SET_PDEATHSIG to the thread that forked."""
    own_dir = log_dir is None
    directory = Path(tempfile.mkdtemp(prefix="modelbot-sandbox-")) if log_dir is None else log_dir
    server = None
    try:
        with _terminate_as_exit():
            server = start(spec, directory)
            yield server
    finally:
        if server is not None:
            server.stop()
        if own_dir:
            shutil.rmtree(directory, ignore_errors=True)


def start(spec: SandboxSpec, log_dir: Path) -> Server:
    """Up to `spec.tries` launches, each on a fresh free port unless one is fixed; SandboxError if none gets
    healthy. Every failed try's process group is ended before the next one starts."""
    attempts: list[Attempt] = []
    for number in range(1, spec.tries + 1):
        port = spec.port or free_port()
        server = _launch(spec, port, log_dir / f"server-try{number}.log")
        try:
            reason = _await_health(server, spec.load_deadline_s)
        except BaseException:  # Ctrl-C or SIGTERM while waiting: the caller never gets this server to stop
            server.stop()
            raise
        seconds = time.monotonic() - server.started
        if reason is None:
            server.load_s = seconds
            server.attempts = (*attempts, Attempt(number, port, server.pgid, seconds, None))
            return server
        server.stop()
        attempts.append(Attempt(number, port, server.pgid, seconds, reason, tuple(server.log_tail())))
    last = attempts[-1]
    raise SandboxError(
        f"{spec.model_uri} did not load in {spec.tries} tr{'y' if spec.tries == 1 else 'ies'}: {last.reason}",
        tuple(attempts),
    )


def command(spec: SandboxSpec, port: int, model: str | None = None) -> list[str]:
    """`mlflow models serve` for `model` (default: the spec's URI)."""
    return [
        sys.executable,
        "-m",
        "mlflow",
        "models",
        "serve",
        "-m",
        model or spec.model_uri,
        "--env-manager",
        "local",
        "-h",
        HOST,
        "-p",
        str(port),
        "-w",
        str(spec.workers),
        "-t",
        str(spec.request_timeout_s),
    ]


def _launch(spec: SandboxSpec, port: int, log_path: Path) -> Server:
    """The server through `bot.sandboxing`'s launcher: the model downloaded as the bot's user, then served
    as the model's user in a directory of its own, SIGTERMed if the bot dies."""
    isolation = sandboxing.current()
    workdir = sandboxing.home(isolation, "modelbot-serve-")
    argv = sandboxing.launcher(isolation, workdir, command(spec, port, "{model}"), fetch=spec.model_uri)
    # `mlflow models serve` runs `uvicorn` by name: `environment` puts this Python's bin first on PATH.
    kwargs = sandboxing.popen_kwargs(workdir, {**os.environ, **spec.env}, PYTHONUNBUFFERED="1")
    log_path.parent.mkdir(parents=True, exist_ok=True)
    with open(log_path, "wb") as log:
        proc = subprocess.Popen(argv, stdout=log, stderr=subprocess.STDOUT, **kwargs)  # type: ignore[call-overload]  # Popen keyword arguments built as a mapping
    server = Server(spec, port, proc, log_path)
    server.workdir = workdir
    _track(server)
    server._watch.start()
    return server


def _await_health(server: Server, deadline_s: float) -> str | None:
    """None once the server answers /ping with 200 from a socket its own tree holds; else why not."""
    deadline = server.started + deadline_s
    foreign = False
    while True:
        death = server.death()
        if death is not None:
            suffix = f" (another program answers on port {server.port})" if foreign else ""
            return f"{death} before it became healthy{suffix}"
        if _ping(server.port) == 200:
            server.serving_pid = procs.listener_owner(procs.group_members(server.pgid), server.port)
            if server.serving_pid is not None:
                return None
            foreign = True
        if time.monotonic() >= deadline:
            return f"the server was not healthy within the load deadline of {deadline_s:g} s"
        time.sleep(0.1)


def _ping(port: int) -> int | None:
    conn = http.client.HTTPConnection(HOST, port, timeout=1.0)
    try:
        conn.request("GET", "/ping")
        return conn.getresponse().status
    except (OSError, http.client.HTTPException):
        return None
    finally:
        conn.close()


class _Watchdog:
    """Samples the tree's resident memory; kills the group once it passes the limit."""

    def __init__(self, pgid: int, memory_mb: int | None) -> None:
        self.pgid = pgid
        self.limit = memory_mb * 2**20 if memory_mb else None
        self.peak = 0
        self.killed = False
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, name=f"sandbox-watch-{pgid}", daemon=True)

    def start(self) -> None:
        self._thread.start()

    def stop(self) -> None:
        self._stop.set()
        if self._thread.is_alive() and self._thread is not threading.current_thread():
            self._thread.join(timeout=2)

    def _run(self) -> None:
        members: list[int] = []
        tick = 0
        while not self._stop.is_set():
            if tick % _MEMBERS_EVERY == 0:
                members = procs.group_members(self.pgid)
            tick += 1
            rss = procs.rss_bytes(members)
            self.peak = max(self.peak, rss)
            if self.limit is not None and rss > self.limit:
                self.killed = True
                procs.signal_group(self.pgid, signal.SIGKILL)
                return
            self._stop.wait(_SAMPLE_S)


_LIVE: set[Server] = set()
_LIVE_LOCK = threading.Lock()
_ATEXIT = False


def _track(server: Server) -> None:
    global _ATEXIT
    with _LIVE_LOCK:
        _LIVE.add(server)
        if not _ATEXIT:
            atexit.register(_stop_all)
            _ATEXIT = True


def _stop_all() -> None:
    for server in list(_LIVE):
        server.stop()


@contextlib.contextmanager
def _terminate_as_exit() -> Iterator[None]:
    """While a server is up, SIGTERM raises SystemExit so every `finally` runs; only where Python lets us
    (the main thread) and only if nobody else handles SIGTERM already."""
    if threading.current_thread() is not threading.main_thread() or signal.getsignal(signal.SIGTERM) not in (
        signal.SIG_DFL,
        None,
    ):
        yield
        return

    def _exit(signum: int, frame: FrameType | None) -> None:
        raise SystemExit(128 + signum)

    signal.signal(signal.SIGTERM, _exit)
    try:
        yield
    finally:
        signal.signal(signal.SIGTERM, signal.SIG_DFL)
