"""The maintenance schedule finishes what no run finished: an open pull request into the default branch whose
head the bot has not judged (its run was killed or lost, or a token opened it that starts no run) has its
validation asked for again, once it has stood longer than a run can take. A head the bot judged, or one that
changed recently (its run may still be going), is left alone. The labels the run that opened it meant it to
carry (in the bot's record of its head) and it lacks are added first.

A pull request from a fork is the schedule's from the start: GitHub gives its own runs (opened, pushed,
reviewed) a read-only token and no secrets, so they can neither post the bot's result nor load a model. Its
head is validated as soon as the schedule sees no result on it (in the base repository's context, reading the
fork's files as data), and its approvals are counted again on each run, since no review run can.

Anyone may open pull requests from forks, so they come after the repository's own (opened by people with write
access): a flood of them cannot spend a run's validations before a member's pull request is reached. Validations
and recounts have a budget each, so that counting the approvals of many judged forks cannot starve validations
either. Among forks the order is GitHub's (least recently updated first); a member's `/validate` serves one at
once."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta

from bot.errors import ModelbotError
from bot.flows import record
from bot.flows.context import BotContext
from bot.flows.record import CHECK
from bot.flows.validate_pr import refresh_approvals, validate_or_request
from bot.github.forge import PullRequest

STALE = timedelta(minutes=60)  # longer than a validation run may take (the workflow's timeout is 30 minutes)
LIMIT = 20  # validations asked for per scheduled run, at most; and approvals of forks counted again, at most


@dataclass(frozen=True)
class Swept:
    finished: tuple[int, ...]  # pull requests whose validation was asked for (or run, outside Actions)
    judged: int  # open pull requests whose head the bot has judged
    recent: int  # open pull requests left to a run that may still be going
    recounted: tuple[int, ...] = ()  # judged pull requests from forks whose approvals were counted again
    deferred: int = 0  # open pull requests left to a later run: this run's budget was spent

    def describe(self) -> str:
        done = ", ".join(f"#{n}" for n in self.finished) or "none"
        forks = (
            f"; approvals counted again on #{', #'.join(map(str, self.recounted))} (forks)" if self.recounted else ""
        )
        later = f"; {self.deferred} left to the next run (limit {LIMIT})" if self.deferred else ""
        return (
            f"sweep: validation asked again for {done}; {self.judged} judged, {self.recent} changed in the "
            f"last {int(STALE.total_seconds() // 60)} minutes{forks}{later}"
        )


def sweep(ctx: BotContext, stale: timedelta = STALE, limit: int = LIMIT) -> Swept:
    """Each pull request on its own: one that fails (a team the token cannot read, a model that will not load)
    is named at the end, after the others were served, and fails the run."""
    served: dict[str, list[int]] = {tag: [] for tag in ("finished", "recounted", "judged", "recent", "deferred")}
    failed: list[str] = []
    pulls = ctx.forge.open_pulls(ctx.default_branch)
    for pull in sorted(pulls, key=lambda p: p.fork):  # the repository's own first; GitHub's order within each
        try:
            tags = _one(ctx, pull, stale, limit, len(served["finished"]), len(served["recounted"]))
        except ModelbotError as exc:
            failed.append(f"#{pull.number}: {exc}")
            continue
        for tag in tags:
            served[tag].append(pull.number)
    swept = Swept(
        tuple(served["finished"]),
        len(served["judged"]),
        len(served["recent"]),
        tuple(served["recounted"]),
        len(served["deferred"]),
    )
    if failed:
        raise SweepFailed(f"{swept.describe()}; failed on {'; '.join(failed)}")
    return swept


class SweepFailed(ModelbotError):
    """Some pull requests could not be served; the others were."""


def _one(
    ctx: BotContext, pull: PullRequest, stale: timedelta, limit: int, finished: int, recounted: int
) -> tuple[str, ...]:
    """Serve one open pull request, `finished` validations and `recounted` recounts into this run's budgets; what
    became of it: judged (and recounted, or deferred, if a fork's), recent, deferred or finished."""
    if finished >= limit and recounted >= limit:
        return ("deferred",)
    found = ctx.forge.check_run_summary(pull.head_sha, CHECK)
    if found is not None and found[0] is not None:
        if not pull.fork:
            return ("judged",)
        if recounted >= limit:
            return ("judged", "deferred")
        refresh_approvals(ctx, pull)
        return ("judged", "recounted")
    no_run_will_come = pull.fork and found is None
    if not no_run_will_come and not _stale(pull, ctx.now, stale):
        return ("recent",)
    if finished >= limit:
        return ("deferred",)
    known = record.read(ctx, pull.head_sha, validated_only=False)  # read above: no request
    missing = [name for name in (known.labels if known is not None else ()) if name not in pull.labels]
    ctx.forge.add_labels(pull.number, missing)
    validate_or_request(ctx, pull)
    return ("finished",)


def _stale(pull: PullRequest, now: datetime, stale: timedelta) -> bool:
    if pull.updated_at is None:
        return True
    try:
        updated = datetime.fromisoformat(pull.updated_at.replace("Z", "+00:00"))
    except ValueError:
        return True
    return now - updated >= stale
