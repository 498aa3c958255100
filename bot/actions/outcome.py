"""What a handler returns (a one-line message, step outputs, Markdown for the job summary) and what it is given."""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from bot.actions.events import Event
    from bot.actions.runtime import Runtime
    from bot.github.forge import Forge

ForgeFactory = Callable[[], "Forge"]


@dataclass(frozen=True)
class Outcome:
    """What a handler did: a one-line message, step outputs, and Markdown for the job summary."""

    message: str
    outputs: Mapping[str, str] = field(default_factory=dict)
    summary: str = ""


EventHandler = Callable[["Event", "Runtime", ForgeFactory], Outcome]
