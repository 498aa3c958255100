"""The API requests of one full promotion (command, PR, validation report, two approvals, merge), counted in
localhub's request log, and of the same flow re-run with nothing new (which must write nothing)."""

from bot.flows.commands import handle_comment
from bot.flows.validate_pr import refresh_approvals
from bot.github.client import GitHubForge
from bot.github.config import GitHubConfig
from tests.flows.conftest import next_run
from tests.flows.test_commands import comment

# 25, and 2 since issue 19: the model card section of the PR body (read the body, then edit it); 1 since issue 20:
# the record of who asked and the labels, on the new head before the PR opens (for whatever finishes a killed run)
BUDGET = 28


def test_a_full_promotion_stays_within_the_request_budget(hub, ctx, tmp_path, diabetes_v1, capsys):
    as_person = GitHubForge(GitHubConfig(hub.url, "acme/models", hub.hub.token_for("pat-platform")))
    start = hub.log.mark()
    event = comment(hub, "dana-ds", "/promote diabetes-progression 1 to production")

    def flow():
        """One run per event, as Actions runs them: the command, then each review."""
        assert handle_comment(next_run(hub, tmp_path), event).outcome == "done"
        number = as_person.open_pull_for("modelbot/promote/diabetes-progression/production").number
        for _review in ("lena-ml", "rita-risk"):
            state = refresh_approvals(next_run(hub, tmp_path), as_person.pull_request(number), ["models.yaml"])
        return number, state

    assert handle_comment(ctx, event).outcome == "done"
    number = as_person.open_pull_for("modelbot/promote/diabetes-progression/production").number
    for reviewer in ("lena-ml", "rita-risk"):
        hub.hub.as_user(reviewer).review(number, "APPROVE")
        state = refresh_approvals(next_run(hub, tmp_path), as_person.pull_request(number), ["models.yaml"])
    assert state.approved
    first = [r for r in hub.log.since(start) if r.user == "github-actions[bot]"]
    again = hub.log.mark()
    _, state = flow()
    rerun = [r for r in hub.log.since(again) if r.user == "github-actions[bot]"]
    assert state.approved
    hub.hub.as_user("pat-platform").merge(number)
    with capsys.disabled():
        print(
            f"\nfull promotion: {len(first)} bot requests ({sum(r.is_write for r in first)} writes); "
            f"re-run with nothing new: {len(rerun)} requests, {sum(r.is_write for r in rerun)} writes"
        )
    assert len(first) <= BUDGET, "\n".join(map(str, first))
    assert [r for r in rerun if r.is_write] == [], "\n".join(map(str, rerun))
