"""The only place that loads models: `mlflow.pyfunc` from the registry URIs that models.yaml lists, each in a
child process without the workflow's tokens, with a time limit on loading and on every prediction (`host.py`).

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
import subprocess
import sys
import tempfile
import time
from collections.abc import Collection, Mapping, Sequence
from dataclasses import dataclass
from typing import Any

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


def load_many(uris: Sequence[str], allowed: Collection[str] | None = None,
              timeout_s: float = LOAD_TIMEOUT_S) -> list[LoadedModel | ModelProblem]:
    """Load several models side by side (each process imports MLflow and loads its artifact at the same
    time); each entry is the model or why it did not load."""
    hosts: list[ModelHost | ModelProblem] = []
    for uri in uris:
        if allowed is not None and uri not in allowed:
            hosts.append(ModelProblem(
                f"{uri} is not a URI listed in models.yaml; models load only from the registry entries"))
        else:
            hosts.append(ModelHost(uri))
    deadline = time.monotonic() + timeout_s
    return [host if isinstance(host, ModelProblem) else _ready(host, deadline) for host in hosts]


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
        host.uri, host,
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
    import pyarrow as pa  # type: ignore[import-untyped, unused-ignore]

    table = pa.ipc.open_stream(payload).read_all()
    meta = {k.decode(): v.decode() for k, v in (table.schema.metadata or {}).items()}
    kind = meta.get("kind")
    if kind == "frame":
        frame = table.to_pandas()
        frame.columns = json.loads(meta["columns"])
        return frame
    values = table.column("values").to_numpy(zero_copy_only=False)
    if kind == "series":
        import pandas as pd  # type: ignore[import-untyped, unused-ignore]

        return pd.Series(values)
    shape = tuple(int(n) for n in json.loads(meta.get("shape", "[-1]")))
    return np.asarray(values).reshape(shape)


def _metadata(payload: bytes) -> dict[str, Any]:
    try:
        found = json.loads(payload)
    except ValueError:
        return {}
    return found if isinstance(found, dict) else {}


def child_environment(environ: Mapping[str, str]) -> dict[str, str]:
    """The bot's environment without what lets a process act on GitHub: a model needs MLflow's settings, never
    the workflow's token."""
    def secret(name: str) -> bool:
        upper = name.upper()
        return (upper in ("GITHUB_TOKEN", "GH_TOKEN", "GH_ENTERPRISE_TOKEN") or upper.startswith(("ACTIONS_", "INPUT_"))
                or (upper.startswith(("GITHUB_", "MODELBOT_")) and any(w in upper for w in ("TOKEN", "SECRET", "KEY"))))
    return {k: v for k, v in environ.items() if not secret(k)}


class ModelHost:
    """The child process holding one model (see `host.py`); killed on close, on a timeout and at exit."""

    def __init__(self, uri: str) -> None:
        self.uri = uri
        self._log = tempfile.TemporaryFile()  # noqa: SIM115 (lives as long as the process it logs)
        self._proc = subprocess.Popen(
            [sys.executable, "-m", "bot.validation.host", uri], stdin=subprocess.PIPE, stdout=subprocess.PIPE,
            stderr=self._log, env=child_environment(os.environ), start_new_session=True,
        )
        _LIVE.add(self)

    def send(self, frame: Any) -> None:
        """Hand the child a frame to predict on (it reads while this writes)."""
        if self._proc.stdin is None or self._proc.stdin.closed:
            raise ModelProblem(f"{self.uri} failed to predict: its process was stopped earlier")
        try:
            pickle.dump(frame, self._proc.stdin, protocol=5)
            self._proc.stdin.flush()
        except (BrokenPipeError, OSError):
            raise self._died("predict") from None

    def receive(self, timeout_s: float, doing: str) -> tuple[bytes, bytes]:
        deadline = time.monotonic() + timeout_s
        header = self._read(HEADER.size, deadline, doing)
        tag, size = HEADER.unpack(header)
        return tag, self._read(size, deadline, doing)

    def _read(self, size: int, deadline: float, doing: str) -> bytes:
        assert self._proc.stdout is not None
        fd = self._proc.stdout.fileno()
        chunks: list[bytes] = []
        left = size
        while left:
            wait = deadline - time.monotonic()
            if wait <= 0 or not select.select([fd], [], [], wait)[0]:
                self._stop()
                problem = ModelProblem(f"{self.uri} did not {doing} within the time limit; its process was "
                                       f"stopped{self._last_lines()}")
                self.close()
                raise problem
            chunk = os.read(fd, min(left, 1 << 20))
            if not chunk:
                raise self._died(doing)
            chunks.append(chunk)
            left -= len(chunk)
        return b"".join(chunks)

    def _died(self, doing: str) -> ModelProblem:
        code = self._proc.wait(timeout=5) if self._proc.poll() is None else self._proc.returncode
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

    def _stop(self) -> None:
        if self._proc.poll() is None:
            procs.signal_group(self._proc.pid, signal.SIGKILL)
            self._proc.wait()

    def close(self) -> None:
        _LIVE.discard(self)
        self._stop()
        for stream in (self._proc.stdin, self._proc.stdout, self._log):
            if stream is not None:
                with contextlib.suppress(OSError):
                    stream.close()


_LIVE: set[ModelHost] = set()


@atexit.register
def _close_all() -> None:
    for host in list(_LIVE):
        host.close()
