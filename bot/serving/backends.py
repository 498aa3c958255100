"""One backend per model version: a child of the model host (`bot.validation.host`), sandboxed like every model
process, spoken to over its pipes (pickled frames in, Arrow IPC out) without blocking the gateway.

Requests are pipelined: each frame is written as it comes and answers are matched in order. A child that dies
fails the requests it held at once, whether its pipe says so (end of file) or only its exit does (a pidfd: a
helper process of the model may hold the pipe open), and the gateway falls back; while it is down, requests
fail at once without touching it. One that holds a request longer than `hang_s` is killed. Either way the
supervisor starts it again, after a backoff that doubles up to `MAX_BACKOFF_S` and resets once a child has lived
`STABLE_S`, and replays recent requests to it (the gateway's `warmer`) before it takes requests again, so its
first live answers are not a cold model's. A crash or hang of one model never touches the gateway or another
version.

CPU priority: a process that only answers mirrored requests runs at `SHADOW_NICE`, so on a busy machine the live
versions go first. A process also loads at that priority when the gateway may raise it back afterwards (root, or
RLIMIT_NICE allowing it): loading is most of the CPU a model process takes, and a version restarting after a
crash must not take it from the fallback answering in its place. A model process leads a session of its own, so
where the kernel groups sessions for scheduling (autogroup) its threads' nice ranks it only against itself: the
priority is then set on its session's group too (`/proc/PID/autogroup`). Such a process also runs as SCHED_BATCH:
a batch thread woken up never preempts the running one, so the gateway writing a mirrored request to a shadow's
pipe (a pipe write wakes its reader on the writer's CPU) keeps its CPU for the live requests, whatever the nice.
"""

from __future__ import annotations

