"""The serving API as callers use it: `dataframe_split` JSON posted to /invocations, `{"predictions": ...}`
back, and whether what came back has the shape and types the model's signature declares.

`Connection` is a persistent keep-alive socket that sends each prepared request in one write with
TCP_NODELAY and acknowledges at once (TCP_QUICKACK): Python's http.client writes headers and body separately,
and on a keep-alive connection Nagle's algorithm plus delayed ACKs can add 40 ms to an answer, which a load
test would wrongly charge to the model.
"""

from __future__ import annotations

import http.client
import json
import math
import socket
from dataclasses import dataclass
from typing import Any

from bot.infra.signature import Column, Schema, Tensor

_QUICKACK = getattr(socket, "TCP_QUICKACK", None)


class ResponseError(Exception):
    """An answer that does not have the declared shape; the message says what differs."""


@dataclass(frozen=True)
class Reply:
    status: int
    body: bytes


def encode_split(frame: Any) -> bytes:
    """A request body in MLflow's `dataframe_split` format: missing values as null, datetimes in ISO 8601,
    and floats written to round-trip exactly (pandas' to_json keeps 15 digits at most, which would
    make the server see other inputs than the in-process model)."""
    columns = [_column_values(frame[name]) for name in frame.columns]
    split = {"columns": [str(c) for c in frame.columns], "data": [list(row) for row in zip(*columns, strict=True)]}
    return json.dumps({"dataframe_split": split}, allow_nan=False, default=_plain).encode("utf-8")


def _column_values(series: Any) -> list[Any]:
    if series.dtype.kind == "M":
        return [None if v is None or v != v else v.isoformat() for v in series.astype(object)]
    values = series.astype(object).tolist() if series.dtype.kind not in "biuf" else series.tolist()
    return [None if _missing(v) else v for v in values]


def _missing(value: Any) -> bool:
    """None, NaN, NaT or pandas' NA."""
    if value is None or type(value).__name__ in ("NAType", "NaTType"):
        return True
    return isinstance(value, float) and math.isnan(value)


def _plain(value: Any) -> Any:
    """numpy scalars inside object columns become the Python value they hold."""
    return value.item() if hasattr(value, "item") else str(value)


def prepare(port: int, body: bytes, path: str = "/invocations", host: str = "127.0.0.1") -> bytes:
    """The whole HTTP/1.1 request as bytes, built once so the load test does not rebuild it per request."""
    head = (
        f"POST {path} HTTP/1.1\r\nHost: {host}:{port}\r\nContent-Type: application/json\r\n"
        f"Content-Length: {len(body)}\r\nConnection: keep-alive\r\n\r\n"
    )
    return head.encode("ascii") + body


class Connection:
    """One keep-alive connection; reconnects on the next exchange after an error or a server close."""

    def __init__(self, port: int, timeout_s: float, host: str = "127.0.0.1") -> None:
        self.address = (host, port)
        self.timeout_s = timeout_s
        self._sock: socket.socket | None = None

    def exchange(self, request: bytes) -> Reply:
        """Send a prepared request, read the whole answer. Raises OSError or http.client.HTTPException."""
        sock = self._sock or self._connect()
        try:
            sock.sendall(request)
            if _QUICKACK is not None:
                sock.setsockopt(socket.IPPROTO_TCP, _QUICKACK, 1)
            response = http.client.HTTPResponse(sock, method="POST")
            response.begin()
            body = response.read()
            if response.will_close:
                self.close()
            return Reply(response.status, body)
        except BaseException:
            self.close()
            raise

    def close(self) -> None:
        if self._sock is not None:
            self._sock.close()
            self._sock = None

    def _connect(self) -> socket.socket:
        sock = socket.create_connection(self.address, timeout=self.timeout_s)
        sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
        self._sock = sock
        return sock


def error_text(status: int, body: bytes) -> str:
    """A short reason from an error answer: MLflow's `message`, and the last line of its stack trace (the
    model's own exception), else the start of the body."""
    try:
        parsed = json.loads(body)
    except (ValueError, UnicodeDecodeError):
        parsed = None
    if not isinstance(parsed, dict) or "message" not in parsed:
        return f"HTTP {status}: {body[:200].decode('utf-8', 'replace')}"
    text = f"HTTP {status}: {str(parsed['message']).strip().splitlines()[0][:200]}"
    trace = [row for row in str(parsed.get("stack_trace") or "").splitlines() if row.strip()]
    return f"{text} ({trace[-1].strip()[:200]})" if trace else text


