"""Parity: the server's answers equal the model's in-process answers for the same rows.

Labels (strings, integers, booleans) must be equal; numbers with a fraction may differ by the policy's
tolerance, absolute or relative to the larger value. A difference means the serving path (JSON decoding,
schema casting, column order) changes what the model sees.
"""

from __future__ import annotations

import json
import math
import os
import shutil
import subprocess
import sys
import tempfile
import time
from collections.abc import Mapping
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any

from bot import sandboxing
from bot.errors import ModelbotError
from bot.infra import procs

EXAMPLES = 5


class ParityError(ModelbotError):
    """The in-process answer could not be computed (load failure, crash, timeout)."""


@dataclass(frozen=True)
class ParityResult:
    rows: int
    mismatches: int
    max_abs_diff: float
    tolerance: float
    examples: tuple[Mapping[str, Any], ...] = ()

    @property
    def ok(self) -> bool:
        return self.mismatches == 0

    def as_dict(self) -> dict[str, Any]:
        out = asdict(self)
        out["examples"] = [dict(e) for e in self.examples]
        return out


def same(a: Any, b: Any, tolerance: float) -> tuple[bool, float]:
    """Whether two decoded JSON values agree, and the largest numeric difference seen inside them."""
    if isinstance(a, bool | str) or isinstance(b, bool | str):
        return type(a) is type(b) and a == b, 0.0
    if isinstance(a, int) and isinstance(b, int):
        return a == b, float(abs(a - b))
    if isinstance(a, int | float) and isinstance(b, int | float):
        return _close(float(a), float(b), tolerance)
    if isinstance(a, list) and isinstance(b, list):
        return _all(zip(a, b, strict=False), len(a) == len(b), tolerance)
    if isinstance(a, dict) and isinstance(b, dict):
        return _all(((a[k], b[k]) for k in a if k in b), a.keys() == b.keys(), tolerance)
    return a == b, 0.0


def _close(a: float, b: float, tolerance: float) -> tuple[bool, float]:
    if math.isnan(a) or math.isnan(b):
        return math.isnan(a) and math.isnan(b), 0.0
    if a == b:
        return True, 0.0
    diff = abs(a - b)
    return diff <= tolerance * max(1.0, abs(a), abs(b)), diff


def _all(pairs: Any, shape_ok: bool, tolerance: float) -> tuple[bool, float]:
    ok, worst = shape_ok, 0.0
    for x, y in pairs:
        agree, diff = same(x, y, tolerance)
        ok, worst = ok and agree, max(worst, diff)
    return ok, worst


def rows_of(found: Any) -> list[Any]:
    """One entry per row, whether the answer is a list or a dict of columns."""
    if isinstance(found, dict):
        names = list(found)
        count = len(found[names[0]]) if names else 0
        return [{n: found[n][i] for n in names} for i in range(count)]
    return list(found)


def compare(served: Any, local: Any, tolerance: float) -> ParityResult:
    served_rows, local_rows = rows_of(served), rows_of(local)
    mismatches, worst = abs(len(served_rows) - len(local_rows)), 0.0
    examples: list[dict[str, Any]] = []
    for index, (s, lo) in enumerate(zip(served_rows, local_rows, strict=False)):
        agree, diff = same(s, lo, tolerance)
        worst = max(worst, diff)
        if not agree:
            mismatches += 1
            if len(examples) < EXAMPLES:
                examples.append({"row": index, "served": s, "in_process": lo})
    return ParityResult(len(local_rows), mismatches, worst, tolerance, tuple(examples))


class LocalRun:
    """The model's in-process answer for a frame, computed in a child process (a model may hang, crash or
    exhaust memory, and the bot must survive all three). It starts at once, so it can load while the server
    loads; `result` waits for it until `deadline_s` after the start. Always ended on exit."""

    def __init__(self, uri: str, frame: Any, deadline_s: float, env: Mapping[str, str] | None = None) -> None:
        self.uri = uri
        self.deadline = time.monotonic() + deadline_s
        self.deadline_s = deadline_s
        self._tmp = Path(tempfile.mkdtemp(prefix="modelbot-parity-"))  # the bot's: the log
        isolation = sandboxing.current()
        self._work = sandboxing.home(isolation, "modelbot-parity-model-")  # the model's: its input and answer
        frame.to_pickle(self._work / "frame.pkl")
        args = sandboxing.launcher(
            isolation,
            self._work,
            [
                sys.executable,
                "-m",
                "bot.infra.local_predict",
                "{model}",
                str(self._work / "frame.pkl"),
                str(self._work / "out.json"),
            ],
            fetch=uri,
        )
        kwargs = sandboxing.popen_kwargs(self._work, {**os.environ, **(env or {})})
        with open(self._tmp / "log.txt", "wb") as log:
            self._proc = subprocess.Popen(args, stdout=log, stderr=subprocess.STDOUT, **kwargs)  # type: ignore[call-overload]  # Popen keyword arguments built as a mapping

    def __enter__(self) -> LocalRun:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    def result(self) -> Any:
        try:
            code = self._proc.wait(timeout=max(0.0, self.deadline - time.monotonic()))
        except subprocess.TimeoutExpired:
            raise ParityError(f"{self.uri}: the in-process prediction took longer than {self.deadline_s:g} s") from None
        if code != 0:
            text = (self._tmp / "log.txt").read_text(encoding="utf-8", errors="replace")
            last = [row for row in text.splitlines() if row.strip()][-5:]
            raise ParityError(
                f"{self.uri}: the in-process prediction failed (exit {code}): " + (" | ".join(last) or "no output")
            )
        return json.loads((self._work / "out.json").read_text(encoding="utf-8"))["predictions"]

    def close(self) -> None:
        procs.end_group(self._proc.pid, self._proc.poll, grace_s=1.0)
        shutil.rmtree(self._tmp, ignore_errors=True)
        shutil.rmtree(self._work, ignore_errors=True)
