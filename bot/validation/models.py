"""The only place that loads models: `mlflow.pyfunc` from the registry URIs that models.yaml lists, each in a
child process of the model-host server (`host.py`), isolated by `bot.sandboxing` (no workflow token, its own
user where the bot can switch, its own directory), with a time limit on loading and on every prediction.

Loading and predicting errors become ModelProblem with MLflow's first line, so a model that does not load,
does not answer, hangs or crashes is a failed gate with a reason, never a traceback or a stuck bot.
"""

from __future__ import annotations

import atexit
import contextlib
import json
import os
import pickle
import select
import signal
import socket
import subprocess
import sys
import tempfile
import threading
import time
from collections.abc import Collection, Sequence
from concurrent.futures import Future
from concurrent.futures import TimeoutError as FutureTimeout
from dataclasses import dataclass
from typing import Any

from bot import sandboxing
from bot.errors import RefusedError
from bot.infra import procs
from bot.validation.host import HEADER, MAX_MESSAGE, first_line

LOAD_TIMEOUT_S = 300.0
PREDICT_TIMEOUT_S = 600.0


class ModelProblem(RefusedError):
    """A model that cannot be loaded or does not answer."""


@dataclass(frozen=True)
class InputColumn:
    """One column of a model signature: name, MLflow type name (double, long, string...) and whether required."""

    name: str
    type: str
    required: bool = True


@dataclass(frozen=True)
class LoadedModel:
    uri: str
    host: ModelHost
    inputs: tuple[InputColumn, ...] | None = None
    classes: tuple[Any, ...] | None = None

    @property
    def input_names(self) -> list[str] | None:
        return [c.name for c in self.inputs] if self.inputs else None

    def close(self) -> None:
        self.host.close()


def load(uri: str, allowed: Collection[str] | None = None, timeout_s: float = LOAD_TIMEOUT_S) -> LoadedModel:
    """Load a model by its registry URI, in its own child process; with `allowed`, only URIs listed there
    (those of models.yaml). Close it when done (the process ends at exit in any case)."""
    [found] = load_many([uri], allowed, timeout_s)
    if isinstance(found, ModelProblem):
        raise found
    return found


def load_many(
    uris: Sequence[str], allowed: Collection[str] | None = None, timeout_s: float = LOAD_TIMEOUT_S
) -> list[LoadedModel | ModelProblem]:
    """Load several models side by side; each entry is the model or why it did not load."""
    return ready(start(uris, allowed), timeout_s)


Started = list["ModelHost | ModelProblem | Future[ModelHost | ModelProblem]"]


def start(uris: Sequence[str], allowed: Collection[str] | None = None) -> Started:
    """Start loading each model (in processes forked from the model-host server, side by side) and return
    at once: the requests go out from a thread of their own (the server may still be importing MLflow), so
    the caller reads its data meanwhile, then calls `ready`."""
    hosts: Started = []
    asked: list[tuple[str, Future[ModelHost | ModelProblem]]] = []
    for uri in uris:
        if allowed is not None and uri not in allowed:
            hosts.append(
                ModelProblem(f"{uri} is not a URI listed in models.yaml; models load only from the registry entries")
            )
        else:
            future: Future[ModelHost | ModelProblem] = Future()
            asked.append((uri, future))
            hosts.append(future)
    if asked:
        _server()  # started here, in the caller's thread, if `prepare` did not
        # A daemon thread, not an executor: the interpreter's exit never waits on a server that does not answer.
        threading.Thread(target=_spawn_all, args=(asked,), name="modelbot-model-spawn", daemon=True).start()
    return hosts


def _spawn_all(asked: Sequence[tuple[str, Future[ModelHost | ModelProblem]]]) -> None:
    for uri, future in asked:
        try:
            future.set_result(ModelHost(uri))
        except ModelProblem as exc:
            future.set_result(exc)
        except Exception as exc:  # reported by the caller's `ready`: a thread has no one else to raise to
            future.set_result(ModelProblem(f"{uri} failed to load: {first_line(exc)}"))


def _spawned(
    host: ModelHost | ModelProblem | Future[ModelHost | ModelProblem], deadline: float
) -> ModelHost | ModelProblem:
    if not isinstance(host, Future):
        return host
    try:
        return host.result(timeout=max(0.0, deadline - time.monotonic()))
    except FutureTimeout:
        host.add_done_callback(_close_late)
        return ModelProblem("the model-host server did not start a process for the model within the time limit")


def _close_late(future: Future[ModelHost | ModelProblem]) -> None:
    found = future.result()
    if isinstance(found, ModelHost):
        found.close()


def ready(hosts: Started, timeout_s: float = LOAD_TIMEOUT_S) -> list[LoadedModel | ModelProblem]:
    deadline = time.monotonic() + timeout_s
    found = [_spawned(host, deadline) for host in hosts]
    return [host if isinstance(host, ModelProblem) else _ready(host, deadline) for host in found]


def discard(hosts: Started) -> None:
    for host in hosts:
        if isinstance(host, Future):
            host.add_done_callback(_close_late)
        elif isinstance(host, ModelHost):
            host.close()


