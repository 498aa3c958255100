"""Comments: a slash command in a comment's body is authorised and run (bot/flows/commands.py); anything else
is ignored."""

from __future__ import annotations

from typing import TYPE_CHECKING

from bot.actions.context import context
from bot.actions.events import CommentEvent, Event
from bot.actions.outcome import ForgeFactory, Outcome

if TYPE_CHECKING:
    from bot.actions.runtime import Runtime


def on_comment(event: Event, runtime: Runtime, forge: ForgeFactory) -> Outcome:
    from bot.flows.commands import CommandComment, handle_comment

    assert isinstance(event, CommentEvent)
    ctx = context(event, runtime, forge)
    reply = handle_comment(
        ctx,
        CommandComment(
            event.comment_id, event.body, event.author, event.author_type == "Bot", event.number, event.is_pull_request
        ),
    )
    return Outcome(
        f"comment on #{event.number} by {event.author}: {reply.outcome}",
        {"result": reply.outcome},
        reply.text if reply.outcome != "ignored" else "",
    )
