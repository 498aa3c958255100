"""Who may approve: roles and the approvals a stage requires of them."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any


@dataclass(frozen=True)
class Approval:
    """`count` distinct members of `role` must approve."""

    role: str
    count: int

    def as_dict(self) -> dict[str, Any]:
        return {"role": self.role, "count": self.count}


@dataclass(frozen=True)
class Role:
    name: str
    users: frozenset[str] = frozenset()
    teams: tuple[str, ...] = ()