def _ready(host: ModelHost, deadline: float) -> LoadedModel | ModelProblem:
    try:
        tag, payload = host.receive(max(0.0, deadline - time.monotonic()), "load")
    except ModelProblem as exc:
        host.close()
        return exc
    if tag != b"M":
        host.close()
        return ModelProblem(f"{host.uri} failed to load: {payload.decode('utf-8', 'replace')}")
    described = _metadata(payload)
    inputs = described.get("inputs")
    classes = described.get("classes")
    return LoadedModel(
        host.uri,
        host,
        tuple(InputColumn(str(n), str(t), bool(r)) for n, t, r in inputs) if isinstance(inputs, list) else None,
        tuple(classes) if isinstance(classes, list) else None,
    )


def predict(model: LoadedModel, frame: Any, timeout_s: float = PREDICT_TIMEOUT_S) -> Any:
    """The model's raw answer for `frame` (an array, Series or DataFrame, as the model gave it), or ModelProblem
    with the reason it gave, or that it died or did not answer in time."""
    model.host.send(frame)
    tag, payload = model.host.receive(timeout_s, "predict")
    if tag != b"A":
        raise ModelProblem(f"{model.uri} failed to predict: {payload.decode('utf-8', 'replace')}")
    try:
        return decode(payload)
    except Exception as exc:
        raise ModelProblem(f"{model.uri} answered something that is not data: {first_line(exc)}") from None


def decode(payload: bytes) -> Any:
    """An Arrow stream from the model's process back to what the model returned."""
    import numpy as np
    import pyarrow as pa  # type: ignore[import-untyped, unused-ignore]  # no stubs for pyarrow

    table = pa.ipc.open_stream(payload).read_all()
    meta = {k.decode(): v.decode() for k, v in (table.schema.metadata or {}).items()}
    kind = meta.get("kind")
    if kind == "frame":
        frame = table.to_pandas()
        frame.columns = json.loads(meta["columns"])
        return frame
    values = table.column("values").to_numpy(zero_copy_only=False)
    if kind == "series":
        import pandas as pd  # type: ignore[import-untyped, unused-ignore]  # no stubs for pandas

        return pd.Series(values)
    shape = tuple(int(n) for n in json.loads(meta.get("shape", "[-1]")))
    return np.asarray(values).reshape(shape)


def _metadata(payload: bytes) -> dict[str, Any]:
    try:
        found = json.loads(payload)
    except ValueError:
        return {}
    return found if isinstance(found, dict) else {}


def prepare() -> None:
    """Start the model-host server now (it imports MLflow while the caller does other work)."""
    _server()


class _Server:
    """The bot's end of the model-host server (`host.py --server`): asks it to fork a child per model and
    to reap it. Started once per bot process with the sandbox's scrubbed environment."""

    def __init__(self) -> None:
        self.isolation = sandboxing.current()
        self.home = sandboxing.home(self.isolation, "modelbot-hosts-")
        ours, theirs = socket.socketpair(socket.AF_UNIX, socket.SOCK_SEQPACKET)
        self._log = tempfile.TemporaryFile()  # noqa: SIM115 (lives as long as the server)
        self._proc = subprocess.Popen(
            [sys.executable, "-m", "bot.validation.host", "--server", str(theirs.fileno()), self.isolation.to_json()],
            pass_fds=(theirs.fileno(),),
            stdout=self._log,
            stderr=self._log,
            **sandboxing.popen_kwargs(self.home),  # type: ignore[call-overload]  # Popen keyword arguments built as a mapping
        )
        theirs.close()
        self._sock = ours
        self._lock = threading.Lock()
        self._ready = False

    def alive(self) -> bool:
        return self._proc.poll() is None

    def _ask(self, request: dict[str, Any], fds: Sequence[int] = ()) -> dict[str, Any]:
        with self._lock:
            try:
                if not self._ready:
                    self._receive()  # the server's "ready": MLflow is imported
                    self._ready = True
                socket.send_fds(self._sock, [json.dumps(request).encode()], list(fds))
                return self._receive()
            except OSError as exc:
                raise ModelProblem(f"the model-host server is gone ({exc}){self._last_line()}") from None

    def _receive(self) -> dict[str, Any]:
        if not select.select([self._sock], [], [], LOAD_TIMEOUT_S)[0]:
            raise OSError("no answer")
        data = self._sock.recv(1 << 16)
        if not data:
            raise OSError(f"it exited with code {self._proc.wait()}")
        found = json.loads(data)
        return found if isinstance(found, dict) else {}

    def spawn(self, uri: str, log: Any) -> tuple[int, int, int]:
        """A child for one model: its pid, and the bot's ends of its stdin and stdout."""
        child_in, bot_in = os.pipe()
        bot_out, child_out = os.pipe()
        try:
            # MLflow's settings as they are now (the server's were those of its start): the registry to fetch from.
            settings = {
                k: v
                for k, v in sandboxing.environment(self.home, credentials=True).items()
                if k.upper().startswith("MLFLOW_")
            }
            answer = self._ask({"uri": uri, "env": settings}, [child_in, child_out, log.fileno()])
        except ModelProblem:
            for fd in (bot_in, bot_out):
                os.close(fd)
            raise
        finally:
            os.close(child_in)
            os.close(child_out)
        return int(answer["pid"]), bot_in, bot_out

    def reap(self, pid: int, wait_s: float = 5.0) -> int | None:
        try:
            code = self._ask({"reap": pid, "wait": wait_s}).get("code")
        except ModelProblem:
            return None
        return int(code) if code is not None else None

    def _last_line(self) -> str:
        self._log.seek(0)
        lines = [x for x in self._log.read()[-4000:].decode("utf-8", "replace").splitlines() if x.strip()]
        return f"; last output: {lines[-1].strip()[:MAX_MESSAGE]}" if lines else ""

    def close(self) -> None:
        with contextlib.suppress(OSError):
            self._sock.close()
        if self._proc.poll() is None:
            procs.signal_group(self._proc.pid, signal.SIGKILL)
            self._proc.wait()
        self._log.close()


