"""A closed-loop load test: `concurrency` threads, each with one keep-alive connection, send prepared
requests back to back after a warm-up, for a number of requests or a duration, whichever ends first.

The tester must cost little next to what it measures: requests are encoded once, each thread owns its
connection and its list of latencies, and the only shared state is a counter. Its own CPU time per request
is part of the result so a reader can tell.
"""

from __future__ import annotations

import http.client
import itertools
import math
import threading
import time
from collections import Counter
from collections.abc import Callable, Mapping, Sequence
from dataclasses import asdict, dataclass, field
from typing import Any

from bot.infra.client import Connection, ResponseError, error_text, predictions
from bot.policy.gates import DEFAULT_LOAD_REQUESTS, LoadTest

DEFAULT_REQUESTS = DEFAULT_LOAD_REQUESTS


@dataclass(frozen=True)
class LoadSpec:
    concurrency: int = 1
    requests: int | None = DEFAULT_REQUESTS
    duration_s: float | None = None
    warmup: int = 0
    timeout_s: float = 10.0
    max_s: float = 600.0

    @classmethod
    def from_policy(cls, policy: LoadTest, timeout_s: float = 10.0) -> LoadSpec:
        """`gates.infra.load_test`; with neither `requests` nor `duration_s`, a fixed number of requests."""
        return cls(policy.concurrency, policy.request_count, policy.duration_s, policy.warmup, timeout_s)


@dataclass(frozen=True)
class Payload:
    """A prepared request and the number of rows it carries (the answer must hold as many)."""

    request: bytes
    rows: int


@dataclass(frozen=True)
class LoadResult:
    concurrency: int
    sent: int
    ok: int
    wall_s: float
    p50_ms: float | None
    p95_ms: float | None
    p99_ms: float | None
    mean_ms: float | None
    max_ms: float | None
    throughput_rps: float
    error_rate: float
    client_cpu_ms_per_request: float
    errors: Mapping[str, int] = field(default_factory=dict)
    first_error: str | None = None
    aborted: str | None = None

    def as_dict(self) -> dict[str, Any]:
        out = asdict(self)
        out["errors"] = dict(self.errors)
        return {k: round(v, 3) if isinstance(v, float) else v for k, v in out.items()}


def percentile(ordered: Sequence[float], q: float) -> float:
    """The q-th percentile (0..100) of sorted values, interpolated linearly (numpy's default method)."""
    if not ordered:
        raise ValueError("percentile of no values")
    position = (len(ordered) - 1) * q / 100.0
    low = math.floor(position)
    high = min(low + 1, len(ordered) - 1)
    return ordered[low] + (ordered[high] - ordered[low]) * (position - low)


def run(
    port: int, payloads: Sequence[Payload], spec: LoadSpec, death: Callable[[], str | None] = lambda: None
) -> LoadResult:
    """Run the test against 127.0.0.1:`port`. `death` says why the server is gone (None while it runs); it is
    asked after a failed request, and a dead server ends the test at once."""
    if not payloads:
        raise ValueError("a load test needs at least one request")
    state = _State(spec, death)
    gate = threading.Barrier(spec.concurrency, action=state.begin)
    workers = [
        threading.Thread(target=_worker, args=(i, port, payloads, spec, gate, state), daemon=True, name=f"load-{i}")
        for i in range(spec.concurrency)
    ]
    for worker in workers:
        worker.start()
    hard_stop = time.monotonic() + spec.max_s
    for worker in workers:
        worker.join(max(0.0, hard_stop - time.monotonic()))
        if worker.is_alive():
            state.abort(f"the load test was stopped after its time limit of {spec.max_s:g} s")
    for worker in workers:
        worker.join(spec.timeout_s + 1)
    return state.result(spec.concurrency)


