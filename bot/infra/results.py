"""What an infrastructure check observed, as plain values: the input of the (pure) gate decisions and of the
figures in the report."""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from bot.infra.loadtest import LoadResult
from bot.infra.parity import ParityResult
from bot.infra.query import QueryResult
from bot.infra.replay import Agreement
from bot.infra.sandbox import Attempt
from bot.infra.signature import ApiReport


@dataclass(frozen=True)
class ServerRun:
    """One model's server: whether and how fast it loaded, and what was measured on it."""

    uri: str
    attempts: tuple[Attempt, ...] = ()
    load_s: float | None = None
    failure: str | None = None
    death: str | None = None
    log_tail: tuple[str, ...] = ()
    peak_rss_mb: float | None = None
    memory_exceeded: bool = False
    load: LoadResult | None = None
    replay: dict[str, Any] | None = None

    @property
    def loaded(self) -> bool:
        return self.failure is None

    def as_dict(self) -> dict[str, Any]:
        return {
            "uri": self.uri,
            "loaded": self.loaded,
            "load_s": _round(self.load_s),
            "failure": self.failure,
            "death": self.death,
            "tries": [a.as_dict() for a in self.attempts],
            "peak_rss_mb": _round(self.peak_rss_mb),
            "load_test": self.load.as_dict() if self.load else None,
            "replay": self.replay,
            "log_tail": list(self.log_tail),
        }


@dataclass(frozen=True)
class ReplayOutcome:
    requests: int
    agreement: Agreement | None = None
    artifact: Path | None = None
    problem: str | None = None

    def as_dict(self) -> dict[str, Any]:
        return {
            "requests": self.requests,
            "agreement": self.agreement.as_dict() if self.agreement else None,
            "artifact": str(self.artifact) if self.artifact else None,
            "problem": self.problem,
        }


@dataclass(frozen=True)
class InfraResults:
    mode: str
    api: ApiReport
    candidate: ServerRun
    query: QueryResult | None = None
    parity: ParityResult | None = None
    parity_error: str | None = None
    champion: ServerRun | None = None
    replay: ReplayOutcome | None = None
    notes: tuple[str, ...] = field(default_factory=tuple)

    def figures(self) -> dict[str, Any]:
        """The JSON-able record of everything measured, for report.json."""
        return {
            "mode": self.mode,
            "api": self.api.as_dict(),
            "candidate": self.candidate.as_dict(),
            "champion": self.champion.as_dict() if self.champion else None,
            "query": self.query.as_dict() if self.query else None,
            "parity": self.parity.as_dict()
            if self.parity
            else ({"error": self.parity_error} if self.parity_error else None),
            "replay": self.replay.as_dict() if self.replay else None,
            "notes": list(self.notes),
        }


def _round(value: float | None) -> float | None:
    return round(value, 3) if value is not None else None
