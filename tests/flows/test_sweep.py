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
    assert conclusion(hub, pull.head_sha) is None  # the record of the proposal, in progress: no verdict
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


def approvals(hub, sha):
    runs = hub.request("GET", f"/repos/acme/models/commits/{sha}/check-runs", "pat-platform")[2]["check_runs"]
    found = [r for r in runs if r["name"] == "modelbot/approvals"]
    return (found[0]["status"], found[0]["conclusion"], found[0]["output"]["title"]) if found else "missing"


def test_a_pull_request_from_a_fork_is_validated_and_its_approvals_counted_by_the_schedule(hub, ctx, tmp_path,
                                                                                          diabetes_v1):
    """GitHub's runs for a fork's pull request can neither load models nor post (read-only token, no secrets),
    so the schedule validates it at once, in the repository's context, and counts its reviews on each run: only
    the policy's roles make it mergeable, and nothing the fork's author does counts."""
    from bot.registry.edit import set_stage

    text, _ = set_stage(ctx.forge.file_text("models.yaml"), "diabetes-progression", "production", "1")
    mallory = hub.hub.as_user("mallory")  # no role on the repository
    head = mallory.push_to_fork("promote", {"models.yaml": text}, "Promote diabetes-progression 1")
    number = mallory.open_pull("mallory:promote", "main", "Promote diabetes-progression 1 to production")
    pull = ctx.forge.pull_request(number)
    assert pull.fork and pull.head_sha == head
    swept = sweep(ctx)  # at once: no run of the fork's own will ever post a result
    assert swept.finished == (number,)
    assert conclusion(hub, head) == "success"
    assert approvals(hub, head) == ("in_progress", None, "ml-lead 0/1, risk 0/1")
    for outsider in ("wes-writer", "renovate[bot]"):  # write access, or a bot, but no role of the policy
        hub.hub.add_user(outsider, role="write")
        hub.hub.as_user(outsider).review(number, "APPROVE")
    swept = sweep(bot_context(hub, tmp_path))
    assert swept.finished == () and swept.recounted == (number,)
    assert approvals(hub, head) == ("in_progress", None, "ml-lead 0/1, risk 0/1")  # the outsiders count for nothing
    hub.hub.protect_branch("main", ["modelbot/validation", "modelbot/approvals"])
    status, _, _ = hub.request("PUT", f"/repos/acme/models/pulls/{number}/merge", "pat-platform", {})
    assert status == 405  # branch protection: the approvals check has not passed
    for reviewer in ("lena-ml", "rita-risk"):
        hub.hub.as_user(reviewer).review(number, "APPROVE")
    sweep(bot_context(hub, tmp_path))
    assert approvals(hub, head) == ("completed", "success", "ml-lead 1/1, risk 1/1")
    status, _, merged = hub.request("PUT", f"/repos/acme/models/pulls/{number}/merge", "pat-platform", {})
    assert status == 200 and merged["merged"] is True
    mark = hub.log.mark()
    assert sweep(bot_context(hub, tmp_path)).recounted == ()  # merged: no longer open
    assert [r for r in hub.log.since(mark) if r.is_write] == []


def test_a_pull_request_the_sweep_cannot_serve_is_named_after_the_others_are_served(hub, ctx, tmp_path, diabetes_v1):
    """Under the workflow token, recounting a fork whose reviewer holds a role only through a team fails (GitHub
    hides teams from that token): the next fork is still validated, and the run then fails naming the first."""
    from dataclasses import replace

    import pytest

    from bot.flows.sweep import SweepFailed
    from bot.github.client import GitHubForge
    from bot.github.config import GitHubConfig
    from bot.registry.edit import set_stage
    from localhub.rest import permissions
    from localhub.rest.permissions import JobGrant

    text, _ = set_stage(ctx.forge.file_text("models.yaml"), "diabetes-progression", "production", "1")
    hub.hub.as_user("mallory").push_to_fork("promote", {"models.yaml": text}, "Promote")
    first = hub.hub.as_user("mallory").open_pull("mallory:promote", "main", "Promote diabetes-progression 1")
    assert sweep(ctx).finished == (first,)
    hub.hub.add_team("acme", "ml-leads", ["lena-ml", "tess-lead"])
    hub.hub.add_user("tess-lead", role="write")
    hub.hub.as_user("tess-lead").review(first, "APPROVE")
    hub.hub.as_user("eve").push_to_fork("promote", {"models.yaml": text}, "Promote too")
    second = hub.hub.as_user("eve").open_pull("eve:promote", "main", "Promote diabetes-progression 1, again")
    token = hub.hub.token_for_job(JobGrant(permissions.parse("write-all"), ".github/workflows/m.yml", "sweep", 9))
    forge = GitHubForge(GitHubConfig(hub.url, "acme/models", token), bot_login="github-actions[bot]")
    as_workflow = replace(bot_context(hub, tmp_path), forge=forge)
    with pytest.raises(SweepFailed) as failed:
        sweep(as_workflow)
    said = str(failed.value)
    assert f"failed on #{first}:" in said and "GitHub App" in said and f"#{second}" in said
    assert conclusion(hub, hub.hub.state.issues[second].pull.head_sha) == "success"