class _State:
    def __init__(self, spec: LoadSpec, death: Callable[[], str | None]) -> None:
        self.spec = spec
        self.death = death
        self.stop = threading.Event()
        self.counter = itertools.count()
        self.latencies: list[list[float]] = []
        self.errors: Counter[str] = Counter()
        self.first_error: str | None = None
        self.aborted: str | None = None
        self.lock = threading.Lock()
        self.started = self.ended = 0.0
        self.cpu_start = self.cpu_end = 0.0
        self.deadline = math.inf
        self.unanswered_in_row = 0

    def begin(self) -> None:
        self.cpu_start = time.process_time()
        self.started = time.perf_counter()
        if self.spec.duration_s is not None:
            self.deadline = self.started + self.spec.duration_s

    def take(self) -> bool:
        if self.stop.is_set() or time.perf_counter() >= self.deadline:
            return False
        return self.spec.requests is None or next(self.counter) < self.spec.requests

    def fail(self, kind: str, detail: str) -> None:
        with self.lock:
            self.errors[kind] += 1
            self.first_error = self.first_error or detail
            self.unanswered_in_row = self.unanswered_in_row + 1 if kind in ("timeout", "http_504") else 0
            hung = self.unanswered_in_row >= self.spec.concurrency
        reason = self.death()
        if reason is not None:
            self.abort(f"{reason} during the load test")
        elif hung:
            self.abort(
                f"the server stopped answering: {self.unanswered_in_row} requests in a row got no answer "
                f"within {self.spec.timeout_s:g} s"
            )

    def abort(self, reason: str) -> None:
        with self.lock:
            self.aborted = self.aborted or reason
        self.stop.set()

    def finish(self, latencies: list[float]) -> None:
        with self.lock:
            self.latencies.append(latencies)
            self.ended = max(self.ended, time.perf_counter())
            self.cpu_end = time.process_time()

    def result(self, concurrency: int) -> LoadResult:
        ordered = sorted(itertools.chain.from_iterable(self.latencies))
        failed = sum(self.errors.values())
        sent = len(ordered) + failed
        wall = max(self.ended - self.started, 1e-9) if self.started else 0.0
        return LoadResult(
            concurrency=concurrency,
            sent=sent,
            ok=len(ordered),
            wall_s=wall,
            p50_ms=percentile(ordered, 50) if ordered else None,
            p95_ms=percentile(ordered, 95) if ordered else None,
            p99_ms=percentile(ordered, 99) if ordered else None,
            mean_ms=sum(ordered) / len(ordered) if ordered else None,
            max_ms=ordered[-1] if ordered else None,
            throughput_rps=len(ordered) / wall if wall else 0.0,
            error_rate=failed / sent if sent else 0.0,
            client_cpu_ms_per_request=(self.cpu_end - self.cpu_start) * 1000 / sent if sent else 0.0,
            errors=dict(self.errors),
            first_error=self.first_error,
            aborted=self.aborted,
        )


def _worker(
    index: int, port: int, payloads: Sequence[Payload], spec: LoadSpec, gate: threading.Barrier, state: _State
) -> None:
    conn = Connection(port, spec.timeout_s)
    latencies: list[float] = []
    try:
        for k in range(_share(spec.warmup, spec.concurrency, index)):
            _one(conn, payloads[(index + k) % len(payloads)], None)
        gate.wait(timeout=spec.max_s)
        k = index
        while state.take():
            payload = payloads[k % len(payloads)]
            k += spec.concurrency
            elapsed = _one(conn, payload, state)
            if elapsed is not None:
                latencies.append(elapsed)
                state.unanswered_in_row = 0
    except threading.BrokenBarrierError:
        state.abort("a load-test thread failed before the measured phase")
    except BaseException:
        gate.abort()
        raise
    finally:
        conn.close()
        state.finish(latencies)


def _share(total: int, parts: int, index: int) -> int:
    return total // parts + (1 if index < total % parts else 0)


def _one(conn: Connection, payload: Payload, state: _State | None) -> float | None:
    """One request; its latency in ms when answered correctly, else None (recorded as an error)."""
    start = time.perf_counter_ns()
    try:
        reply = conn.exchange(payload.request)
    except TimeoutError:
        return _error(state, "timeout", "no answer within the request timeout")
    except (OSError, http.client.HTTPException) as exc:
        return _error(state, "connection", f"{type(exc).__name__}: {exc}")
    elapsed = (time.perf_counter_ns() - start) / 1e6
    if reply.status != 200:
        return _error(state, f"http_{reply.status}", error_text(reply.status, reply.body))
    try:
        predictions(reply.body, payload.rows)
    except ResponseError as exc:
        return _error(state, "malformed", str(exc))
    return elapsed


def _error(state: _State | None, kind: str, detail: str) -> float | None:
    """Record a failed request (warm-up failures are not recorded); always None, the missing latency."""
    if state is not None:
        state.fail(kind, detail)
    return None
