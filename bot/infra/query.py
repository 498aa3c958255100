"""Query mode: sample rows of the evaluation data sent in the serving API's format, every answer checked
against the declared output schema. The answers are kept for the parity check."""

from __future__ import annotations

import http.client
from dataclasses import dataclass, field
from typing import Any

from bot.infra.client import Connection, ResponseError, check_output, encode_split, error_text, predictions, prepare
from bot.infra.parity import rows_of
from bot.infra.signature import Schema

PROBLEMS_KEPT = 5


class _NoAnswer(ResponseError):
    """The server did not answer in time: later batches would wait as long, so the step stops."""


@dataclass(frozen=True)
class QueryResult:
    requests: int
    answered: int
    rows: int
    problems: tuple[str, ...] = ()
    served: list[Any] = field(default_factory=list)

    @property
    def ok(self) -> bool:
        return self.answered == self.requests

    def as_dict(self) -> dict[str, Any]:
        return {
            "requests": self.requests,
            "answered": self.answered,
            "rows": self.rows,
            "problems": list(self.problems),
        }


def run(port: int, frame: Any, output: Schema | None, batch: int, timeout_s: float) -> QueryResult:
    """Send `frame` in batches of `batch` rows; `served` holds every row's prediction when all answered."""
    conn = Connection(port, timeout_s)
    problems: list[str] = []
    served: list[Any] = []
    requests = answered = 0
    try:
        for start in range(0, len(frame), batch):
            part = frame.iloc[start : start + batch]
            requests += 1
            try:
                found = _ask(conn, port, part, output)
            except ResponseError as exc:
                problems.append(f"rows {start}-{start + len(part) - 1}: {exc}")
                if isinstance(exc, _NoAnswer):
                    break
                continue
            answered += 1
            served.extend(rows_of(found))
    finally:
        conn.close()
    return QueryResult(
        requests, answered, len(frame), tuple(problems[:PROBLEMS_KEPT]), served if answered == requests else []
    )


def _ask(conn: Connection, port: int, part: Any, output: Schema | None) -> Any:
    try:
        reply = conn.exchange(prepare(port, encode_split(part)))
    except (OSError, http.client.HTTPException) as exc:
        raise _NoAnswer(f"no answer ({type(exc).__name__}: {exc})") from None
    if reply.status == 504:
        raise _NoAnswer(f"HTTP 504: the server's own request timeout passed: {reply.body[:200]!r}")
    if reply.status != 200:
        raise ResponseError(error_text(reply.status, reply.body))
    found = predictions(reply.body, len(part))
    check_output(found, output)
    return found
