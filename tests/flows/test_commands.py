"""Slash commands on localhub: who may run what, what is ignored, and what a command does."""

import pytest

from bot.flows.commands import CommandComment, handle_comment
from tests.flows.conftest import next_run


def comment(hub, login, body, number=None, is_bot=False):
    """Someone comments on an issue (opened by dana if none is given); returns the event the bot gets."""
    if number is None:
        number = hub.hub.as_user("dana-ds").open_issue("Promotions")
    posted = hub.hub.as_user(login).comment(number, body)
    return CommandComment(posted.id, body, login, is_bot, number, False)


def replies(ctx, event):
    from bot.github.markers import marker

    found = ctx.forge.find_comment(event.number, marker("command", str(event.comment_id), "reply"))
    return found.body if found else None


@pytest.mark.parametrize(
    "login, body, reason",
    [
        ("rob-reader", "/promote diabetes-progression 1 to production", "@rob-reader has read permission"),
        (
            "wes-writer",
            "/promote diabetes-progression 1 to production",
            "`/promote` needs one of the roles model-owners, ml-lead; @wes-writer has none",
        ),
    ],
)
def test_commands_from_people_without_the_rights_are_refused_with_the_reason(hub, ctx, login, body, reason):
    event = comment(hub, login, body)
    reply = handle_comment(ctx, event)
    assert reply.outcome == "refused" and reason in reply.text
    assert reason in replies(ctx, event)
    assert hub.request("GET", "/repos/acme/models/pulls", "pat-platform")[2] == []


def test_a_comment_without_a_command_is_ignored_without_a_word(hub, ctx):
    event = comment(hub, "lena-ml", "LGTM\n/promote diabetes-progression 1 to production")
    mark = hub.log.mark()
    assert handle_comment(ctx, event).outcome == "ignored"
    assert hub.log.writes(mark) == []


def test_a_command_from_a_bot_account_is_ignored(hub, ctx):
    hub.hub.add_user("release-helper", role="write", user_type="Bot")
    event = comment(hub, "release-helper", "/promote diabetes-progression 1 to production", is_bot=True)
    mark = hub.log.mark()
    assert handle_comment(ctx, event).outcome == "ignored"
    assert hub.log.writes(mark) == []


def test_a_malformed_command_is_answered_with_the_syntax(hub, ctx):
    event = comment(hub, "lena-ml", "/promote diabetes-progression 1 production")
    reply = handle_comment(ctx, event)
    assert reply.outcome == "refused" and "Usage: `/promote MODEL VERSION to STAGE`" in replies(ctx, event)


def test_help_lists_every_command(hub, ctx):
    event = comment(hub, "wes-writer", "/help")
    assert handle_comment(ctx, event).outcome == "done"
    assert "/rollback MODEL [STAGE]" in replies(ctx, event)


def test_promote_opens_the_pr_validates_it_and_answers_with_both(hub, ctx, diabetes_v1):
    event = comment(hub, "lena-ml", "/promote diabetes-progression 1 to production")
    reply = handle_comment(ctx, event)
    assert reply.outcome == "done", reply.text
    pulls = hub.request("GET", "/repos/acme/models/pulls", "pat-platform")[2]
    assert [p["title"] for p in pulls] == ["Promote diabetes-progression 1 to production"]
    text = replies(ctx, event)
    assert f"Opened #{pulls[0]['number']}" in text and "Validation passed" in text
    assert "ml-lead 0/1, risk 0/1" in text


def test_rollback_opens_the_revert_pr_under_the_rollback_rules(hub, ctx, tmp_path, diabetes_v1):
    from bot.flows.validate_pr import refresh_approvals
    from tests.flows.conftest import bot_context

    promote = comment(hub, "dana-ds", "/promote diabetes-progression 1 to production")
    assert handle_comment(ctx, promote).outcome == "done"
    number = hub.request("GET", "/repos/acme/models/pulls", "pat-platform")[2][0]["number"]
    for reviewer in ("lena-ml", "rita-risk"):
        hub.hub.as_user(reviewer).review(number, "APPROVE")
    run = next_run(hub, tmp_path)
    assert refresh_approvals(run, run.forge.pull_request(number), ["models.yaml"]).approved
    hub.hub.as_user("pat-platform").merge(number)
    ctx = bot_context(hub, tmp_path)  # the next run's checkout holds the merge
    event = comment(hub, "lena-ml", "/rollback diabetes-progression production")
    reply = handle_comment(ctx, event)
    assert reply.outcome == "done", reply.text
    pulls = hub.request("GET", "/repos/acme/models/pulls", "pat-platform")[2]
    [revert] = [p for p in pulls if p["title"].startswith("Revert")]
    assert revert["title"] == 'Revert "Promote diabetes-progression 1 to production"'
    assert [label["name"] for label in revert["labels"]] == ["rollback"]
    assert "Approvals: oncall 0/1" in reply.text


def test_cancel_closes_the_promotion_pr_and_deletes_its_branch(hub, ctx, tmp_path, diabetes_v1):
    from bot.flows.propose import propose

    pull = propose(ctx, "diabetes-progression", "1", "production").pull.pull
    posted = hub.hub.as_user("lena-ml").comment(pull.number, "/cancel")
    reply = handle_comment(
        next_run(hub, tmp_path), CommandComment(posted.id, "/cancel", "lena-ml", False, pull.number, True)
    )
    assert reply.outcome == "done", reply.text
    state = hub.request("GET", f"/repos/acme/models/pulls/{pull.number}", "pat-platform")[2]["state"]
    status, _, _ = hub.request("GET", f"/repos/acme/models/git/ref/heads/{pull.head_ref}", "pat-platform")
    assert (state, status) == ("closed", 404)


def test_cancel_outside_a_promotion_pr_is_refused(hub, ctx):
    event = comment(hub, "lena-ml", "/cancel")
    assert handle_comment(ctx, event).outcome == "refused"


def test_history_names_the_approvers_and_the_evidence_of_each_promotion(
    hub, ctx, tmp_path, diabetes_v1, monkeypatch, capsys
):
    import json

    from bot.cli import main

    assert (
        handle_comment(ctx, comment(hub, "dana-ds", "/promote diabetes-progression 1 to production")).outcome == "done"
    )
    number = hub.request("GET", "/repos/acme/models/pulls", "pat-platform")[2][0]["number"]
    for reviewer in ("lena-ml", "rita-risk"):
        hub.hub.as_user(reviewer).review(number, "APPROVE")
    hub.hub.as_user("pat-platform").merge(number)
    run = next_run(hub, tmp_path)
    for name, value in hub.bot_env().items():
        monkeypatch.setenv(name, value)
    assert (
        main(
            [
                "history",
                "diabetes-progression",
                "--stage",
                "production",
                "--github",
                "--json",
                "--repo",
                str(run.workspace),
            ]
        )
        == 0
    )
    [event] = json.loads(capsys.readouterr().out)["events"]
    assert (event["kind"], event["pr"], event["approvers"]) == ("promote", number, ["lena-ml", "rita-risk"])
    assert f"/{number}#issuecomment-" in event["evidence"]
