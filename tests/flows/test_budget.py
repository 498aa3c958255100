"""The API requests of one full promotion (command, PR, validation report, two approvals, merge), counted in
localhub's request log, and of the same flow re-run with nothing new (which must write nothing)."""

from bot.flows.commands import handle_comment
from bot.flows.validate_pr import refresh_approvals
from bot.github.client import GitHubForge
from bot.github.config import GitHubConfig
from tests.flows.conftest import bot_context, next_run
from tests.flows.test_commands import comment

# 25: issue 19's model card section (+2: read the body, edit it) and issue 20's record of who asked on the new head
# before the PR opens (+1), paid back by reading the card's body from what the run wrote (-1) and finding the
# approvals comment by the id the bot's check run keeps instead of listing the comments (-1 per review).
BUDGET = 25


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


def test_as_the_github_app_each_run_adds_the_mint_of_its_token(hub, tmp_path, diabetes_v1, capsys):
    """GitHub gives no token that outlives a job, so each of the App's runs mints its own (2 requests: the
    repository's installation, then its token): the same promotion costs the budget and 2 per run, no more."""
    from dataclasses import replace

    from bot.github import connect
    from bot.github.identity import APP_ID, APP_PERMISSIONS, APP_PRIVATE_KEY

    app = hub.hub.add_app("modelbot", dict(APP_PERMISSIONS))
    env = {APP_ID: str(app.id), APP_PRIVATE_KEY: app.private_key_pem.decode()}

    def run():
        forge = connect(hub.url, "acme/models", environ=env)
        return replace(bot_context(hub, tmp_path), forge=forge, bot_login=forge.bot_login)

    as_person = GitHubForge(GitHubConfig(hub.url, "acme/models", hub.hub.token_for("pat-platform")))
    start = hub.log.mark()
    event = comment(hub, "dana-ds", "/promote diabetes-progression 1 to production")
    assert handle_comment(run(), event).outcome == "done"
    number = as_person.open_pull_for("modelbot/promote/diabetes-progression/production").number
    for reviewer in ("lena-ml", "rita-risk"):
        hub.hub.as_user(reviewer).review(number, "APPROVE")
        state = refresh_approvals(run(), as_person.pull_request(number), ["models.yaml"])
    assert state.approved
    bot = [r for r in hub.log.since(start) if r.user == "modelbot[bot]" or (r.user or "").startswith("app:")]
    mints = [r for r in bot if r.path.endswith("/access_tokens")]
    with capsys.disabled():
        print(f"\nfull promotion as the App: {len(bot)} requests, {len(mints)} token mints in 3 runs")
    assert len(mints) == 3
    assert len(bot) <= BUDGET + 2 * len(mints), "\n".join(map(str, bot))
