"""The maintenance schedule finishes pull requests no run judged (issue 20), and every pull request gets a
`modelbot/validation` result, a neutral one when it leaves the registry alone (issue 15)."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

from bot.flows.propose import propose
from bot.flows.sweep import sweep
from bot.flows.validate_pr import CHECK, validate_pull
from tests.flows.conftest import bot_context


def conclusion(hub, sha):
    runs = hub.request("GET", f"/repos/acme/models/commits/{sha}/check-runs", "pat-platform")[2]["check_runs"]
    found = [r["conclusion"] for r in runs if r["name"] == CHECK]
    return found[0] if found else "missing"


def test_a_pull_request_no_run_judged_is_finished_once_it_has_stood_long_enough(hub, ctx, tmp_path, diabetes_v1):
    """The run that opened it was killed before it validated: the schedule validates it; then leaves it alone."""
    pull = propose(ctx, "diabetes-progression", "1", "production").pull.pull
    assert conclusion(hub, pull.head_sha) == "missing"
    soon = bot_context(hub, tmp_path, now=datetime.now(UTC) + timedelta(minutes=5))
    assert sweep(soon).finished == ()  # its run may still be going
    later = bot_context(hub, tmp_path, now=datetime.now(UTC) + timedelta(hours=2))
    swept = sweep(later)
    assert swept.finished == (pull.number,)
    assert conclusion(hub, pull.head_sha) == "success"
    mark = hub.log.mark()
    again = sweep(bot_context(hub, tmp_path, now=datetime.now(UTC) + timedelta(hours=3)))
    assert again.finished == () and again.judged == 1
    assert [r for r in hub.log.since(mark) if r.is_write] == []


def test_a_pull_request_that_leaves_the_registry_alone_gets_a_neutral_result(hub, ctx):
    hub.hub.as_user("wes-writer").push("docs", {"README.md": "# models\n"}, "Docs", base="main")
    number = hub.hub.as_user("wes-writer").open_pull("docs", "main", "Docs")
    pull = ctx.forge.pull_request(number)
    result = validate_pull(ctx, pull)
    assert result.conclusion == "neutral"
    assert conclusion(hub, pull.head_sha) == "neutral"
