"""Retries that cannot duplicate: bounded backoff for transient failures, and for creations (POST) a look
before every re-post, because a 502 may come after GitHub already created the thing.

`delay_for` decides (pure); `Retrier` acts. PyGithub's own retry is switched off (`retry=None`): its default
retries POSTs on 5xx, which can post a comment twice.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import Any, TypeVar

from bot.github.forge import ForgeError

T = TypeVar("T")
log = logging.getLogger("modelbot.github")

TRANSIENT_STATUSES = frozenset({500, 502, 503, 504})
# GitHub asks for at least a minute when a secondary rate limit comes without Retry-After.
SECONDARY_DEFAULT_WAIT = 60.0


@dataclass(frozen=True)
class RetryPolicy:
    attempts: int = 5
    base_delay: float = 0.5
    max_backoff: float = 8.0
    max_wait: float = 60.0  # the longest single wait honoured (Retry-After, rate-limit reset); longer: give up


@dataclass(frozen=True)
class Failure:
    """A failed request as the retry decision sees it: status None means no answer (connection error)."""

    status: int | None
    headers: Mapping[str, str]
    message: str


def delay_for(policy: RetryPolicy, attempt: int, failure: Failure, now: float) -> float | None:
    """Seconds to wait before attempt `attempt + 1`, or None when retrying is pointless or not allowed."""
    if attempt + 1 >= policy.attempts:
        return None
    headers = {k.lower(): v for k, v in failure.headers.items()}
    if failure.status is None or failure.status in TRANSIENT_STATUSES:
        return min(policy.base_delay * 2.0**attempt, policy.max_backoff)
    if failure.status not in (403, 429):
        return None
    if "retry-after" in headers:
        wait = _number(headers["retry-after"])
    elif headers.get("x-ratelimit-remaining") == "0" and "x-ratelimit-reset" in headers:
        wait = max(0.0, _number(headers["x-ratelimit-reset"]) - now) + 1.0
    elif "secondary rate limit" in failure.message.lower() or failure.status == 429:
        wait = SECONDARY_DEFAULT_WAIT
    else:
        return None  # a real 403: permission, not throttling
    return wait if wait <= policy.max_wait else None


def _number(text: str) -> float:
    try:
        return float(text)
    except ValueError:
        return 0.0


def failure_of(exc: BaseException) -> Failure | None:
    """The Failure behind a PyGithub or transport exception, or None for anything else (a bug: not retried)."""
    from github import GithubException
    from requests import RequestException

    if isinstance(exc, GithubException):
        data = exc.data if isinstance(exc.data, dict) else {}
        return Failure(exc.status, dict(exc.headers or {}), str(data.get("message", "")))
    if isinstance(exc, (RequestException, ConnectionError, TimeoutError)):
        return Failure(None, {}, str(exc))
    return None


class Retrier:
    def __init__(
        self,
        policy: RetryPolicy | None = None,
        sleep: Callable[[float], None] = time.sleep,
        clock: Callable[[], float] = time.time,
    ) -> None:
        self.policy = policy or RetryPolicy()
        self.sleep = sleep
        self.clock = clock
        self.waits: list[float] = []

    def call(self, what: str, fn: Callable[[], T]) -> T:
        """Run a read or an idempotent write, retrying transient failures within the policy."""
        attempt = 0
        while True:
            try:
                return fn()
            except Exception as exc:
                self._wait_or_raise(what, attempt, exc)
                attempt += 1

    def create_once(self, what: str, create: Callable[[], T], find: Callable[[], T | None]) -> T:
        """Create something at most once: after any failed attempt, `find` it before posting again."""
        attempt = 0
        while True:
            try:
                return create()
            except Exception as exc:
                failure = failure_of(exc)
                if failure is not None and failure.status == 422:
                    found = self.call(f"{what} (look-up)", find)
                    if found is not None:
                        return found
                    raise _forge_error(what, failure, attempt) from exc
                self._wait_or_raise(what, attempt, exc)
                attempt += 1
                found = self.call(f"{what} (look-up)", find)
                if found is not None:
                    log.info("%s: found after an ambiguous failure; not posting again", what)
                    return found

    def _wait_or_raise(self, what: str, attempt: int, exc: Exception) -> None:
        failure = failure_of(exc)
        if failure is None:
            raise exc
        wait = delay_for(self.policy, attempt, failure, self.clock())
        if wait is None:
            raise _forge_error(what, failure, attempt) from exc
        log.info("%s: GitHub answered %s, retrying in %.1fs", what, failure.status or "nothing", wait)
        self.waits.append(wait)
        self.sleep(wait)


# GitHub's refusals that a repository's settings cause, and what to change: said beside GitHub's own words.
_REMEDIES = {
    "not permitted to create or approve pull requests": (
        "the workflow's GITHUB_TOKEN may not open pull requests in this repository: enable Settings > Actions > "
        "General > 'Allow GitHub Actions to create and approve pull requests' (or the organisation's), or run "
        "modelbot as a GitHub App (README, 'Use it in your repository')"
    ),
    "Resource not accessible by integration": (
        "the token lacks a permission this step needs: give the job the permissions the README's table lists, "
        "or the app the permissions of .github/modelbot-app-manifest.json"
    ),
}


def _forge_error(what: str, failure: Failure, attempt: int) -> ForgeError:
    answer = f"{failure.status} {failure.message}".strip() if failure.status else f"no answer ({failure.message})"
    tries = f" after {attempt + 1} attempts" if attempt else ""
    remedy = next((f" ({text})" for said, text in _REMEDIES.items() if said in failure.message), "")
    return ForgeError(f"{what}: GitHub answered {answer}{tries}{remedy}")


def status_of(exc: BaseException) -> int | None:
    failure = failure_of(exc)
    return failure.status if failure else None


def data_of(exc: BaseException) -> Any:
    return getattr(exc, "data", None)
