"""Fault injection: the failures a client of GitHub must survive, on demand and reproducibly (seeded).

- a share of API requests answered `502 Bad Gateway`; for writes, some of those take effect first, as when
  GitHub's backend finished but the proxy in front timed out: the case that makes a blind retry post twice;
- secondary rate limits: `403` with `Retry-After`, for the next N requests;
- an exhausted primary rate limit: `403` with `X-RateLimit-Remaining: 0` and `X-RateLimit-Reset`;
- slow answers: a delay before a share of answers;
- a merge race: `405 Base branch was modified` for the next N merges, GitHub's answer when the base branch
  moved while it was merging (`Faults.merge_races`); nothing is merged, and the same merge then succeeds;
- a job killed (SIGKILL, with every process it started) right after its k-th API request took effect, as a
  cancelled job, an out-of-memory kill or a lost runner ends one: `Faults.kill = JobKill(user, k)`, then
  `JobKill.arm(pid)` once the job's process runs. The server applies the k-th request, kills the job, and
  only then answers (to nobody): the job can make no request after it, and every effect of it stands.
"""

from __future__ import annotations

import contextlib
import os
import random
import signal
import threading
import time
from dataclasses import dataclass, field

SECONDARY_MESSAGE = (
    "You have exceeded a secondary rate limit. Please wait a few minutes before you try again. "
    "If you reach out to GitHub Support for help, please include the request ID."
)
SECONDARY_DOCS = "https://docs.github.com/rest/overview/rate-limits-for-the-rest-api#about-secondary-rate-limits"
MERGE_RACE_MESSAGE = "Base branch was modified. Review and try the merge again."
MERGE_DOCS = "https://docs.github.com/rest/pulls/pulls#merge-a-pull-request"


@dataclass(frozen=True)
class Fault:
    kind: str  # "502", "502-after-write", "secondary-rate-limit", "primary-rate-limit", "merge-race"
    retry_after: int = 0
    reset_in: int = 0


@dataclass
class JobKill:
    """Kill the job acting as `user` right after its `after`-th API request (counted from when the fault is
    set; git traffic does not count). `pid` is the job's process, armed once it is started."""

    user: str
    after: int
    pid: int | None = None
    seen: int = 0
    killed: bool = False
    _armed: threading.Event = field(default_factory=threading.Event, repr=False)

    def arm(self, pid: int) -> None:
        self.pid = pid
        self._armed.set()

    def count(self, actor: str | None) -> bool:
        """Whether this request of `actor` is the one after which the job dies (then kills it)."""
        if self.killed or actor is None or actor.lower() != self.user.lower():
            return False
        self.seen += 1
        if self.seen < self.after:
            return False
        if not self._armed.wait(timeout=30) or self.pid is None:
            raise RuntimeError("JobKill: the job's process was never armed")
        kill_tree(self.pid)
        self.killed = True
        return True


def _children() -> dict[int, list[int]]:
    found: dict[int, list[int]] = {}
    for name in os.listdir("/proc"):
        if not name.isdigit():
            continue
        with contextlib.suppress(OSError, IndexError, ValueError):
            with open(f"/proc/{name}/stat", encoding="utf-8", errors="replace") as f:
                ppid = int(f.read().rsplit(")", 1)[1].split()[1])
            found.setdefault(ppid, []).append(int(name))
    return found


def kill_tree(pid: int) -> None:
    """SIGKILL a process and every descendant (models run in sessions of their own), as a runner's end
    does: first stop them all (no new children), then kill."""
    children = _children()
    tree, todo = [], [pid]
    while todo:
        current = todo.pop()
        tree.append(current)
        todo.extend(children.get(current, []))
    for sig in (signal.SIGSTOP, signal.SIGKILL):
        for member in tree:
            with contextlib.suppress(ProcessLookupError, PermissionError):
                os.kill(member, sig)


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
    merge_races: int = 0
    seed: int = 0
    kill: JobKill | None = None
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
            self.secondary_limits = self.primary_limits = self.merge_races = 0
            self.kill = None

    def decide(self, method: str, path: str = "") -> Fault | None:
        """The fault for the next API request, if any (consumes one-shot rate limits and merge races)."""
        with self._lock:
            if self.merge_races > 0 and method == "PUT" and path.split("?", 1)[0].endswith("/merge"):
                self.merge_races -= 1
                return Fault("merge-race")
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

    def kills_after(self, actor: str | None) -> bool:
        """After a request took effect: whether the job that made it dies now (it is then killed)."""
        kill = self.kill
        return kill is not None and kill.count(actor)
