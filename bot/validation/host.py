"""`python -m bot.validation.host URI`: one model, loaded in a child process that answers predictions.

A model artifact is untrusted code (a pickle runs whatever it holds): it runs here, in a process without the
workflow's tokens, that the bot can time out and kill, never in the bot itself. The bot sends data frames
pickled (it trusts itself); the child answers in Arrow IPC, a format that carries data and never code, so a
hostile model cannot run anything in the bot through its answer either.

`python -m bot.validation.host --server FD ISOLATION` is the model-host server: started once per bot
process, with the scrubbed environment of `bot.sandboxing`, it imports MLflow once, then for each request
on the socket FD (a JSON line and three descriptors: the child's stdin, stdout and log) forks a child that
downloads the model as the bot's user, enters the sandbox (`sandboxing.enter`: its own user and directory),
and only then loads the model's code. The fork saves each model the seconds a fresh import of MLflow costs.
The bot reaps a child through the server (`{"reap": PID}` answers its exit code).

Protocol on stdin/stdout: after loading, one message `M` (JSON: input columns, classes) or `E` (why not);
then for each pickled frame read from stdin, `A` (Arrow stream) or `E` (the model's error). A message is one
tag byte, an 8-byte big-endian length and the payload. The model's own prints go to stderr.
"""

from __future__ import annotations

import contextlib
import json
import os
import pickle
import signal
import socket
import struct
import sys
import time
import traceback
from pathlib import Path
from typing import Any, BinaryIO

HEADER = struct.Struct(">cQ")
MAX_MESSAGE = 300


def send(out: BinaryIO, tag: bytes, payload: bytes) -> None:
    out.write(HEADER.pack(tag, len(payload)))
    out.write(payload)
    out.flush()


def first_line(exc: BaseException) -> str:
    """The reason of an error in one line. MLflow's schema errors put the table of the data first and the
    reason ("Model is missing inputs ['x']") after 'Error: ', so that part is the one kept."""
    text = str(getattr(exc, "message", None) or exc).strip()
    if "Error: " in text and "schema" in text.lower():
        text = text[text.rindex("Error: ") + len("Error: ") :].strip()
    line = " ".join(text.split()) if text.count("\n") < 3 else text.splitlines()[0] if text else ""
    line = line or type(exc).__name__
    return line if len(line) <= MAX_MESSAGE else line[: MAX_MESSAGE - 1] + "…"


def encode(raw: Any) -> bytes:
    """A prediction as an Arrow stream: a DataFrame or Series as its columns, anything else as a flat array
    with its shape in the schema's metadata."""
    import numpy as np
    import pandas as pd  # type: ignore[import-untyped, unused-ignore]  # no stubs for pandas in the model host's environment
    import pyarrow as pa  # type: ignore[import-untyped, unused-ignore]  # no stubs for pyarrow

    if isinstance(raw, pd.DataFrame):
        table = pa.Table.from_pandas(raw.rename(columns=str), preserve_index=False)
        meta = {"kind": "frame", "columns": json.dumps([_plain(c) for c in raw.columns])}
    elif isinstance(raw, pd.Series):
        table = pa.table({"values": pa.array(raw.to_numpy())})
        meta = {"kind": "series"}
    else:
        array = np.asarray(raw)
        table = pa.table({"values": pa.array(array.reshape(-1))})
        meta = {"kind": "array", "shape": json.dumps(list(array.shape))}
    table = table.replace_schema_metadata(meta)
    sink = pa.BufferOutputStream()
    with pa.ipc.new_stream(sink, table.schema) as writer:
        writer.write_table(table)
    return bytes(sink.getvalue())


def _plain(value: Any) -> Any:
    return value.item() if hasattr(value, "item") else value if isinstance(value, int | float | str) else str(value)


def _type_name(spec: Any) -> str:
    return getattr(getattr(spec, "type", None), "name", None) or str(getattr(spec, "type", "any"))


def describe(model: Any) -> dict[str, Any]:
    """What the bot needs to know of a model: its signature's input columns and a classifier's classes."""
    inputs = None
    try:
        schema = model.metadata.get_input_schema()
        if schema is not None and schema.has_input_names():
            inputs = [[spec.name, _type_name(spec), bool(getattr(spec, "required", True))] for spec in schema.inputs]
    except Exception:
        inputs = None
    estimator = getattr(getattr(model, "_model_impl", None), "sklearn_model", None)
    classes = getattr(estimator, "classes_", None)
    return {
        "inputs": inputs,
        "classes": [_plain(c) for c in classes.tolist()]
        if classes is not None and hasattr(classes, "tolist")
        else None,
    }


def main(argv: list[str]) -> int:
    if argv and argv[0] == "--server":
        return serve(int(argv[1]), argv[2])
    [uri] = argv
    return answer(uri)


def answer(uri: str, problem: str | None = None) -> int:
    """Load the model (or report `problem`, why it could not be fetched) and answer frames until EOF."""
    out = os.fdopen(os.dup(1), "wb")
    os.dup2(2, 1)  # whatever the model prints goes to stderr, never into the answers
    sys.stdout = sys.stderr
    stdin = sys.stdin.buffer
    if problem is not None:
        send(out, b"E", problem.encode("utf-8"))
        return 0
    try:
        import mlflow.pyfunc

        model = mlflow.pyfunc.load_model(uri)
    except Exception as exc:
        send(out, b"E", first_line(exc).encode("utf-8"))
        return 0
    send(out, b"M", json.dumps(describe(model), default=str).encode("utf-8"))
    while True:
        try:
            frame = pickle.load(stdin)
        except EOFError:
            return 0
        try:
            answer = encode(model.predict(frame))
        except Exception as exc:
            send(out, b"E", first_line(exc).encode("utf-8"))
            continue
        send(out, b"A", answer)


