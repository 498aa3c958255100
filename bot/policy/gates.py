"""A stage's `gates` (and the rollback's) as typed, read-only values, parsed once by the loader.

The loader parses after the schema check, so every value here is already valid: the parsers only pick keys
and apply the defaults, which live here and nowhere else. Each value also keeps the keys the policy wrote, in
its order (`written`): `as_dict` gives back exactly the policy's words (the plan shows them), never a default
the policy did not write, and numbers stay as written (1 stays 1, not 1.0).
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

DEFAULT_LOAD_REQUESTS = 100  # a load test that names neither `requests` nor `duration_s` sends this many


class Written:
    """Base of every gates value: remembers which keys the policy wrote."""

    written: tuple[str, ...]

    def as_dict(self) -> dict[str, Any]:
        """The keys the policy wrote, with their values as written (nested values too)."""
        return {key: _plain(getattr(self, key)) for key in self.written}


def _plain(value: Any) -> Any:
    if isinstance(value, Written):
        return value.as_dict()
    if isinstance(value, Mapping):
        return {key: _plain(item) for key, item in value.items()}
    if isinstance(value, tuple):
        return [_plain(item) for item in value]
    return value


@dataclass(frozen=True)
class Bootstrap(Written):
    """`gates.bootstrap`: how the counting and loss metrics' intervals are resampled."""

    resamples: int = 1000
    seed: int = 0
    written: tuple[str, ...] = ()

    @classmethod
    def of(cls, raw: Mapping[str, Any]) -> Bootstrap:
        return cls(raw.get("resamples", 1000), raw.get("seed", 0), tuple(raw))


@dataclass(frozen=True)
class Bounds(Written):
    """`gates.metrics.<metric>`: an absolute floor (`min`) and ceiling (`max`) on the candidate."""

    min: float | None = None
    max: float | None = None
    written: tuple[str, ...] = ()

    @classmethod
    def of(cls, raw: Mapping[str, Any]) -> Bounds:
        return cls(raw.get("min"), raw.get("max"), tuple(raw))

    def limits(self) -> tuple[tuple[str, bool, float], ...]:
        """(bound, higher is good, threshold) for each bound set: the floor first."""
        found = (("min", True, self.min), ("max", False, self.max))
        return tuple((bound, good, value) for bound, good, value in found if value is not None)


@dataclass(frozen=True)
class ChampionMargins(Written):
    """`gates.champion.<metric>`: against the version the stage holds, on the paired difference."""

    non_inferiority: float | None = None
    min_improvement: float | None = None
    relative: bool = False
    written: tuple[str, ...] = ()

    @classmethod
    def of(cls, raw: Mapping[str, Any]) -> ChampionMargins:
        return cls(raw.get("non_inferiority"), raw.get("min_improvement"), raw.get("relative", False), tuple(raw))

    def margins(self) -> tuple[tuple[str, float], ...]:
        """(key, margin) for each margin set: non-inferiority first."""
        found = (("non_inferiority", self.non_inferiority), ("min_improvement", self.min_improvement))
        return tuple((key, value) for key, value in found if value is not None)


@dataclass(frozen=True)
class BaselineGain(Written):
    """`gates.baseline.<metric>`: the gain the candidate needs over the naive baseline."""

    min_gain: float
    relative: bool = False
    written: tuple[str, ...] = ()

    @classmethod
    def of(cls, raw: Mapping[str, Any]) -> BaselineGain:
        return cls(raw["min_gain"], raw.get("relative", False), tuple(raw))

    def margins(self) -> tuple[tuple[str, float], ...]:
        return (("min_gain", self.min_gain),)


