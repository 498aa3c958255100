"""The Actions entrypoint: event name and payload in, a handler chosen by the router, outputs and the job
summary out. Unknown events and actions are ignored with one line; a payload missing what the handler
needs fails naming the field."""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from typing import TYPE_CHECKING

from bot import routing
from bot.actions.events import PARSERS, parse
from bot.actions.outcome import EventHandler, Outcome
from bot.actions.runtime import Runtime, write_outputs, write_summary

if TYPE_CHECKING:
    from bot.github.forge import Forge


@dataclass(frozen=True)
class Result:
    handled: bool
    message: str
    outputs: Mapping[str, str] = field(default_factory=dict)


def run(
    runtime: Runtime,
    forge_factory: Callable[[], Forge] | None = None,
    events: Mapping[tuple[str, str | None], str] | None = None,
) -> Result:
    """Dispatch one event; the Forge is connected only if the handler asks for it."""
    payload = runtime.payload()
    action = payload.get("action") if isinstance(payload.get("action"), str) else None
    target = routing.event_handler(runtime.event_name, action, events)
    if target is None or runtime.event_name not in PARSERS:
        label = runtime.event_name + (f".{action}" if action else "")
        return Result(False, f"modelbot: ignoring {label} (no handler)")
    event = parse(runtime.event_name, payload)
    handler: EventHandler = routing.load(target)
    outcome: Outcome = handler(event, runtime, forge_factory or _connector(runtime))
    outputs = {"handled": "true", **outcome.outputs}
    write_outputs(runtime.get("GITHUB_OUTPUT"), outputs)
    write_summary(runtime.get("GITHUB_STEP_SUMMARY"), outcome.summary)
    return Result(True, outcome.message, outputs)


def _connector(runtime: Runtime) -> Callable[[], Forge]:
    cache: list[Forge] = []

    def connect() -> Forge:
        if not cache:
            from bot.github import connect as github_connect

            cache.append(github_connect(environ=runtime.environ))
        return cache[0]

    return connect