def serve(control: int, isolation_json: str) -> int:
    """The model-host server's loop: one forked child per request, until the bot closes the socket."""
    from bot import sandboxing

    sandboxing.die_with_parent(signal.SIGKILL)
    isolation = sandboxing.Isolation.from_json(isolation_json)
    sock = socket.socket(fileno=control)
    import mlflow.artifacts
    import mlflow.pyfunc  # noqa: F401
    import pandas  # type: ignore[import-untyped, unused-ignore]  # noqa: F401
    import pyarrow  # type: ignore[import-untyped, unused-ignore]  # noqa: F401

    warm()
    sock.send(b'{"ready": true}')
    while True:
        try:
            data, fds, _, _ = socket.recv_fds(sock, 1 << 16, 3)
        except OSError:
            return 0
        if not data:
            return 0
        request = json.loads(data)
        if "reap" in request:
            sock.send(json.dumps({"code": _reap(int(request["reap"]), float(request.get("wait", 5.0)))}).encode())
            continue
        pid = os.fork()
        if pid == 0:
            code = 70
            try:
                sock.close()
                for name in [n for n in os.environ if n.upper().startswith("MLFLOW_")]:
                    del os.environ[name]
                os.environ.update(request.get("env") or {})
                code = _child(str(request["uri"]), fds, isolation)
            except BaseException:
                traceback.print_exc()
                sys.stderr.flush()
            finally:
                os._exit(code)
        for fd in fds:
            os.close(fd)
        sock.send(json.dumps({"pid": pid}).encode())


_DATABASES = ("sqlite", "postgresql", "mysql", "mssql")


def warm() -> None:
    """Work every child would otherwise repeat, done once before the forks; library code only (no model, no
    registry connection, no credential): MLflow's map of installed packages, which `pyfunc.load_model` builds
    to check a model's requirements (~0.25 s), and, when the registry is a database, the SQLAlchemy stores
    the download step imports (~0.6 s)."""
    import mlflow

    with contextlib.suppress(Exception):  # private to MLflow: if it moves, each child builds the map again
        from mlflow.utils import requirements_utils

        requirements_utils._init_modules_to_packages_map()  # type: ignore[no-untyped-call, unused-ignore]  # MLflow's private helper is untyped
    uris = [os.environ.get(n) or "" for n in ("MLFLOW_TRACKING_URI", "MLFLOW_REGISTRY_URI")]
    with contextlib.suppress(Exception):
        uris.append(mlflow.get_tracking_uri())
    if any(uri.split(":", 1)[0].split("+", 1)[0] in _DATABASES for uri in uris):
        with contextlib.suppress(ImportError):
            import mlflow.store.model_registry.sqlalchemy_store
            import mlflow.store.tracking.sqlalchemy_store


def _reap(pid: int, wait_s: float) -> int | None:
    deadline = time.monotonic() + wait_s
    while True:
        try:
            done, status = os.waitpid(pid, os.WNOHANG)
        except ChildProcessError:
            return None
        if done:
            return os.waitstatus_to_exitcode(status)
        if time.monotonic() >= deadline:
            return None
        time.sleep(0.01)


def _child(uri: str, fds: list[int], isolation: Any) -> int:
    """One model: its own session, descriptors 0-2 from the bot, the download as the bot's user, then the
    sandbox, then the model's code."""
    from bot import sandboxing

    os.setsid()
    sandboxing.die_with_parent(signal.SIGKILL)
    for target, fd in enumerate(fds):
        os.dup2(fd, target)
    for name in os.listdir("/proc/self/fd"):
        if int(name) > 2:
            with contextlib.suppress(OSError):
                os.close(int(name))
    workdir = sandboxing.home(isolation)
    local, problem = _download(uri, workdir)
    sandboxing.give(workdir, isolation)
    try:
        sandboxing.enter(isolation, workdir, signal.SIGKILL)
    except OSError as exc:
        return answer(uri, f"its process could not be isolated: {exc}")  # the model's code never runs then
    for name in list(os.environ):
        if name not in sandboxing.without_credentials(os.environ):
            del os.environ[name]
    os.environ["HOME"] = os.environ["TMPDIR"] = str(workdir)
    import tempfile

    tempfile.tempdir = None
    # Other model processes run as the same user: they may neither ptrace this one nor read its memory.
    sandboxing.make_non_dumpable()
    return answer(local or uri, problem)


def _download(uri: str, workdir: Path) -> tuple[str | None, str | None]:
    """The model's files, fetched in a process of its own (the registry connection and credentials it
    opens never exist in the process that runs the model's code)."""
    from bot import sandboxing

    read, write = os.pipe()
    pid = os.fork()
    if pid == 0:
        os.close(read)
        code = 1
        try:
            os.write(write, b"P" + sandboxing.fetch(uri, workdir / "model").encode())
            code = 0
        except BaseException as exc:
            os.write(write, b"E" + first_line(exc).encode())
        finally:
            os._exit(code)
    os.close(write)
    chunks = []
    while chunk := os.read(read, 1 << 16):
        chunks.append(chunk)
    os.close(read)
    os.waitpid(pid, 0)
    found = b"".join(chunks).decode("utf-8", "replace")
    if found.startswith("P"):
        return found[1:], None
    return None, found[1:] or "its download ended without a word"


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
