"""What a strict hub records: every answer and webhook it produced that GitHub's schemas do not admit.

A problem is recorded and written to stderr as it happens; the answer itself goes out unchanged, so that what
a client does with it (the bot's behaviour) stays the thing under test. `assert_none()` ends a run loudly.
"""

from __future__ import annotations

import sys
import threading
from collections.abc import Callable
from typing import TYPE_CHECKING, Any

from localhub.conformance.responses import link_problems, own_urls_only, response_problems
from localhub.conformance.webhooks import webhook_problems
from localhub.errors import LocalhubError

if TYPE_CHECKING:
    from localhub.hub import Delivery


def _to_stderr(problem: str) -> None:
    print(f"localhub --strict: {problem}", file=sys.stderr, flush=True)


class ConformanceError(LocalhubError):
    """A strict hub produced answers or webhooks outside GitHub's schemas."""


class Conformance:
    """Checks answers and webhooks against rest-api.json / webhooks.json and keeps the problems found."""

    def __init__(self, base_url: str, report: Callable[[str], None] = _to_stderr) -> None:
        self.base_url = base_url
        self.report = report
        self.problems: list[str] = []
        self.checked_responses = 0
        self.checked_webhooks = 0
        self._lock = threading.Lock()

    def _record(self, found: list[str], counter: str) -> list[str]:
        with self._lock:
            setattr(self, counter, getattr(self, counter) + 1)
            self.problems.extend(found)
        for problem in found:
            self.report(problem)
        return found

    def check_response(self, method: str, path: str, status: int, body: Any, headers: dict[str, str]) -> list[str]:
        """Record why an answer is not one GitHub would give (shape, status, URLs off the hub)."""
        try:
            found = response_problems(method, path, status, body)
            found += [f"{method} {path}: foreign URL {u}" for u in own_urls_only(body, self.base_url)]
            found += [f"{method} {path}: Link header off the hub: {link}"
                      for link in link_problems(headers.get("Link", ""), self.base_url)]  # fmt: skip
        except Exception as exc:  # a checker's own failure must not cost the client its answer
            found = [f"{method} {path}: could not be checked ({type(exc).__name__}: {exc})"]
        return self._record(found, "checked_responses")

    def check_webhook(self, delivery: Delivery) -> None:
        """Record why a webhook payload is not one GitHub would send (a listener of the hub's deliveries)."""
        try:
            found = webhook_problems(delivery.event, delivery.payload)
            found += [f"webhook {delivery.event}: foreign URL {u}"
                      for u in own_urls_only(delivery.payload, self.base_url)]  # fmt: skip
        except Exception as exc:  # nor the change its webhook
            found = [f"webhook {delivery.event}: could not be checked ({type(exc).__name__}: {exc})"]
        self._record(found, "checked_webhooks")

    def assert_none(self, limit: int = 20) -> None:
        """Raise ConformanceError listing the first `limit` problems, if any was recorded."""
        with self._lock:
            problems = list(self.problems)
        if problems:
            more = f"\n... and {len(problems) - limit} more" if len(problems) > limit else ""
            raise ConformanceError(
                f"localhub answered outside GitHub's schemas ({len(problems)} problems):\n"
                + "\n".join(problems[:limit])
                + more
            )
