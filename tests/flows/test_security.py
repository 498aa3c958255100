"""The security cases of promotion PRs (issue 6), each refused or ignored, with a reason where a person needs one."""

from pathlib import Path

from bot.flows.validate_pr import refresh_approvals, validate_pull
from tests.flows.conftest import next_run
from tests.flows.test_validate_pr import promote_diabetes


def test_a_team_member_counts_for_the_teams_role(hub, ctx, tmp_path, diabetes_v1):
    hub.hub.add_user("lars-lead", role="write")
    hub.hub.add_team("acme", "ml-leads", ["lena-ml", "lars-lead"])
    pull = promote_diabetes(ctx)
    validate_pull(ctx, pull, files=["models.yaml"])
    hub.hub.as_user("lars-lead").review(pull.number, "APPROVE")
    state = refresh_approvals(run := next_run(hub, tmp_path), run.forge.pull_request(pull.number), ["models.yaml"])
    assert state.description == "ml-lead 1/1, risk 0/1"
    assert state.rules[0].approvers == ("lars-lead",)


def test_a_pr_that_makes_its_author_an_approver_is_judged_by_the_base_policy(hub, ctx, diabetes_v1):
    """wes edits policies/ in his own promotion PR to make himself ml-lead and risk; the base policy decides."""
    hub.hub.add_user("wes-writer", role="write")
    policy = ctx.forge.file_text("policies/default.yaml", "main")
    registry = ctx.forge.file_text("models.yaml", "main")
    hub.hub.as_user("wes-writer").push(
        "wes/promote",
        {
            "policies/default.yaml": policy.replace("users: [lena-ml]", "users: [lena-ml, wes-writer]").replace(
                "users: [rita-risk]", "users: [rita-risk, wes-writer]"
            ),
            "models.yaml": registry.replace(
                "      staging: 1\n      production: null", "      staging: 1\n      production: 1"
            ),
        },
        "Promote diabetes-progression 1 to production",
        base="main",
    )
    number = hub.hub.as_user("wes-writer").open_pull("wes/promote", "main", "Promote diabetes")
    pull = ctx.forge.pull_request(number)
    hub.hub.as_user("lena-ml").review(number, "APPROVE")
    result = validate_pull(ctx, pull, files=["models.yaml", "policies/default.yaml"])
    state = result.approvals
    assert [(r.role, r.required) for r in state.rules] == [("ml-lead", 1), ("risk", 1), ("platform", 1)]
    assert not state.approved and state.description == "ml-lead 1/1, risk 0/1, platform 0/1"
    assert "wes-writer" not in state.rules[1].may_approve


def _handle(running, delivery, environ):
    """A delivery as the workflow's entrypoint handles it: parsed, routed, and given to its handler."""
    from bot import routing
    from bot.actions.events import parse
    from bot.actions.runtime import Runtime

    target = routing.event_handler(delivery.event, delivery.payload.get("action"))
    assert target is not None, f"{delivery.event} {delivery.payload.get('action')} is not routed"
    runtime = Runtime(delivery.event, Path("event.json"), environ)
    return routing.load(target)(parse(delivery.event, delivery.payload), runtime, running.forge)


def _delivered(running, since, event, sender="lena-ml"):
    return [d for d in running.hub.deliveries[since:] if d.event == event and d.sender == sender]


def _bot_writes(running, mark):
    """Requests that would start something: a branch, a pull request, a workflow run, a merge, a deployment."""
    return [f"{r.method} {r.path}" for r in running.log.since(mark) if r.method in ("POST", "PUT")
            and r.path.endswith(("/pulls", "/git/refs", "/dispatches", "/merge", "/deployments"))]


def test_a_command_in_a_pr_title_or_branch_name_is_never_run(hub, ctx, diabetes_v1, tmp_path):
    """The title and the branch name of a pull request go through the pull-request and comment handlers as
    any event does; only a comment's own body is ever parsed as a command."""
    environ = {"RUNNER_TEMP": str(tmp_path)}
    command = "/promote diabetes-progression 1 to production"
    registry = ctx.forge.file_text("models.yaml", "main")
    branch = "x/promote-diabetes-progression-1-to-production"
    seen = len(hub.hub.deliveries)
    hub.hub.as_user("lena-ml").push(
        branch, {"models.yaml": registry.replace("description: Ridge regression.", "description: Ridge.")},
        command, base="main",
    )
    number = hub.hub.as_user("lena-ml").open_pull(branch, "main", command)
    hub.hub.as_user("lena-ml").comment(number, "Looks right to me.")
    hub.hub.as_user("lena-ml").edit_pull(number, title="/rollback diabetes-progression production")
    mark = hub.log.mark()

    (opened,) = [d for d in _delivered(hub, seen, "pull_request") if d.payload["action"] == "opened"]
    validated = _handle(hub, opened, environ)
    (remark,) = _delivered(hub, seen, "issue_comment")
    answered = _handle(hub, remark, environ)
    (edited,) = [d for d in _delivered(hub, seen, "pull_request") if d.payload["action"] == "edited"]
    renamed = _handle(hub, edited, environ)

    assert "diabetes-progression version 1 was modified" in validated.summary
    assert answered.outputs["result"] == "ignored" and renamed.outputs["result"] == "ignored"
    assert _bot_writes(hub, mark) == []
    # The same words as a comment's body are a command, and run: the test above could have failed.
    hub.hub.as_user("lena-ml").comment(number, command)
    (typed,) = _delivered(hub, seen, "issue_comment")[1:]
    ran = _handle(hub, typed, environ)
    assert ran.outputs["result"] != "ignored" and f"`{command}`" in ran.summary  # parsed and judged
