"""Canary analysis: is the candidate's live traffic good enough to take the next step?

The numbers come from a metrics source (a JSON Lines prediction log, or Prometheus's HTTP query API); the
decision is a pure function of them and the policy's conditions. Too little traffic is `inconclusive` (the
rollout halts where it is) and never a pass: a canary that nobody called has proven nothing.

A prediction log line looks like:
    {"ts": "2026-11-23T10:00:00Z", "model": "churn", "stage": "production", "version": "7",
     "latency_ms": 12.5, "error": false, "request_id": "r-1", "prediction": 0.82, "shadow": false}
"""

from __future__ import annotations

import json
import math
import urllib.error
import urllib.parse
import urllib.request
from collections.abc import Iterator, Mapping
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import Any, Protocol

from bot.deploy.strategies import Rollout
from bot.errors import ModelbotError
from bot.evidence import GateResult, Status

DEFAULT_MIN_REQUESTS = 100
DEFAULT_MAX_ERROR_RATE = 0.01
DEFAULT_MIN_AGREEMENT = 0.95


@dataclass(frozen=True)
class Traffic:
    """What the candidate served since its step began; `compared`/`agreed` count shadow answers matched with
    the stable version's answers to the same requests."""

    requests: int
    errors: int = 0
    p95_ms: float | None = None
    compared: int = 0
    agreed: int = 0

    @property
    def error_rate(self) -> float:
        return self.errors / self.requests if self.requests else 0.0


class MetricsSource(Protocol):
    def traffic(self, model: str, stage: str, rollout: Rollout, since: datetime | None) -> Traffic: ...


def _section(deploy: Mapping[str, Any], name: str) -> Mapping[str, Any]:
    value = deploy.get(name)
    return value if isinstance(value, Mapping) else {}


def analyse(rollout: Rollout, deploy: Mapping[str, Any], traffic: Traffic) -> list[GateResult]:
    """The gates of one step: enough traffic, then error rate, latency and (for shadow) agreement."""
    canary = _section(deploy, "canary")
    min_requests = int(canary.get("min_requests", DEFAULT_MIN_REQUESTS))
    seen = traffic.compared if rollout.shadow is not None else traffic.requests
    what = "compared shadow answers" if rollout.shadow is not None else "requests"
    if seen < min_requests:
        return [
            GateResult(
                "traffic",
                Status.INCONCLUSIVE,
                f"only {seen} {what} to version {rollout.candidate}; {min_requests} needed (halted)",
                observed=seen,
                threshold=min_requests,
            )
        ]
    results = [GateResult("traffic", Status.PASS, f"{seen} {what}", observed=seen, threshold=min_requests)]
    if rollout.shadow is not None:
        minimum = float(_section(deploy, "shadow").get("min_agreement", DEFAULT_MIN_AGREEMENT))
        rate = traffic.agreed / traffic.compared
        results.append(
            GateResult(
                "agreement",
                Status.PASS if rate >= minimum else Status.FAIL,
                f"the shadow agreed with the stable version on {rate:.1%} of requests",
                observed=round(rate, 6),
                threshold=minimum,
            )
        )
        return results
    limit = float(canary.get("max_error_rate", DEFAULT_MAX_ERROR_RATE))
    results.append(
        GateResult(
            "error_rate",
            Status.PASS if traffic.error_rate <= limit else Status.FAIL,
            f"{traffic.errors} errors in {traffic.requests} requests ({traffic.error_rate:.2%})",
            observed=round(traffic.error_rate, 6),
            threshold=limit,
        )
    )
    if canary.get("max_p95_ms") is not None:
        bound = float(canary["max_p95_ms"])
        if traffic.p95_ms is None:
            results.append(GateResult("p95_ms", Status.INCONCLUSIVE, "no latency measured", threshold=bound))
        else:
            results.append(
                GateResult(
                    "p95_ms",
                    Status.PASS if traffic.p95_ms <= bound else Status.FAIL,
                    f"p95 latency {traffic.p95_ms:.1f} ms",
                    observed=traffic.p95_ms,
                    threshold=bound,
                )
            )
    return results


# --- JSON Lines prediction log -----------------------------------------------------------------------------------
def _when(value: Any) -> datetime | None:
    if isinstance(value, int | float):
        return datetime.fromtimestamp(value, tz=UTC)
    if isinstance(value, str):
        parsed = datetime.fromisoformat(value.replace("Z", "+00:00"))
        return parsed if parsed.tzinfo else parsed.replace(tzinfo=UTC)
    return None


def _p95(values: list[float]) -> float | None:
    """The 95th percentile by the nearest-rank method."""
    if not values:
        return None
    ordered = sorted(values)
    return ordered[max(0, math.ceil(0.95 * len(ordered)) - 1)]


