"""The outcome of one gate: the common currency of validation, infrastructure checks and reports."""

from __future__ import annotations

from dataclasses import asdict, dataclass, field
from enum import StrEnum
from typing import Any


class Status(StrEnum):
    PASS = "pass"
    FAIL = "fail"
    INCONCLUSIVE = "inconclusive"
    SKIPPED = "skipped"


@dataclass(frozen=True)
class GateResult:
    """One gate: what was checked, its outcome, and the numbers behind it."""

    gate: str
    status: Status
    reason: str
    observed: Any = None
    threshold: Any = None
    details: dict[str, Any] = field(default_factory=dict)

    def as_dict(self) -> dict[str, Any]:
        out = asdict(self)
        out["status"] = self.status.value
        return out


def overall(results: list[GateResult]) -> Status:
    """Fail beats inconclusive beats pass; no gates at all is a pass with nothing checked."""
    statuses = {r.status for r in results}
    if Status.FAIL in statuses:
        return Status.FAIL
    if Status.INCONCLUSIVE in statuses:
        return Status.INCONCLUSIVE
    return Status.PASS
