"""Where a rollout's numbers come from: the gateway's JSON Lines prediction log, or Prometheus's HTTP API.

Both answer one question: over the window since the step began, what did the candidate and the stable version
serve (requests, errors, p95 latency), how did mirrored answers compare, and what did `/feedback` say of each
arm. A prediction log line looks like:

    {"ts": "2026-11-23T10:00:00Z", "model": "churn", "stage": "production", "version": "7",
     "latency_ms": 12.5, "error": false, "request_id": "r-1", "prediction": 0.82, "shadow": false}

and a feedback line `{"kind": "feedback", "request_id": "r-1", "version": "7", "outcome": "correct",
"truth": 1, ...}`.
"""

from __future__ import annotations

import json
import math
import urllib.error
import urllib.parse
import urllib.request
from collections.abc import Iterator, Mapping
from datetime import UTC, datetime
from pathlib import Path
from typing import Any, Protocol

from bot.deploy.analysis import Arm, Outcomes, Window
from bot.deploy.strategies import Rollout
from bot.errors import ModelbotError
from bot.policy.deploy import RolloutPolicy

PINNED_ARM = "pinned"  # requests that asked for one version (bot/serving/routing.py), e.g. the live check


class MetricsSource(Protocol):
    def window(
        self, model: str, stage: str, rollout: Rollout, since: datetime | None, rules: RolloutPolicy
    ) -> Window: ...


def _when(value: Any) -> datetime | None:
    if isinstance(value, int | float):
        return datetime.fromtimestamp(value, tz=UTC)
    if isinstance(value, str):
        parsed = datetime.fromisoformat(value.replace("Z", "+00:00"))
        return parsed if parsed.tzinfo else parsed.replace(tzinfo=UTC)
    return None


def p95(values: list[float]) -> float | None:
    """The 95th percentile by the nearest-rank method."""
    if not values:
        return None
    ordered = sorted(values)
    return ordered[max(0, math.ceil(0.95 * len(ordered)) - 1)]


def _same(a: Any, b: Any) -> bool:
    if isinstance(a, int | float) and isinstance(b, int | float):
        return math.isclose(a, b, rel_tol=1e-9, abs_tol=1e-9)
    return bool(a == b)


def _agreed(shadow: Mapping[str, Any], live_prediction: Any) -> bool:
    """The gateway's own verdict on a mirrored answer (`agreed`: same label per row, as its shadow counters
    count), else equal predictions (a log another server wrote)."""
    if isinstance(shadow.get("agreed"), bool):
        return bool(shadow["agreed"])
    return _same(shadow.get("prediction"), live_prediction)


class _Tally:
    def __init__(self) -> None:
        self.requests = 0
        self.errors = 0
        self.latencies: list[float] = []
        self.count = 0
        self.total = 0.0
        self.squares = 0.0

    def served(self, record: Mapping[str, Any]) -> None:
        self.requests += 1
        if record.get("error") or int(record.get("status", 200)) >= 500:
            self.errors += 1
        if record.get("latency_ms") is not None:
            self.latencies.append(float(record["latency_ms"]))

    def outcome(self, value: float) -> None:
        self.count += 1
        self.total += value
        self.squares += value * value

    def arm(self) -> Arm:
        return Arm(self.requests, self.errors, p95(self.latencies))

    def outcomes(self) -> Outcomes:
        return Outcomes(self.count, self.total, self.squares)


def _outcome_metric(rollout: Rollout, rules: RolloutPolicy) -> str | None:
    """The /feedback outcome an A/B rollout is judged on; None for other strategies."""
    return rules.outcome.metric if rules.outcome is not None and rollout.strategy == "ab" else None


def _outcome_value(record: Mapping[str, Any], metric: str) -> float | None:
    if metric == "accuracy":
        found = record.get("outcome")
        return 1.0 if found == "correct" else 0.0 if found == "wrong" else None
    truth = record.get("truth")
    if isinstance(truth, bool):
        return float(truth)
    return float(truth) if isinstance(truth, int | float) and math.isfinite(truth) else None


class JsonLinesLog:
    """The gateway's prediction log (`--log DIR` of `modelbot serve`: DIR/predictions.jsonl)."""

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
                    if not isinstance(record, dict):
                        raise ValueError("not an object")
                    when = _when(record.get("ts"))
                except (json.JSONDecodeError, ValueError) as exc:
                    raise ModelbotError(f"{self.path}:{number}: not a JSON prediction record ({exc})") from None
                if record.get("model", model) != model or record.get("stage", stage) != stage:
                    continue
                if since is not None and when is not None and when < since:
                    continue
                yield record

    def window(self, model: str, stage: str, rollout: Rollout, since: datetime | None, rules: RolloutPolicy) -> Window:
        outcome = _outcome_metric(rollout, rules)
        candidate, stable = _Tally(), _Tally()
        stable_answers: dict[str, Any] = {}
        shadow_answers: dict[str, Any] = {}
        labelled: set[str] = set()
        for record in self._records(model, stage, since):
            version = str(record.get("version"))
            tally = candidate if version == rollout.candidate else stable if version == rollout.stable else None
            if tally is None:
                continue
            if record.get("arm") == PINNED_ARM:  # the deploy's live check, not traffic
                continue
            if record.get("kind") == "feedback":
                # one answer, one label: the gateway counts the first sent about it (`counted`), so a client
                # cannot outvote the other answers of an arm by labelling its own answer again and again
                rid = record.get("request_id")
                if record.get("counted") is False or not isinstance(rid, str) or rid in labelled:
                    continue
                labelled.add(rid)
                value = _outcome_value(record, outcome) if outcome else None
                if value is not None:
                    tally.outcome(value)
                continue
            if record.get("shadow"):  # a mirrored answer; a failed one is counted by the gateway, not compared
                if tally is candidate and "request_id" in record and not record.get("error"):
                    shadow_answers[str(record["request_id"])] = record
                continue
            tally.served(record)
            if tally is stable and "request_id" in record:
                stable_answers[str(record["request_id"])] = record.get("prediction")
        paired = [rid for rid in shadow_answers if rid in stable_answers]
        agreed = sum(1 for rid in paired if _agreed(shadow_answers[rid], stable_answers[rid]))
        return Window(
            candidate.arm(),
            stable.arm() if rollout.stable is not None else None,
            len(paired),
            agreed,
            candidate.outcomes() if outcome else None,
            stable.outcomes() if outcome else None,
        )


