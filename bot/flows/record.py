"""What the bot records about one head commit in its own `modelbot/validation` check run, for later runs: the
transitions found inconclusive, the people whose approvals do not count (who asked for the change, who pushed
it), and the verdict. A check run can be updated only by the app that created it, so no other writer can edit
this; it is never recovered from a comment or a pull request body.

A run that opens a pull request writes the record on its new head before the pull request shows it
(`write_pending`: who asked, the labels the pull request is to carry), so that whatever finishes the run's work
(its re-run, the maintenance schedule's sweep) finds them on GitHub, not in the killed run's memory."""

from __future__ import annotations

from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass, field
from typing import Any

from bot.flows.context import BotContext
from bot.github.markers import state_of, with_state

CHECK = "modelbot/validation"


@dataclass(frozen=True)
class Record:
    head: str
    actors: tuple[str, ...] = ()
    inconclusive: frozenset[tuple[str, str]] = field(default_factory=frozenset)
    pending: bool = False  # a validation was asked for and has not ended
    status: str | None = None
    verdict: str | None = None
    refusals: tuple[str, ...] = ()
    labels: tuple[str, ...] = ()  # the labels the run that opened the pull request gives it (while pending)

    def as_state(self) -> dict[str, Any]:
        out: dict[str, Any] = {
            "head": self.head,
            "actors": list(self.actors),
            "inconclusive": sorted([m, s] for m, s in self.inconclusive),
        }
        if self.pending:
            out["pending"] = True
        for key in ("status", "verdict"):
            if getattr(self, key) is not None:
                out[key] = getattr(self, key)
        if self.refusals:
            out["refusals"] = list(self.refusals)
        if self.labels:
            out["labels"] = list(self.labels)
        return out

    @classmethod
    def of_state(cls, state: dict[str, Any]) -> Record | None:
        head = state.get("head")
        if not isinstance(head, str):
            return None
        status, verdict = state.get("status"), state.get("verdict")
        return cls(
            head,
            tuple(str(a) for a in state.get("actors", ()) or ()),
            frozenset((str(m), str(s)) for m, s in state.get("inconclusive", ()) or ()),
            bool(state.get("pending")),
            None if status is None else str(status),
            None if verdict is None else str(verdict),
            tuple(str(r) for r in state.get("refusals", ()) or ()),
            tuple(str(name) for name in state.get("labels", ()) or ()),
        )


def people(*groups: Iterable[str]) -> tuple[str, ...]:
    """Logins, lower-cased, once each, sorted."""
    return tuple(sorted({a.lower() for group in groups for a in group if a}))


def read(ctx: BotContext, sha: str, validated_only: bool = True) -> Record | None:
    """The bot's record of `sha`; None before the bot validated it (with `validated_only=False`, also a record
    of a validation asked for and not yet ended)."""
    found = ctx.forge.check_run_summary(sha, CHECK)
    state = state_of(found[1]) if found is not None else None
    record = Record.of_state(state) if state is not None else None
    if record is None or record.head != sha:
        return None
    return None if validated_only and record.pending else record


def write_pending(ctx: BotContext, sha: str, actors: Iterable[str], labels: Iterable[str] = ()) -> None:
    """Record on `sha` that its validation is asked for (the check run in progress), by and for whom: `actors`
    (whose approvals will not count) and the `labels` its pull request is to carry."""
    kept = Record(sha, people(actors), pending=True, labels=tuple(dict.fromkeys(labels)))
    summary = with_state(f"Validation of {sha[:12]} was requested.", kept.as_state())
    ctx.forge.set_check_run(sha, CHECK, None, "Validation requested", summary, ctx.run_url)


def recorder(ctx: BotContext, actors: Iterable[str] = ()) -> Callable[[str, Sequence[str]], None]:
    """The `on_head` of a run about to open a pull request (bot.github.forge.OnHead): the pending record on its
    new head, naming `actors` (who asked) and the labels it is to carry."""
    asked = tuple(actors)

    def write(sha: str, labels: Sequence[str]) -> None:
        write_pending(ctx, sha, asked, labels)

    return write
