"""GitHub's own schemas as validators: a re-export of localhub.conformance for tests that check payloads they
build themselves (the checks of what localhub answers and emits run inside a strict localhub)."""

from __future__ import annotations

from localhub.conformance.responses import foreign_urls, response_problems
from localhub.conformance.schemas import SCHEMAS, Operation, operation_for
from localhub.conformance.webhooks import webhook_key, webhook_problems

SHARED = SCHEMAS  # the vendored folder, under the name the tests used

__all__ = ["SHARED", "Operation", "foreign_urls", "operation_for", "response_problems", "webhook_key",
           "webhook_problems"]
