"""Warm-up replay: recorded requests (JSON Lines) sent to the candidate and the champion, one after another,
as if the candidate answered real traffic while serving nobody. Reports latency and how often the two agree,
and keeps the candidate's answers as an artifact for a reviewer.

Each line is one request body as sent to /invocations (`dataframe_split`, `dataframe_records`, `instances` or
`inputs`), or an object whose `request` key holds one (as request loggers write them, next to a timestamp).
"""

from __future__ import annotations

import http.client
import json
import time
from collections.abc import Sequence
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any

from bot.errors import InvalidFile, Location, Problem
from bot.infra.client import Connection, ResponseError, error_text, predictions, prepare
from bot.infra.loadtest import percentile
from bot.infra.parity import rows_of, same

FORMATS = ("dataframe_split", "dataframe_records", "instances", "inputs")


@dataclass(frozen=True)
class Recorded:
    line: int
    body: bytes
    rows: int | None


@dataclass(frozen=True)
class Answer:
    line: int
    status: int | None
    latency_ms: float | None
    predictions: Any = None
    error: str | None = None

    @property
    def ok(self) -> bool:
        return self.error is None


@dataclass(frozen=True)
class Agreement:
    requests: int
    compared_rows: int
    agreeing_rows: int
    candidate_only_errors: int

    @property
    def rate(self) -> float | None:
        return self.agreeing_rows / self.compared_rows if self.compared_rows else None

    def as_dict(self) -> dict[str, Any]:
        return {**asdict(self), "rate": self.rate}


def read_log(path: Path) -> list[Recorded]:
    """Every request of a JSON Lines log; InvalidFile naming each bad line."""
    found, problems = [], []
    with open(path, encoding="utf-8") as handle:
        for number, text in enumerate(handle, start=1):
            if not text.strip():
                continue
            try:
                found.append(parse_line(text, number))
            except ValueError as exc:
                problems.append(Problem(Location(str(path), number), str(exc)))
    if problems:
        raise InvalidFile(problems)
    return found


def parse_line(text: str, number: int) -> Recorded:
    try:
        item = json.loads(text)
    except ValueError as exc:
        raise ValueError(f"not JSON ({exc.args[0]}); expected one request object per line") from None
    body = item.get("request") if isinstance(item, dict) and "request" in item else item
    if not isinstance(body, dict) or not any(k in body for k in FORMATS):
        raise ValueError(f"expected a request with one of {', '.join(FORMATS)} (or a `request` key holding one)")
    return Recorded(number, json.dumps(body).encode("utf-8"), rows_in(body))


def rows_in(body: dict[str, Any]) -> int | None:
    """How many rows a request carries, when its format says."""
    if "dataframe_split" in body:
        split = body["dataframe_split"]
        return len(split.get("data") or []) if isinstance(split, dict) else None
    value = next(body[k] for k in FORMATS if k in body)
    if isinstance(value, list):
        return len(value)
    if isinstance(value, dict) and value:
        first = next(iter(value.values()))
        return len(first) if isinstance(first, list) else 1
    return None


def replay(port: int, recorded: Sequence[Recorded], timeout_s: float) -> list[Answer]:
    """Send each request in turn on one keep-alive connection; every answer is kept, errors included."""
    conn = Connection(port, timeout_s)
    try:
        return [_send(conn, port, item) for item in recorded]
    finally:
        conn.close()


def _send(conn: Connection, port: int, item: Recorded) -> Answer:
    start = time.perf_counter_ns()
    try:
        reply = conn.exchange(prepare(port, item.body))
    except (OSError, http.client.HTTPException) as exc:
        return Answer(item.line, None, None, error=f"{type(exc).__name__}: {exc}")
    latency = (time.perf_counter_ns() - start) / 1e6
    if reply.status != 200:
        return Answer(item.line, reply.status, latency, error=error_text(reply.status, reply.body))
    try:
        found = predictions(reply.body, item.rows)
    except ResponseError as exc:
        return Answer(item.line, reply.status, latency, error=str(exc))
    return Answer(item.line, reply.status, latency, found)


def agreement(candidate: Sequence[Answer], champion: Sequence[Answer], tolerance: float) -> Agreement:
    """Row-by-row agreement where both answered; requests only the candidate failed are counted apart."""
    compared = agreeing = candidate_only = 0
    for mine, theirs in zip(candidate, champion, strict=True):
        if not mine.ok and theirs.ok:
            candidate_only += 1
        if not (mine.ok and theirs.ok):
            continue
        for a, b in zip(rows_of(mine.predictions), rows_of(theirs.predictions), strict=False):
            compared += 1
            agreeing += same(a, b, tolerance)[0]
    return Agreement(len(candidate), compared, agreeing, candidate_only)


def summary(answers: Sequence[Answer]) -> dict[str, Any]:
    ordered = sorted(a.latency_ms for a in answers if a.ok and a.latency_ms is not None)
    errors = [a for a in answers if not a.ok]
    return {
        "requests": len(answers),
        "errors": len(errors),
        "p50_ms": round(percentile(ordered, 50), 3) if ordered else None,
        "p95_ms": round(percentile(ordered, 95), 3) if ordered else None,
        "first_error": f"line {errors[0].line}: {errors[0].error}" if errors else None,
    }


def write_answers(path: Path, answers: Sequence[Answer]) -> None:
    """The candidate's answers, one JSON object per recorded request, in the log's order."""
    path.parent.mkdir(parents=True, exist_ok=True)
    with open(path, "w", encoding="utf-8") as out:
        for answer in answers:
            out.write(json.dumps(asdict(answer), default=str) + "\n")
