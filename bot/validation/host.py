"""`python -m bot.validation.host URI`: one model, loaded in a child process that answers predictions.

A model artifact is untrusted code (a pickle runs whatever it holds): it runs here, in a process without the
workflow's tokens, that the bot can time out and kill, never in the bot itself. The bot sends data frames
pickled (it trusts itself); the child answers in Arrow IPC, a format that carries data and never code, so a
hostile model cannot run anything in the bot through its answer either.

Protocol on stdin/stdout: after loading, one message `M` (JSON: input columns, classes) or `E` (why not);
then for each pickled frame read from stdin, `A` (Arrow stream) or `E` (the model's error). A message is one
tag byte, an 8-byte big-endian length and the payload. The model's own prints go to stderr.
"""

from __future__ import annotations

import json
import os
import pickle
import struct
import sys
from typing import Any, BinaryIO

HEADER = struct.Struct(">cQ")
MAX_MESSAGE = 300


def send(out: BinaryIO, tag: bytes, payload: bytes) -> None:
    out.write(HEADER.pack(tag, len(payload)))
    out.write(payload)
    out.flush()


def first_line(exc: BaseException) -> str:
    text = str(getattr(exc, "message", None) or exc).strip()
    line = text.splitlines()[0] if text else type(exc).__name__
    return line if len(line) <= MAX_MESSAGE else line[: MAX_MESSAGE - 1] + "…"


def encode(raw: Any) -> bytes:
    """A prediction as an Arrow stream: a DataFrame or Series as its columns, anything else as a flat array
    with its shape in the schema's metadata."""
    import numpy as np
    import pandas as pd  # type: ignore[import-untyped, unused-ignore]
    import pyarrow as pa  # type: ignore[import-untyped, unused-ignore]

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
    return {"inputs": inputs,
            "classes": [_plain(c) for c in classes.tolist()] if classes is not None and hasattr(classes, "tolist")
            else None}


def main(argv: list[str]) -> int:
    [uri] = argv
    out = os.fdopen(os.dup(1), "wb")
    os.dup2(2, 1)  # whatever the model prints goes to stderr, never into the answers
    sys.stdout = sys.stderr
    stdin = sys.stdin.buffer
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


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
