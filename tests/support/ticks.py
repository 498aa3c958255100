"""The maintenance schedule's next tick, for the crash-consistency families' "left to the schedule" stories: a run
killed and never re-run is finished, if at all, by the tick's sweep (bot/flows/sweep.py), an hour later."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import replace
from datetime import UTC, datetime, timedelta
from typing import Any

from bot.flows.context import BotContext
from bot.flows.sweep import STALE, Swept, sweep
from tests.support.handler_runs import last_delivery, run_validations


def next_tick(running: Any, ctx_for: Callable[[], BotContext], since: int) -> Swept:
    """After a run killed and not re-run: the validations dispatched since delivery `since` (the killed run's),
    run as Actions would in the meantime; then, longer than a run can take later, the tick's sweep (validating
    by dispatch, as the maintenance workflow says) and the validations it dispatched. What the sweep did."""
    run_validations(running, ctx_for, since)
    swept_from = last_delivery(running)
    later = datetime.now(UTC) + STALE + timedelta(minutes=1)
    swept = sweep(replace(ctx_for(), validate_by_dispatch=True, now=later))
    run_validations(running, ctx_for, swept_from)
    return swept