_SERVERS: list[_Server] = []


def _server() -> _Server:
    if _SERVERS and not _SERVERS[0].alive():
        _SERVERS.pop().close()
    if not _SERVERS:
        _SERVERS.append(_Server())
    return _SERVERS[0]


def isolation() -> dict[str, str]:
    """The isolation level the models run at, for the evidence."""
    return sandboxing.current().as_dict()


class ModelHost:
    """The child process holding one model (see `host.py`); killed on close, on a timeout and at exit."""

    def __init__(self, uri: str) -> None:
        self.uri = uri
        self._log = tempfile.TemporaryFile()  # noqa: SIM115 (lives as long as the process it logs)
        self._server = _server()
        self.pid, stdin, stdout = self._server.spawn(uri, self._log)
        self._stdin = os.fdopen(stdin, "wb")
        self._stdout = os.fdopen(stdout, "rb", buffering=0)
        self._gone = False
        self._code: int | None = None
        _LIVE.add(self)

    def send(self, frame: Any) -> None:
        """Hand the child a frame to predict on (it reads while this writes)."""
        if self._stdin.closed:
            raise ModelProblem(f"{self.uri} failed to predict: its process was stopped earlier")
        try:
            pickle.dump(frame, self._stdin, protocol=5)
            self._stdin.flush()
        except (BrokenPipeError, OSError):
            raise self._died("predict") from None

    def receive(self, timeout_s: float, doing: str) -> tuple[bytes, bytes]:
        deadline = time.monotonic() + timeout_s
        header = self._read(HEADER.size, deadline, doing)
        tag, size = HEADER.unpack(header)
        return tag, self._read(size, deadline, doing)

    def _read(self, size: int, deadline: float, doing: str) -> bytes:
        fd = self._stdout.fileno()
        chunks: list[bytes] = []
        left = size
        while left:
            wait = deadline - time.monotonic()
            if wait <= 0 or not select.select([fd], [], [], wait)[0]:
                self._stop()
                problem = ModelProblem(
                    f"{self.uri} did not {doing} within the time limit; its process was stopped{self._last_lines()}"
                )
                self.close()
                raise problem
            chunk = os.read(fd, min(left, 1 << 20))
            if not chunk:
                raise self._died(doing)
            chunks.append(chunk)
            left -= len(chunk)
        return b"".join(chunks)

    def _died(self, doing: str) -> ModelProblem:
        code = self._reap(5.0)
        problem = ModelProblem(f"{self.uri} failed to {doing}: its process ended (exit {code}){self._last_lines()}")
        self.close()
        return problem

    def _last_lines(self) -> str:
        try:
            self._log.seek(0)
            lines = [line for line in self._log.read()[-4000:].decode("utf-8", "replace").splitlines() if line.strip()]
        except (OSError, ValueError):
            return ""
        return f"; last output: {lines[-1].strip()[:MAX_MESSAGE]}" if lines else ""

    def _reap(self, wait_s: float) -> int | None:
        if not self._gone:
            self._code = self._server.reap(self.pid, wait_s)
            self._gone = self._code is not None or not self._server.alive()
        return self._code

    def _stop(self) -> None:
        if not self._gone:
            procs.signal_group(self.pid, signal.SIGKILL)
            # Stopped right after the fork, the child may not lead its own group yet (setsid comes first in it,
            # before anything else starts); the server has not reaped it, so its pid is still its own.
            with contextlib.suppress(ProcessLookupError, PermissionError):
                os.kill(self.pid, signal.SIGKILL)
            self._reap(5.0)

    def close(self) -> None:
        _LIVE.discard(self)
        self._stop()
        for stream in (self._stdin, self._stdout, self._log):
            if stream is not None:
                with contextlib.suppress(OSError):
                    stream.close()


_LIVE: set[ModelHost] = set()


@atexit.register
def _close_all() -> None:
    for host in list(_LIVE):
        host.close()
    for server in _SERVERS:
        server.close()