def _same(a: Any, b: Any) -> bool:
    if isinstance(a, int | float) and isinstance(b, int | float):
        return math.isclose(a, b, rel_tol=1e-9, abs_tol=1e-9)
    return bool(a == b)


class JsonLinesLog:
    def __init__(self, path: Path) -> None:
        self.path = path

    def _records(self, model: str, stage: str, since: datetime | None) -> Iterator[dict[str, Any]]:
        try:
            handle = self.path.open(encoding="utf-8")
        except OSError as exc:
            raise ModelbotError(f"cannot read the prediction log {self.path}: {exc.strerror}") from None
        with handle:
            for number, line in enumerate(handle, 1):
                if not line.strip():
                    continue
                try:
                    record = json.loads(line)
                    when = _when(record.get("ts"))
                except (json.JSONDecodeError, ValueError) as exc:
                    raise ModelbotError(f"{self.path}:{number}: not a JSON prediction record ({exc})") from None
                if record.get("model", model) != model or record.get("stage", stage) != stage:
                    continue
                if since is not None and when is not None and when < since:
                    continue
                yield record

    def traffic(self, model: str, stage: str, rollout: Rollout, since: datetime | None) -> Traffic:
        candidate = rollout.candidate
        served: list[dict[str, Any]] = []
        stable_answers: dict[str, Any] = {}
        shadow_answers: dict[str, Any] = {}
        for record in self._records(model, stage, since):
            version = str(record.get("version"))
            if version == candidate:
                served.append(record)
                if record.get("shadow") and "request_id" in record:
                    shadow_answers[str(record["request_id"])] = record.get("prediction")
            elif version == rollout.stable and "request_id" in record:
                stable_answers[str(record["request_id"])] = record.get("prediction")
        errors = sum(1 for r in served if r.get("error") or int(r.get("status", 200)) >= 500)
        latencies = [float(r["latency_ms"]) for r in served if r.get("latency_ms") is not None]
        paired = [rid for rid in shadow_answers if rid in stable_answers]
        agreed = sum(1 for rid in paired if _same(shadow_answers[rid], stable_answers[rid]))
        return Traffic(len(served), errors, _p95(latencies), len(paired), agreed)


# --- Prometheus ----------------------------------------------------------------------------------------------------
_LABELS = '{{model="{model}",stage="{stage}",version="{version}"}}'  # PromQL braces doubled for str.format
DEFAULT_QUERIES = {
    "requests": "sum(increase(modelbot_requests_total" + _LABELS + "[{window}]))",
    "errors": "sum(increase(modelbot_request_errors_total" + _LABELS + "[{window}]))",
    "p95_ms": "1000 * histogram_quantile(0.95, sum by (le) "
    "(rate(modelbot_request_duration_seconds_bucket" + _LABELS + "[{window}])))",
}


class Prometheus:
    """Prometheus's HTTP API (`GET /api/v1/query`): one instant query per number, over the step's window."""

    def __init__(
        self, url: str, queries: Mapping[str, str] | None = None, timeout_s: float = 10.0, now: datetime | None = None
    ) -> None:
        self.url = url.rstrip("/")
        self.queries = {**DEFAULT_QUERIES, **(queries or {})}
        self.timeout_s = timeout_s
        self.now = now

    def query(self, promql: str) -> float | None:
        address = f"{self.url}/api/v1/query?{urllib.parse.urlencode({'query': promql})}"
        try:
            with urllib.request.urlopen(address, timeout=self.timeout_s) as answer:
                body = json.loads(answer.read())
        except urllib.error.HTTPError as exc:
            said = exc.read(300).decode("utf-8", "replace")
            raise ModelbotError(f"Prometheus at {self.url} refused the query ({exc.code}): {said}") from None
        except (urllib.error.URLError, TimeoutError, OSError) as exc:
            raise ModelbotError(f"Prometheus at {self.url} cannot be reached: {getattr(exc, 'reason', exc)}") from None
        if body.get("status") != "success":
            raise ModelbotError(f"Prometheus at {self.url}: {body.get('errorType')}: {body.get('error')}")
        result = body["data"]["result"]
        if not result:
            return None
        value = float(result[0]["value"][1])
        return None if math.isnan(value) else value

    def traffic(self, model: str, stage: str, rollout: Rollout, since: datetime | None) -> Traffic:
        now = self.now or datetime.now(UTC)
        seconds = max(60, int((now - since).total_seconds())) if since else 3600
        fields = {"model": model, "stage": stage, "version": rollout.candidate, "window": f"{seconds}s"}
        requests = self.query(self.queries["requests"].format(**fields)) or 0.0
        errors = self.query(self.queries["errors"].format(**fields)) or 0.0
        p95 = self.query(self.queries["p95_ms"].format(**fields))
        return Traffic(round(requests), round(errors), p95)
