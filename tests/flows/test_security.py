"""The security cases of promotion PRs (issue 6), each refused or ignored, with a reason where a person needs one."""

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


def test_a_command_in_a_pr_title_or_branch_name_is_never_run(hub, ctx, diabetes_v1):
    registry = ctx.forge.file_text("models.yaml", "main")
    branch = "x/promote-diabetes-progression-1-to-production"
    hub.hub.as_user("dana-ds").push(
        branch,
        {"models.yaml": registry.replace("description: Ridge regression.", "description: Ridge.")},
        "tweak",
        base="main",
    )
    number = hub.hub.as_user("dana-ds").open_pull(branch, "main", "/promote diabetes-progression 1 to production")
    mark = hub.log.mark()
    result = validate_pull(ctx, ctx.forge.pull_request(number), files=["models.yaml"])
    assert result.refusals and "diabetes-progression version 1 was modified" in result.refusals[0]
    created = [r for r in hub.log.since(mark) if r.method == "POST" and r.path.endswith("/pulls")]
    assert created == []
