"""The gateway's Prometheus metrics, under the names `advance` queries (bot/deploy/analysis.py).

Every request counts once, under the version it was routed to (`arm`: stable, candidate or preview), whoever
answered it in the end; a failure of that version counts in `modelbot_request_errors_total` even when the
fallback answered, so a canary's error rate is the candidate's own.
"""

from __future__ import annotations

from prometheus_client import CollectorRegistry, Counter, Gauge, Histogram, generate_latest

LABELS = ("model", "stage", "version", "arm")
BUCKETS = (
    0.001,
    0.002,
    0.003,
    0.005,
    0.0075,
    0.01,
    0.015,
    0.02,
    0.03,
    0.05,
    0.075,
    0.1,
    0.15,
    0.2,
    0.3,
    0.5,
    0.75,
    1.0,
    1.5,
    2.0,
    3.0,
    5.0,
    10.0,
    30.0,
)


class Metrics:
    """One registry per gateway (tests run several in one process)."""

    def __init__(self) -> None:
        self.registry = CollectorRegistry()
        r = self.registry
        self.requests = Counter(
            "modelbot_requests", "Requests answered, by the version they were routed to.", LABELS, registry=r
        )
        self.errors = Counter(
            "modelbot_request_errors",
            "Requests the routed version failed (error, timeout, "
            "invalid answer, no backend), whether or not the fallback answered.",
            (*LABELS, "reason"),
            registry=r,
        )
        self.duration = Histogram(
            "modelbot_request_duration_seconds",
            "Time to answer, fallback included.",
            LABELS,
            buckets=BUCKETS,
            registry=r,
        )
        self.fallbacks = Counter(
            "modelbot_fallbacks",
            "Requests answered by the fallback version or constant.",
            (*LABELS, "served_by", "reason"),
            registry=r,
        )
        shadow = ("model", "stage", "version")
        self.shadow_compared = Counter(
            "modelbot_shadow_compared", "Shadow answers compared with the live answer.", shadow, registry=r
        )
        self.shadow_agreed = Counter(
            "modelbot_shadow_agreed", "Shadow answers that agreed with the live answer.", shadow, registry=r
        )
        self.shadow_errors = Counter(
            "modelbot_shadow_errors", "Mirrored requests the shadow failed.", shadow, registry=r
        )
        self.shadow_dropped = Counter(
            "modelbot_shadow_dropped",
            "Mirrored requests dropped before reaching the shadow (reason full: the shadow answers slower than "
            "the live traffic comes; retired: the state changed and the version shadows no more).",
            (*shadow, "reason"),
            registry=r,
        )
        self.feedback = Counter(
            "modelbot_feedback",
            "Feedback received, by whether the served answer was right.",
            (*LABELS, "outcome"),
            registry=r,
        )
        self.backend_up = Gauge(
            "modelbot_backend_up", "1 when the version's model process answers.", ("model", "version"), registry=r
        )
        self.restarts = Counter(
            "modelbot_backend_restarts",
            "Model processes started again after a crash.",
            ("model", "version"),
            registry=r,
        )
        self.reloads = Counter("modelbot_reloads", "Serving states applied.", ("outcome",), registry=r)

    def render(self) -> bytes:
        return generate_latest(self.registry)
