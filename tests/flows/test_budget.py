"""The API requests of one full promotion (command, PR, validation report, two approvals, merge), counted in
localhub's request log, and of the same flow re-run with nothing new (which must write nothing)."""

from bot.flows.commands import handle_comment
from bot.flows.validate_pr import refresh_approvals
from bot.github.client import GitHubForge
from bot.github.config import GitHubConfig
from tests.flows.test_commands import comment

BUDGET = 25


def test_a_full_promotion_stays_within_the_request_budget(hub, ctx, diabetes_v1, capsys):
    as_person = GitHubForge(GitHubConfig(hub.url, "acme/models", hub.hub.token_for("pat-platform")))
    start = hub.log.mark()
    event = comment(hub, "lena-ml", "/promote diabetes-progression 1 to production")
    assert handle_comment(ctx, event).outcome == "done"
    number = hub.request("GET", "/repos/acme/models/pulls", "pat-platform")[2][0]["number"]
    after_command = hub.log.mark()
    for reviewer in ("lena-ml", "rita-risk"):
        hub.hub.as_user(reviewer).review(number, "APPROVE")
        state = refresh_approvals(ctx, as_person.pull_request(number), ["models.yaml"])  # the event's PR
    assert state.approved
    hub.hub.as_user("pat-platform").merge(number)
    bot = [r for r in hub.log.since(start) if r.user == "github-actions[bot]"]
    again = hub.log.mark()
    assert handle_comment(ctx, event).outcome in ("done", "refused")
    rerun_writes = [r for r in hub.log.writes(again) if r.method != "POST" or "reactions" not in r.path]
    with capsys.disabled():
        print(
            f"\nfull promotion: {len(bot)} bot requests ({sum(r.is_write for r in bot)} writes); "
            f"command+validation {len([r for r in hub.log.since(start, after_command) if r.user])}"
        )
    assert len(bot) <= BUDGET, "\n".join(map(str, bot))
    assert rerun_writes == [] or all("comments" in r.path for r in rerun_writes)
