"""The maintenance schedule finishes what no run finished: an open pull request into the default branch whose
head the bot has not judged (its run was killed or lost, or a token opened it that starts no run) has its
validation asked for again, once it has stood longer than a run can take. A head the bot judged, or one that
changed recently (its run may still be going), is left alone."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta

from bot.flows.context import BotContext
from bot.flows.record import CHECK
from bot.flows.validate_pr import validate_or_request
from bot.github.forge import PullRequest

STALE = timedelta(minutes=60)  # longer than a validation run may take (the workflow's timeout is 30 minutes)
LIMIT = 20  # validations asked for per scheduled run, at most


@dataclass(frozen=True)
class Swept:
    finished: tuple[int, ...]  # pull requests whose validation was asked for (or run, outside Actions)
    judged: int  # open pull requests whose head the bot has judged
    recent: int  # open pull requests left to a run that may still be going

    def describe(self) -> str:
        done = ", ".join(f"#{n}" for n in self.finished) or "none"
        return (
            f"sweep: validation asked again for {done}; {self.judged} judged, {self.recent} changed in the "
            f"last {int(STALE.total_seconds() // 60)} minutes"
        )


def sweep(ctx: BotContext, stale: timedelta = STALE, limit: int = LIMIT) -> Swept:
    finished: list[int] = []
    judged = recent = 0
    for pull in ctx.forge.open_pulls(ctx.default_branch):
        if len(finished) >= limit:
            break
        found = ctx.forge.check_run_summary(pull.head_sha, CHECK)
        if found is not None and found[0] is not None:
            judged += 1
            continue
        if not _stale(pull, ctx.now, stale):
            recent += 1
            continue
        validate_or_request(ctx, pull)
        finished.append(pull.number)
    return Swept(tuple(finished), judged, recent)


def _stale(pull: PullRequest, now: datetime, stale: timedelta) -> bool:
    if pull.updated_at is None:
        return True
    try:
        updated = datetime.fromisoformat(pull.updated_at.replace("Z", "+00:00"))
    except ValueError:
        return True
    return now - updated >= stale