@dataclass(frozen=True)
class Slices(Written):
    """`gates.slices`: per-slice gates on one metric."""

    metric: str
    min_rows: int = 30
    worst_ratio: float | None = None
    max_regression: float | None = None
    correction: str = "holm"
    written: tuple[str, ...] = ()

    @classmethod
    def of(cls, raw: Mapping[str, Any]) -> Slices:
        return cls(
            raw["metric"],
            raw.get("min_rows", 30),
            raw.get("worst_ratio"),
            raw.get("max_regression"),
            raw.get("correction", "holm"),
            tuple(raw),
        )


@dataclass(frozen=True)
class ErrorAnalysis(Written):
    """`gates.error_analysis`: prediction flips against the champion, and the weakest segments' size."""

    max_flip_rate: float | None = None
    min_segment_share: float = 0.05
    written: tuple[str, ...] = ()

    @classmethod
    def of(cls, raw: Mapping[str, Any]) -> ErrorAnalysis:
        return cls(raw.get("max_flip_rate"), raw.get("min_segment_share", 0.05), tuple(raw))


@dataclass(frozen=True)
class Robustness(Written):
    """`gates.robustness`: the probes the candidate must answer."""

    probes: tuple[str, ...] = ()
    written: tuple[str, ...] = ()

    @classmethod
    def of(cls, raw: Mapping[str, Any]) -> Robustness:
        return cls(tuple(raw.get("probes", ())), tuple(raw))


@dataclass(frozen=True)
class Drift(Written):
    """`gates.data.drift`: the largest shift allowed per statistic against the reference data."""

    psi: float | None = None
    ks: float | None = None
    wasserstein: float | None = None
    written: tuple[str, ...] = ()

    @classmethod
    def of(cls, raw: Mapping[str, Any]) -> Drift:
        return cls(raw.get("psi"), raw.get("ks"), raw.get("wasserstein"), tuple(raw))

    def limits(self) -> tuple[tuple[str, float], ...]:
        """(statistic, limit) for each limit set, in the order psi, ks, wasserstein."""
        found = (("psi", self.psi), ("ks", self.ks), ("wasserstein", self.wasserstein))
        return tuple((stat, value) for stat, value in found if value is not None)


@dataclass(frozen=True)
class DataChecks(Written):
    """`gates.data`: null rates, drift, and the gap between training and evaluation metrics."""

    max_null_rate: float | None = None
    drift: Drift = field(default_factory=Drift)
    max_train_eval_gap: float | None = None
    written: tuple[str, ...] = ()

    @classmethod
    def of(cls, raw: Mapping[str, Any]) -> DataChecks:
        return cls(raw.get("max_null_rate"), Drift.of(raw.get("drift", {})), raw.get("max_train_eval_gap"), tuple(raw))


@dataclass(frozen=True)
class LoadTest(Written):
    """`gates.infra.load_test`: a closed-loop load test's shape."""

    concurrency: int = 1
    requests: int | None = None
    duration_s: float | None = None
    warmup: int = 0
    written: tuple[str, ...] = ()

    @classmethod
    def of(cls, raw: Mapping[str, Any]) -> LoadTest:
        return cls(
            raw.get("concurrency", 1), raw.get("requests"), raw.get("duration_s"), raw.get("warmup", 0), tuple(raw)
        )

    @property
    def request_count(self) -> int | None:
        """`requests`; with neither `requests` nor `duration_s`, a fixed number of requests."""
        if self.requests is None and self.duration_s is None:
            return DEFAULT_LOAD_REQUESTS
        return self.requests