import asyncio
import contextlib
import os
import signal
import time
from collections import deque
from collections.abc import AsyncIterator, Callable, Iterable
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
RESTART_WARM_S = 10.0  # the longest a restarted process spends on replayed requests before it takes requests


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
Warmer = Callable[["Backend"], AsyncIterator[bytes]]  # recent requests, as frames for this backend


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
        warmer: Warmer | None = None,
    ) -> None:
        self.model, self.version, self.uri = model, version, uri
        self.load_timeout_s = load_timeout_s
        self.hang_s = hang_s
        self.listener = listener
        self.warmer = warmer
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
        self.warming = False
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
                serving = asyncio.get_running_loop().create_task(self._serve())
                try:
                    if self.restarts and self.warmer is not None:
                        # a restart takes requests once warm (the first launch is warmed by the gateway before
                        # any request is routed to it); meanwhile the fallback answers in its place
                        await self._replay(self.warmer(self), RESTART_WARM_S)
                    if not serving.done():
                        self._set("ready")
                    self._tried.set()
                    self.problem = await serving
                finally:
                    serving.cancel()
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
        await _session_led(host.pid)  # its first act; its session's scheduling group is what a priority sets
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
        exit_watch = self._watch_exit()
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
            exit_watch()
            self._fail_pending("crashed" if not self._hung else "hung", reason)
            if self._writer is not None:
                self._writer.close()
                self._writer = None
        return reason

    _hung: str | None = None

    def _watch_exit(self) -> Callable[[], None]:
        """Watch the process's exit (a pidfd on the event loop): when it ends while its pipe stays open (a helper
        it started holds it), the requests it held fail at once all the same. Answers it wrote before it ended
        are read first (two turns of the loop); then the reader ends and fails the rest. Returns what stops the
        watch."""
        loop = asyncio.get_running_loop()
        try:
            fd = os.pidfd_open(self.pid) if self.pid is not None else None  # type: ignore[attr-defined, unused-ignore]
        except (AttributeError, OSError):
            fd = None
        if fd is None:
            return lambda: None
        reader = self._reader

        def ended() -> None:
            loop.remove_reader(fd)
            if self._writer is not None:  # no request goes to it any more
                self._writer.close()
                self._writer = None
            loop.call_soon(loop.call_soon, reader.feed_eof)

        loop.add_reader(fd, ended)

        def stop() -> None:
            loop.remove_reader(fd)
            os.close(fd)

        return stop

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
    def submit(self, frame: bytes, *, replay: bool = False) -> asyncio.Future[tuple[bytes, bytes]]:
        """Write one pickled frame; the future holds the child's (tag, payload). Raises BackendError at once
        when the version has no live process (a `replay` also goes to a restarted one still warming up)."""
        if (self.state != "ready" and not (replay and self.state == "starting")) or self._writer is None:
            state = self.state if self._writer is not None else "down"
            raise BackendError(
                "down",
                f"version {self.version} of {self.model} has no model process "
                f"({state}{': ' + self.problem if self.problem else ''})",
            )
        if len(self._pending) >= MAX_PENDING:
            raise BackendError("busy", f"version {self.version} of {self.model} has {MAX_PENDING} requests waiting")
        future: asyncio.Future[tuple[bytes, bytes]] = asyncio.get_running_loop().create_future()
        self._pending.append(_Pending(future, time.monotonic()))
        self._writer.write(frame)
        return future

    async def predict(self, frame: bytes, *, replay: bool = False) -> Any:
        """The model's raw answer to one pickled frame (cancelling the caller never desynchronises the pipe)."""
        return self.read(await self.ask(frame, replay=replay))

    async def ask(self, frame: bytes, *, replay: bool = False) -> tuple[bytes, bytes]:
        """The child's (tag, payload) for one pickled frame, not decoded yet (`read` does)."""
        self.inflight += 1
        try:
            return await asyncio.shield(self.submit(frame, replay=replay))
        finally:
            self.inflight -= 1

    def read(self, answer: tuple[bytes, bytes]) -> Any:
        """What the model returned, from the child's (tag, payload); BackendError for its error or bad data."""
        tag, payload = answer
        if tag != b"A":
            raise BackendError("error", payload.decode("utf-8", "replace"))
        try:
            return models.decode(payload)
        except Exception as exc:
            raise BackendError("invalid", f"it answered something that is not data: {exc}") from None

    async def warm(self, frames: Iterable[bytes] | AsyncIterator[bytes], timeout_s: float = 10.0) -> int:
        """Replay recent requests (answers discarded) so the first live request finds a warm model; returns
        how many were answered. A process that has answered already is warm: it is left alone, so live
        requests never queue behind a replay."""
        if self.answered or self.warming:
            return 0
        return await self._replay(frames, timeout_s)

    async def _replay(self, frames: Iterable[bytes] | AsyncIterator[bytes], timeout_s: float) -> int:
        answered = 0
        self.warming = True
        deadline = time.monotonic() + timeout_s
        try:
            async for frame in _each(frames):
                left = deadline - time.monotonic()
                if left <= 0 or self._writer is None or self.state not in ("ready", "starting"):
                    break
                with contextlib.suppress(BackendError, TimeoutError):
                    await asyncio.wait_for(self.predict(frame, replay=True), left)
                    answered += 1
        finally:
            self.warming = False
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
        policy = os.SCHED_BATCH if nice > 0 else os.SCHED_OTHER
        for task in _threads(self.pid):  # Linux sets the priority of one thread: each of its threads, then
            with contextlib.suppress(OSError):
                os.setpriority(os.PRIO_PROCESS, task, nice)
                os.sched_setscheduler(task, policy, os.sched_param(0))  # keeps the nice just set
        _autogroup_nice(self.pid, nice)

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


async def _each(frames: Iterable[bytes] | AsyncIterator[bytes]) -> AsyncIterator[bytes]:
    if isinstance(frames, AsyncIterator):
        async for frame in frames:
            yield frame
    else:
        for frame in frames:
            yield frame


async def _session_led(pid: int, wait_s: float = 0.2) -> None:
    """Wait (briefly) until the forked child has made itself a session leader, its first act."""
    deadline = time.monotonic() + wait_s
    while time.monotonic() < deadline:
        try:
            if os.getsid(pid) == pid:
                return
        except OSError:
            return
        await asyncio.sleep(0.002)


def _autogroup_nice(pid: int, nice: int) -> None:
    """Set the nice of the scheduling group of `pid`'s session, where the kernel groups sessions (autogroup):
    there, CPU is shared between sessions first, and the nice of a thread ranks it only within its session.
    Only for a session leader: the group of any other process is a session it does not lead (the gateway's own,
    or the model-host server's)."""
    try:
        if os.getsid(pid) != pid:
            return
        with open(f"/proc/{pid}/autogroup", "w") as handle:
            handle.write(str(nice))
    except OSError:  # no autogroup in this kernel, the process is gone, or the priority may not be raised
        pass


def _threads(pid: int) -> list[int]:
    """The thread ids of a process (just `pid` where /proc does not list them)."""
    try:
        return [int(name) for name in os.listdir(f"/proc/{pid}/task")]
    except (OSError, ValueError):
        return [pid]
