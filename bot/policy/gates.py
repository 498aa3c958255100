"""A stage's `gates` (and the rollback's) as typed, read-only values, parsed once by the loader.

The loader parses after the schema check (and after `extends` and overrides are merged), so every value is
already valid and the schema's keys are exactly the fields (a test holds them together): parsing only types the
nested sections, and a key the policy did not write takes its field's default, defined here and nowhere else.
Each value also keeps the keys the policy wrote, in its order (`written`): `as_dict` gives back exactly the
policy's words (the plan shows them), never a default it did not write, and numbers as written (1 stays 1).
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
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


def _typed(raw: Mapping[str, Any], **parse: Callable[[Any], Any]) -> dict[str, Any]:
    """The keys the policy wrote, as constructor arguments: nested sections parsed by `parse[key]`, scalars as
    written. A key the policy did not write is left out, so the field's default applies (defined once, below)."""
    return {key: parse[key](value) if key in parse else value for key, value in raw.items()}


def _each(of: Callable[[Mapping[str, Any]], Any]) -> Callable[[Mapping[str, Any]], dict[str, Any]]:
    """A parser for a mapping of metric names to one kind of section."""
    return lambda raw: {metric: of(spec) for metric, spec in raw.items()}


@dataclass(frozen=True)
class Bootstrap(Written):
    """`gates.bootstrap`: how the counting and loss metrics' intervals are resampled."""

    resamples: int = 1000
    seed: int = 0
    written: tuple[str, ...] = ()

    @classmethod
    def of(cls, raw: Mapping[str, Any]) -> Bootstrap:
        return cls(**_typed(raw), written=tuple(raw))


@dataclass(frozen=True)
class Bounds(Written):
    """`gates.metrics.<metric>`: an absolute floor (`min`) and ceiling (`max`) on the candidate."""

    min: float | None = None
    max: float | None = None
    written: tuple[str, ...] = ()

    @classmethod
    def of(cls, raw: Mapping[str, Any]) -> Bounds:
        return cls(**_typed(raw), written=tuple(raw))

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
        return cls(**_typed(raw), written=tuple(raw))

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
        return cls(**_typed(raw), written=tuple(raw))

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
        return cls(**_typed(raw), written=tuple(raw))


@dataclass(frozen=True)
class ErrorAnalysis(Written):
    """`gates.error_analysis`: prediction flips against the champion, and the weakest segments' size."""

    max_flip_rate: float | None = None
    min_segment_share: float = 0.05
    written: tuple[str, ...] = ()

    @classmethod
    def of(cls, raw: Mapping[str, Any]) -> ErrorAnalysis:
        return cls(**_typed(raw), written=tuple(raw))


@dataclass(frozen=True)
class Robustness(Written):
    """`gates.robustness`: the probes the candidate must answer."""

    probes: tuple[str, ...] = ()
    written: tuple[str, ...] = ()

    @classmethod
    def of(cls, raw: Mapping[str, Any]) -> Robustness:
        return cls(**_typed(raw, probes=tuple), written=tuple(raw))


@dataclass(frozen=True)
class Drift(Written):
    """`gates.data.drift`: the largest shift allowed per statistic against the reference data."""

    psi: float | None = None
    ks: float | None = None
    wasserstein: float | None = None
    written: tuple[str, ...] = ()

    @classmethod
    def of(cls, raw: Mapping[str, Any]) -> Drift:
        return cls(**_typed(raw), written=tuple(raw))

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
        return cls(**_typed(raw, drift=Drift.of), written=tuple(raw))


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
        return cls(**_typed(raw), written=tuple(raw))

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
        return cls(**_typed(raw), written=tuple(raw))

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
        return cls(**_typed(raw, load_test=LoadTest.of, sla=Sla.of), written=tuple(raw))

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
            **_typed(
                raw,
                bootstrap=Bootstrap.of,
                metrics=_each(Bounds.of),
                champion=_each(ChampionMargins.of),
                baseline=_each(BaselineGain.of),
                slices=Slices.of,
                error_analysis=ErrorAnalysis.of,
                robustness=Robustness.of,
                data=DataChecks.of,
                infra=Infra.of,
            ),
            written=tuple(raw),
        )

    @property
    def names(self) -> tuple[str, ...]:
        """The sections the policy names, in its order; none means there is nothing to validate."""
        return self.written