@dataclass(frozen=True)
class Sla(Written):
    """`gates.infra.sla`: latency, error and throughput limits under the load test."""

    p50_ms: float | None = None
    p95_ms: float | None = None
    p99_ms: float | None = None
    max_error_rate: float = 0.0
    min_throughput_rps: float | None = None
    max_p95_vs_champion: float | None = None
    written: tuple[str, ...] = ()

    @classmethod
    def of(cls, raw: Mapping[str, Any]) -> Sla:
        return cls(
            raw.get("p50_ms"),
            raw.get("p95_ms"),
            raw.get("p99_ms"),
            raw.get("max_error_rate", 0.0),
            raw.get("min_throughput_rps"),
            raw.get("max_p95_vs_champion"),
            tuple(raw),
        )

    @property
    def named(self) -> bool:
        """The policy sets at least one figure (an empty `sla:` asks for nothing, not even a load test)."""
        return bool(self.written)

    def bounds(self) -> tuple[tuple[str, float], ...]:
        """(key, limit) for each latency or throughput limit set, in the order p50, p95, p99, throughput."""
        found = (
            ("p50_ms", self.p50_ms),
            ("p95_ms", self.p95_ms),
            ("p99_ms", self.p99_ms),
            ("min_throughput_rps", self.min_throughput_rps),
        )
        return tuple((key, value) for key, value in found if value is not None)


@dataclass(frozen=True)
class Infra(Written):
    """`gates.infra`: the candidate in a sandboxed model server."""

    mode: str = "query"
    workers: int = 1
    load_deadline_s: float = 120.0
    tries: int = 1
    memory_mb: int | None = None
    parity_tolerance: float = 1e-6
    load_test: LoadTest | None = None
    sla: Sla = field(default_factory=Sla)
    replay: bool = False
    written: tuple[str, ...] = ()

    @classmethod
    def of(cls, raw: Mapping[str, Any]) -> Infra:
        return cls(
            raw.get("mode", "query"),
            raw.get("workers", 1),
            raw.get("load_deadline_s", 120.0),
            raw.get("tries", 1),
            raw.get("memory_mb"),
            raw.get("parity_tolerance", 1e-6),
            LoadTest.of(raw["load_test"]) if "load_test" in raw else None,
            Sla.of(raw.get("sla", {})),
            bool(raw.get("replay", False)),
            tuple(raw),
        )

    @property
    def measures_load(self) -> bool:
        """A load test runs when the policy names one, or any SLA figure to measure under load."""
        return self.load_test is not None or self.sla.named


@dataclass(frozen=True)
class Gates(Written):
    """A stage's `gates` (or the rollback's reduced ones): what validation checks, with its settings."""

    confidence: float = 0.95
    bootstrap: Bootstrap = field(default_factory=Bootstrap)
    averaging: str = "macro"
    metrics: Mapping[str, Bounds] = field(default_factory=dict)
    champion: Mapping[str, ChampionMargins] = field(default_factory=dict)
    baseline: Mapping[str, BaselineGain] = field(default_factory=dict)
    slices: Slices | None = None
    error_analysis: ErrorAnalysis = field(default_factory=ErrorAnalysis)
    robustness: Robustness = field(default_factory=Robustness)
    data: DataChecks = field(default_factory=DataChecks)
    infra: Infra | None = None
    written: tuple[str, ...] = ()

    @classmethod
    def of(cls, raw: Mapping[str, Any]) -> Gates:
        """From a schema-valid `gates` mapping (after `extends` and overrides are merged)."""
        return cls(
            raw.get("confidence", 0.95),
            Bootstrap.of(raw.get("bootstrap", {})),
            raw.get("averaging", "macro"),
            {metric: Bounds.of(spec) for metric, spec in raw.get("metrics", {}).items()},
            {metric: ChampionMargins.of(spec) for metric, spec in raw.get("champion", {}).items()},
            {metric: BaselineGain.of(spec) for metric, spec in raw.get("baseline", {}).items()},
            Slices.of(raw["slices"]) if "slices" in raw else None,
            ErrorAnalysis.of(raw.get("error_analysis", {})),
            Robustness.of(raw.get("robustness", {})),
            DataChecks.of(raw.get("data", {})),
            Infra.of(raw["infra"]) if "infra" in raw else None,
            tuple(raw),
        )

    @property
    def names(self) -> tuple[str, ...]:
        """The sections the policy names, in its order; none means there is nothing to validate."""
        return self.written