# PromQL braces doubled for str.format; pinned requests (the live check) are not traffic
_LABELS = '{{model="{model}",stage="{stage}",version="{version}",arm!="pinned"}}'
DEFAULT_QUERIES = {
    "requests": "sum(increase(modelbot_requests_total" + _LABELS + "[{window}]))",
    "errors": "sum(increase(modelbot_request_errors_total" + _LABELS + "[{window}]))",
    "p95_ms": "1000 * histogram_quantile(0.95, sum by (le) "
    "(rate(modelbot_request_duration_seconds_bucket" + _LABELS + "[{window}])))",
    "shadow_compared": "sum(increase(modelbot_shadow_compared_total" + _LABELS + "[{window}]))",
    "shadow_agreed": "sum(increase(modelbot_shadow_agreed_total" + _LABELS + "[{window}]))",
    # feedback about a pinned answer is no arm's either: anyone may pin a version with X-Modelbot-Version
    "feedback_correct": 'sum(increase(modelbot_feedback_total{{model="{model}",stage="{stage}",'
    'version="{version}",arm!="pinned",outcome="correct"}}[{window}]))',
    "feedback_wrong": 'sum(increase(modelbot_feedback_total{{model="{model}",stage="{stage}",'
    'version="{version}",arm!="pinned",outcome="wrong"}}[{window}]))',
}


def fill(query: str, fields: Mapping[str, str]) -> str:
    """A policy's PromQL with {model}, {stage}, {version} and {window} filled in; other braces are doubled."""
    try:
        return query.format(**fields)
    except (KeyError, IndexError, ValueError) as exc:
        raise ModelbotError(
            f"rollout.queries: cannot fill in {query!r} ({type(exc).__name__}: {exc}); it may name only "
            "{model}, {stage}, {version} and {window}, and PromQL's own braces are written {{ and }}"
        ) from None


class Prometheus:
    """Prometheus's HTTP API (`GET /api/v1/query`): one instant query per number, over the step's window, for
    the candidate and the stable version alike. A mean outcome needs the log: Prometheus holds counts only."""

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
        except ValueError:
            raise ModelbotError(f"Prometheus at {self.url} answered something that is not JSON") from None
        if body.get("status") != "success":
            raise ModelbotError(f"Prometheus at {self.url}: {body.get('errorType')}: {body.get('error')}")
        result = body["data"]["result"]
        if not result:
            return None
        value = float(result[0]["value"][1])
        return None if math.isnan(value) else value

    def _number(self, query: str, fields: Mapping[str, str]) -> float:
        return self.query(fill(query, fields)) or 0.0

    def window(self, model: str, stage: str, rollout: Rollout, since: datetime | None, rules: RolloutPolicy) -> Window:
        outcome = _outcome_metric(rollout, rules)
        queries = {**self.queries, **rules.queries}
        now = self.now or datetime.now(UTC)
        seconds = max(60, int((now - since).total_seconds())) if since else 3600
        arms: dict[str, Arm] = {}
        labels: dict[str, Outcomes] = {}
        for version in (v for v in (rollout.candidate, rollout.stable) if v is not None):
            fields = {"model": model, "stage": stage, "version": version, "window": f"{seconds}s"}
            if version != rollout.shadow:
                requests, errors = self._number(queries["requests"], fields), self._number(queries["errors"], fields)
                arms[version] = Arm(round(requests), round(errors), self.query(fill(queries["p95_ms"], fields)))
            if outcome == "accuracy":
                right, wrong = (
                    self._number(queries["feedback_correct"], fields),
                    self._number(queries["feedback_wrong"], fields),
                )
                labels[version] = Outcomes(round(right + wrong), round(right), round(right))
        compared = agreed = 0
        if rollout.shadow is not None:
            fields = {"model": model, "stage": stage, "version": rollout.shadow, "window": f"{seconds}s"}
            compared = round(self._number(queries["shadow_compared"], fields))
            agreed = round(self._number(queries["shadow_agreed"], fields))
        return Window(
            arms.get(rollout.candidate, Arm(0)),
            arms.get(rollout.stable) if rollout.stable is not None else None,
            compared,
            agreed,
            labels.get(rollout.candidate),
            labels.get(rollout.stable or ""),
        )
