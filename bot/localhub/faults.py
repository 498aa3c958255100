"""Fault injection: the failures a client of GitHub must survive, on demand and reproducibly (seeded).

- a share of API requests answered `502 Bad Gateway`; for writes, some of those take effect first, as when
  GitHub's backend finished but the proxy in front timed out: the case that makes a blind retry post twice;
- secondary rate limits: `403` with `Retry-After`, for the next N requests;
- an exhausted primary rate limit: `403` with `X-RateLimit-Remaining: 0` and `X-RateLimit-Reset`;
- slow answers: a delay before a share of answers.
"""

from __future__ import annotations

import random
import threading
import time
from dataclasses import dataclass, field

SECONDARY_MESSAGE = ("You have exceeded a secondary rate limit. Please wait a few minutes before you try again. "
                     "If you reach out to GitHub Support for help, please include the request ID.")
SECONDARY_DOCS = "https://docs.github.com/rest/overview/rate-limits-for-the-rest-api#about-secondary-rate-limits"


@dataclass(frozen=True)
class Fault:
    kind: str  # "502", "502-after-write", "secondary-rate-limit", "primary-rate-limit"
    retry_after: int = 0
    reset_in: int = 0


@dataclass
class Faults:
    """What to inject. All fields may be changed while the server runs (tests switch faults on and off)."""

    error_rate: float = 0.0
    write_applied_share: float = 0.5
    secondary_limits: int = 0
    retry_after: int = 1
    primary_limits: int = 0
    reset_in: int = 1
    slow_rate: float = 0.0
    slow_seconds: float = 0.0
    seed: int = 0
    _rng: random.Random = field(default_factory=random.Random, repr=False)
    _lock: threading.Lock = field(default_factory=threading.Lock, repr=False)

    def __post_init__(self) -> None:
        self._rng.seed(self.seed)

    def reseed(self, seed: int) -> None:
        with self._lock:
            self.seed = seed
            self._rng.seed(seed)

    def clear(self) -> None:
        with self._lock:
            self.error_rate = self.slow_rate = 0.0
            self.secondary_limits = self.primary_limits = 0

    def decide(self, method: str) -> Fault | None:
        """The fault for the next API request, if any (consumes one-shot rate limits)."""
        with self._lock:
            if self.slow_rate and self._rng.random() < self.slow_rate:
                time.sleep(self.slow_seconds)
            if self.secondary_limits > 0:
                self.secondary_limits -= 1
                return Fault("secondary-rate-limit", retry_after=self.retry_after)
            if self.primary_limits > 0:
                self.primary_limits -= 1
                return Fault("primary-rate-limit", reset_in=self.reset_in)
            if self.error_rate and self._rng.random() < self.error_rate:
                applied = method not in ("GET", "HEAD") and self._rng.random() < self.write_applied_share
                return Fault("502-after-write" if applied else "502")
            return None
