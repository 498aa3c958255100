"""One backend per model version: a child of the model host (`bot.validation.host`), sandboxed like every model
process, spoken to over its pipes (pickled frames in, Arrow IPC out) without blocking the gateway.

Requests are pipelined: each frame is written as it comes and answers are matched in order. A child that dies
fails the requests it held at once (the gateway falls back); one that holds a request longer than `hang_s` is
killed. Either way the supervisor starts it again, after a backoff that doubles up to `MAX_BACKOFF_S` and resets
once a child has lived `STABLE_S`. A crash or hang of one model never touches the gateway or another version.

CPU priority: a process that only answers mirrored requests runs at `SHADOW_NICE`, so on a busy machine the live
versions go first. A process also loads at that priority when the gateway may raise it back afterwards (root, or
RLIMIT_NICE allowing it): loading is most of the CPU a model process takes, and a version restarting after a
crash must not take it from the fallback answering in its place.
"""

from __future__ import annotations

import asyncio
import contextlib
import os
import signal
import time
from collections import deque
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from typing import Any

from bot.infra import procs
from bot.serving.payloads import Signature
from bot.validation import models
from bot.validation.host import HEADER, first_line

FIRST_BACKOFF_S = 0.25
MAX_BACKOFF_S = 30.0
STABLE_S = 30.0
MAX_PENDING = 4096
SHADOW_NICE = 10


class BackendError(Exception):
    """The version could not answer: `reason` is a metric label (down, error, crashed, hung, busy)."""

    def __init__(self, reason: str, message: str) -> None:
        super().__init__(message)
        self.reason = reason
        self.message = message


@dataclass
class _Pending:
    future: asyncio.Future[tuple[bytes, bytes]]
    written: float


Listener = Callable[["Backend", str], None]


