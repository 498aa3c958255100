"""The prediction log: one JSON line per answer (and per shadow answer and feedback), rotated by size.

A line holds what `advance` (bot/deploy/analysis.py `JsonLinesLog`) and monitoring read: ts, request_id,
model, stage, version (the version the record is about), arm, served_by, fallback, shadow, inputs,
prediction, latency_ms, error, status. Lines are buffered and written by a background task, so a request
never waits on the disk; `flush` writes what is buffered.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import os
import threading
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

DEFAULT_MAX_BYTES = 64 * 1024 * 1024
DEFAULT_KEEP = 5
FLUSH_S = 0.2
FILE = "predictions.jsonl"


def now() -> str:
    return datetime.now(UTC).isoformat(timespec="milliseconds").replace("+00:00", "Z")


class PredictionLog:
    """`DIR/predictions.jsonl`, rotated to `.1` … `.KEEP` when it passes `max_bytes`."""

    def __init__(self, folder: Path, max_bytes: int = DEFAULT_MAX_BYTES, keep: int = DEFAULT_KEEP) -> None:
        self.folder = folder
        self.path = folder / FILE
        self.max_bytes = max_bytes
        self.keep = keep
        self._lines: list[str] = []
        self._task: asyncio.Task[None] | None = None
        self._lock = threading.Lock()
        folder.mkdir(parents=True, exist_ok=True)

    def write(self, record: dict[str, Any]) -> None:
        from mlflow.utils.proto_json_utils import NumpyEncoder

        self._lines.append(json.dumps(record, cls=NumpyEncoder, default=str, separators=(",", ":")))

    def start(self) -> None:
        if self._task is None:
            self._task = asyncio.get_running_loop().create_task(self._run(), name="prediction log")

    async def _run(self) -> None:
        while True:
            await asyncio.sleep(FLUSH_S)
            if self._lines:
                lines, self._lines = self._lines, []
                await asyncio.to_thread(self._append, lines)

    def flush(self) -> None:
        lines, self._lines = self._lines, []
        if lines:
            self._append(lines)

    async def close(self) -> None:
        if self._task is not None:
            self._task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._task
            self._task = None
        self.flush()

    def _append(self, lines: list[str]) -> None:
        with self._lock:
            with self.path.open("a", encoding="utf-8") as handle:
                handle.write("\n".join(lines) + "\n")
                size = handle.tell()
            if size >= self.max_bytes:
                self._rotate()

    def _rotate(self) -> None:
        for number in range(self.keep - 1, 0, -1):
            older = self.path.with_name(f"{FILE}.{number}")
            if older.exists():
                os.replace(older, self.path.with_name(f"{FILE}.{number + 1}"))
        os.replace(self.path, self.path.with_name(f"{FILE}.1"))
