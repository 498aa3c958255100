"""The request log: every request localhub answered, so tests count API calls and writes per flow."""

from __future__ import annotations

import threading
from dataclasses import dataclass, field

WRITE_METHODS = frozenset({"POST", "PUT", "PATCH", "DELETE"})


@dataclass(frozen=True)
class LoggedRequest:
    seq: int
    method: str
    path: str
    query: str
    status: int
    user: str | None  # the acting user, from the token; None when anonymous
    fault: str | None = None
    api: bool = True  # False for git smart-HTTP traffic (clone, fetch, push)
    job: str | None = None  # a job token's holder, `workflow#run/job`; None for people's tokens

    @property
    def is_write(self) -> bool:
        return self.method in WRITE_METHODS

    def __str__(self) -> str:
        extra = f" [{self.fault}]" if self.fault else ""
        holder = f"{self.user or 'anonymous'}{' in ' + self.job if self.job else ''}"
        return f"{self.method} {self.path}{'?' + self.query if self.query else ''} -> {self.status} ({holder}){extra}"


@dataclass
class RequestLog:
    entries: list[LoggedRequest] = field(default_factory=list)
    _lock: threading.Lock = field(default_factory=threading.Lock, repr=False)

    def record(
        self,
        method: str,
        path: str,
        query: str,
        status: int,
        user: str | None,
        fault: str | None = None,
        api: bool = True,
        job: str | None = None,
    ) -> LoggedRequest:
        with self._lock:
            entry = LoggedRequest(len(self.entries) + 1, method, path, query, status, user, fault, api, job)
            self.entries.append(entry)
            return entry

    def mark(self) -> int:
        """A position to count from: `log.since(mark)` is what happened after it."""
        with self._lock:
            return len(self.entries)

    def since(self, mark: int = 0, api_only: bool = True) -> list[LoggedRequest]:
        with self._lock:
            return [e for e in self.entries[mark:] if e.api or not api_only]

    def writes(self, mark: int = 0) -> list[LoggedRequest]:
        return [e for e in self.since(mark) if e.is_write]

    def by_job(self, job: str, mark: int = 0, api_only: bool = True) -> list[LoggedRequest]:
        """What the token of one job (`workflow#run/job`, or a prefix such as `workflow#run/`) asked."""
        return [e for e in self.since(mark, api_only) if e.job is not None and e.job.startswith(job)]