class Backend:
    """The model process of one (model, version) and its supervisor."""

    def __init__(
        self,
        model: str,
        version: str,
        uri: str,
        *,
        load_timeout_s: float = 120.0,
        hang_s: float = 30.0,
        listener: Listener | None = None,
    ) -> None:
        self.model, self.version, self.uri = model, version, uri
        self.load_timeout_s = load_timeout_s
        self.hang_s = hang_s
        self.listener = listener
        self.state = "starting"
        self.problem: str | None = None
        self.restarts = 0
        self.pid: int | None = None
        self.signature: Signature | None = None
        self.classes: tuple[Any, ...] | None = None
        self.inflight = 0
        self._pending: deque[_Pending] = deque()
        self._writer: asyncio.WriteTransport | None = None
        self._last_answer = 0.0
        self.warmed = 0
        self.answered = 0  # by the current process
        self.nice = 0
        self._loading = False
        self._tried = asyncio.Event()  # set once a launch has succeeded or failed
        self._closed = False
        self._task: asyncio.Task[None] | None = None
        self._host: models.ModelHost | None = None

    # --- lifecycle ------------------------------------------------------------------------------------------
    def start(self) -> None:
        if self._task is None:
            self._task = asyncio.get_running_loop().create_task(self._supervise(), name=f"backend {self.key}")

    def closed(self) -> bool:
        return self._closed

    @property
    def key(self) -> tuple[str, str]:
        return (self.model, self.version)

    @property
    def ready(self) -> bool:
        return self.state == "ready"

    async def wait_ready(self, timeout_s: float) -> bool:
        """Wait until the first launch has succeeded or failed (at most `timeout_s`); True when ready."""
        with contextlib.suppress(TimeoutError):
            await asyncio.wait_for(self._tried.wait(), timeout_s)
        return self.ready

    def _set(self, state: str, problem: str | None = None) -> None:
        self.state, self.problem = state, problem
        if self.listener is not None:
            self.listener(self, state)

    async def _supervise(self) -> None:
        backoff = FIRST_BACKOFF_S
        first = True
        while not self._closed:
            if not first:
                self.restarts += 1
                self._set("starting", self.problem)
            first = False
            started = time.monotonic()
            try:
                await self._launch()
            except Exception as exc:  # a model that does not load: said in `problem`, tried again later
                self._set("down", first_line(exc))
                self._tried.set()
            else:
                self._set("ready")
                self._tried.set()
                self.problem = await self._serve()
                if not self._closed:
                    self._set("down", self.problem)
            await asyncio.to_thread(self._discard)
            if self.closed():
                break
            if time.monotonic() - started >= STABLE_S:
                backoff = FIRST_BACKOFF_S
            await asyncio.sleep(backoff)
            backoff = min(backoff * 2, MAX_BACKOFF_S)

    async def _launch(self) -> None:
        if self.signature is None:
            self.signature = await asyncio.to_thread(Signature.read, self.uri)
        host = await asyncio.to_thread(models.ModelHost, self.uri)
        self._host = host
        self.pid = host.pid
        self._loading = True
        self._renice(SHADOW_NICE if CAN_RAISE else self.nice)  # before it loads
        [loaded] = await asyncio.to_thread(models.ready, [host], self.load_timeout_s)
        if isinstance(loaded, models.ModelProblem):
            raise loaded
        self._loading = False
        self._renice(self.nice)  # its own priority, on the threads its libraries started while loading too
        self.classes = loaded.classes
        self.answered = 0
        loop = asyncio.get_running_loop()
        # Duplicates of the host's pipe ends: the transports own (and close) these, ModelHost its originals.
        reading = os.fdopen(os.dup(host._stdout.fileno()), "rb", buffering=0)
        writing = os.fdopen(os.dup(host._stdin.fileno()), "wb", buffering=0)
        self._reader = asyncio.StreamReader(limit=1 << 30)
        await loop.connect_read_pipe(lambda: asyncio.StreamReaderProtocol(self._reader), reading)
        transport, _ = await loop.connect_write_pipe(asyncio.Protocol, writing)
        self._writer = transport
        self._last_answer = time.monotonic()

    async def _serve(self) -> str:
        """Read answers until the child ends; returns why it ended."""
        watchdog = asyncio.get_running_loop().create_task(self._watch())
        reason = "its process ended"
        try:
            while True:
                header = await self._reader.readexactly(HEADER.size)
                tag, size = HEADER.unpack(header)
                payload = await self._reader.readexactly(size)
                self._last_answer = time.monotonic()
                self.answered += 1
                if self._pending:
                    item = self._pending.popleft()
                    if not item.future.done():
                        item.future.set_result((tag, payload))
        except (asyncio.IncompleteReadError, ConnectionError, OSError):
            reason = self._hung or f"its process ended{self._last_lines()}"
        finally:
            watchdog.cancel()
            self._fail_pending("crashed" if not self._hung else "hung", reason)
            if self._writer is not None:
                self._writer.close()
                self._writer = None
        return reason

    _hung: str | None = None

    async def _watch(self) -> None:
        """Kill the child when the request at the head of the pipeline has waited longer than `hang_s`."""
        self._hung = None
        period = max(0.05, min(1.0, self.hang_s / 4))
        while True:
            await asyncio.sleep(period)
            if not self._pending:
                continue
            since = max(self._pending[0].written, self._last_answer)
            if time.monotonic() - since > self.hang_s:
                self._hung = f"it held a request longer than {self.hang_s:g}s and was stopped"
                if self.pid is not None:
                    procs.signal_group(self.pid, signal.SIGKILL)
                return

    def _fail_pending(self, reason: str, message: str) -> None:
        while self._pending:
            item = self._pending.popleft()
            if not item.future.done():
                item.future.set_exception(BackendError(reason, message))

    def _last_lines(self) -> str:
        host = self._host
        return host._last_lines() if host is not None else ""

    def _discard(self) -> None:
        host, self._host = self._host, None
        self.pid = None
        self._loading = False
        if host is not None:
            host.close()

    async def close(self, drain_s: float = 30.0) -> None:
        """Stop taking requests, let those in flight finish (up to `drain_s`), then end the process."""
        deadline = time.monotonic() + drain_s
        while self.inflight and time.monotonic() < deadline:
            await asyncio.sleep(0.02)
        self._closed = True
        self._set("closed")
        if self._task is not None:
            self._task.cancel()
            with contextlib.suppress(asyncio.CancelledError, Exception):
                await self._task
        self._fail_pending("down", "the version was taken out of service")
        if self._writer is not None:
            self._writer.close()
            self._writer = None
        await asyncio.to_thread(self._discard)

    # --- requests ---------------------------------------------------------------------------------------------
    def submit(self, frame: bytes) -> asyncio.Future[tuple[bytes, bytes]]:
        """Write one pickled frame; the future holds the child's (tag, payload). Raises BackendError at once
        when the version has no live process."""
        if self.state != "ready" or self._writer is None:
            raise BackendError(
                "down",
                f"version {self.version} of {self.model} has no model process "
                f"({self.state}{': ' + self.problem if self.problem else ''})",
            )
        if len(self._pending) >= MAX_PENDING:
            raise BackendError("busy", f"version {self.version} of {self.model} has {MAX_PENDING} requests waiting")
        future: asyncio.Future[tuple[bytes, bytes]] = asyncio.get_running_loop().create_future()
        self._pending.append(_Pending(future, time.monotonic()))
        self._writer.write(frame)
        return future

    async def predict(self, frame: bytes) -> Any:
        """The model's raw answer to one pickled frame (cancelling the caller never desynchronises the pipe)."""
        self.inflight += 1
        try:
            tag, payload = await asyncio.shield(self.submit(frame))
        finally:
            self.inflight -= 1
        if tag != b"A":
            raise BackendError("error", payload.decode("utf-8", "replace"))
        try:
            return models.decode(payload)
        except Exception as exc:
            raise BackendError("invalid", f"it answered something that is not data: {exc}") from None

    async def warm(self, frames: Iterable[bytes], timeout_s: float = 10.0) -> int:
        """Replay recent requests (answers discarded) so the first live request finds a warm model; returns
        how many were answered. A process that has answered already is warm: it is left alone, so live
        requests never queue behind a replay."""
        answered = 0
        if self.answered:
            return 0
        deadline = time.monotonic() + timeout_s
        for frame in frames:
            left = deadline - time.monotonic()
            if left <= 0 or not self.ready:
                break
            with contextlib.suppress(BackendError, TimeoutError):
                await asyncio.wait_for(self.predict(frame), left)
                answered += 1
        self.warmed += answered
        return answered

    def prioritise(self, mirrored_only: bool) -> None:
        """A process that only answers mirrored requests runs at a lower CPU priority, so on a busy machine the
        live versions go first; one that serves live traffic runs at the normal priority (raising it back
        needs root: without, it stays lowered, which costs it only when the CPU is short). A process still
        loading takes its priority once loaded."""
        self.nice = SHADOW_NICE if mirrored_only else 0
        if not self._loading:
            self._renice(self.nice)

    def _renice(self, nice: int) -> None:
        if self.pid is None:
            return
        for task in _threads(self.pid):  # Linux sets the priority of one thread: each of its threads, then
            with contextlib.suppress(OSError):
                os.setpriority(os.PRIO_PROCESS, task, nice)

    def describe(self) -> dict[str, Any]:
        return {
            "version": self.version,
            "state": self.state,
            "pid": self.pid,
            "restarts": self.restarts,
            "problem": self.problem,
            "inflight": self.inflight,
            "warmed": self.warmed,
            "answered": self.answered,
        }


def _may_raise_priority() -> bool:
    """Whether this process may bring a model process back to nice 0 after lowering it: as root, or when its
    RLIMIT_NICE allows nice 0 (the ceiling is 20 - limit)."""
    if os.geteuid() == 0:
        return True
    try:
        import resource

        return resource.getrlimit(resource.RLIMIT_NICE)[0] >= 20
    except (ImportError, AttributeError, ValueError, OSError):
        return False


CAN_RAISE = _may_raise_priority()


def _threads(pid: int) -> list[int]:
    """The thread ids of a process (just `pid` where /proc does not list them)."""
    try:
        return [int(name) for name in os.listdir(f"/proc/{pid}/task")]
    except (OSError, ValueError):
        return [pid]