def predictions(body: bytes, rows: int | None) -> Any:
    """The `predictions` of an answer with one entry per row sent (any number when `rows` is None);
    ResponseError otherwise."""
    try:
        parsed = json.loads(body)
    except (ValueError, UnicodeDecodeError):
        raise ResponseError(f"the answer is not JSON: {body[:120]!r}") from None
    if not isinstance(parsed, dict) or "predictions" not in parsed:
        raise ResponseError(f"the answer has no `predictions` key: {body[:120]!r}")
    found = parsed["predictions"]
    if isinstance(found, dict):
        lengths = {len(v) if isinstance(v, list) else -1 for v in found.values()}
        if rows is not None and lengths != {rows}:
            raise ResponseError(f"the answer's prediction columns hold {sorted(lengths)} entries for {rows} rows")
        return found
    if not isinstance(found, list) or (rows is not None and len(found) != rows):
        count = len(found) if isinstance(found, list) else type(found).__name__
        raise ResponseError(f"the answer holds {count} predictions for {rows} rows")
    return found


def check_output(found: Any, schema: Schema | None) -> None:
    """Raise ResponseError unless every prediction has the output schema's shape and types."""
    if schema is None:
        return
    rows = list(_rows(found))
    for index, row in enumerate(rows):
        reason = _tensor_row(row, schema) if isinstance(schema[0], Tensor) else _column_row(row, schema)
        if reason:
            raise ResponseError(f"prediction {index}: {reason}")


def _rows(found: Any) -> Any:
    if isinstance(found, dict):
        names = list(found)
        return ({n: found[n][i] for n in names} for i in range(len(found[names[0]]) if names else 0))
    return iter(found)


def _column_row(row: Any, schema: Schema) -> str | None:
    columns = [c for c in schema if isinstance(c, Column)]
    if isinstance(row, dict):
        for column in columns:
            if column.name is None and len(columns) == 1 and len(row) == 1:
                return _typed(next(iter(row.values())), column)
            if column.name not in row:
                if column.required:
                    return f"missing output `{column.name}`; got keys {sorted(row)}"
                continue
            if reason := _typed(row[column.name], column):
                return f"`{column.name}`: {reason}"
        return None
    if len(columns) == 1:
        value = row[0] if isinstance(row, list) and len(row) == 1 and columns[0].type != "array" else row
        return _typed(value, columns[0])
    if isinstance(row, list) and len(row) == len(columns):
        for value, column in zip(row, columns, strict=True):
            if reason := _typed(value, column):
                return f"`{column.name}`: {reason}"
        return None
    return f"expected {len(columns)} outputs ({', '.join(str(c.name) for c in columns)}), got {_short(row)}"


_JSON_TYPES: dict[str, tuple[type, ...]] = {
    "long": (int,),
    "integer": (int,),
    "double": (int, float),
    "float": (int, float),
    "boolean": (bool,),
    "string": (str,),
    "datetime": (str,),
    "binary": (str,),
    "array": (list,),
    "object": (dict,),
    "map": (dict,),
}


def _typed(value: Any, column: Column) -> str | None:
    expected = _JSON_TYPES.get(column.type)
    if expected is None:
        return None
    if value is None or (isinstance(value, float) and math.isnan(value)):
        return None if not column.required or column.type in ("double", "float") else f"null for {column.type}"
    if isinstance(value, bool) and bool not in expected:
        return f"expected {column.type}, got boolean {value!r}"
    if not isinstance(value, expected):
        return f"expected {column.type}, got {_short(value)}"
    return None


def _tensor_row(row: Any, schema: Schema) -> str | None:
    tensor = schema[0]
    assert isinstance(tensor, Tensor)
    shape = tensor.shape[1:] if tensor.shape and tensor.shape[0] == -1 else tensor.shape
    return _shaped(row, shape, tensor.dtype)


def _shaped(value: Any, shape: tuple[int, ...], dtype: str) -> str | None:
    if not shape:
        if isinstance(value, list):
            return f"expected a {dtype} scalar, got a list of {len(value)}"
        numeric = dtype.startswith(("float", "int", "uint"))
        if numeric and (isinstance(value, bool) or not isinstance(value, int | float)) and value is not None:
            return f"expected {dtype}, got {_short(value)}"
        return None
    if not isinstance(value, list) or (shape[0] != -1 and len(value) != shape[0]):
        return f"expected a list of {shape[0] if shape[0] != -1 else 'any'} entries, got {_short(value)}"
    return next((r for r in (_shaped(v, shape[1:], dtype) for v in value) if r), None)


def _short(value: Any) -> str:
    text = json.dumps(value, default=str)
    return text if len(text) <= 60 else text[:57] + "..."
