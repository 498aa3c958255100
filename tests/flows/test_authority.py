"""Authority comes from the base branch and from what only the bot can write (issue 12): each case is an attack
by a writer with no role (wes), through localhub's API as the bot's runs see it."""

from __future__ import annotations

from hypothesis import given, settings
from hypothesis import strategies as st

from bot.flows.automerge import allowed
from bot.flows.commands import handle_comment
from bot.flows.validate_pr import plan_pull, refresh_approvals, validate_pull
from bot.github.forge import PullRequest
from tests.flows.conftest import next_run
from tests.flows.test_commands import comment

V2_BLOCK_START = "      - version: 2\n"
V1_BLOCK_START = "      - version: 1\n        uri: models:/tumor-malignancy/1\n"


def writer_pull(hub, ctx, edits, who="wes-writer", branch="wes/change") -> PullRequest:
    """`who` pushes a branch with `edits` (path -> function of the file's text on main) and opens its PR."""
    files = {}
    for path, edit in edits.items():
        files[path] = edit(ctx.forge.file_text(path, "main") or "")
    hub.hub.as_user(who).push(branch, files, "A change", base="main")
    number = hub.hub.as_user(who).open_pull(branch, "main", "A change")
    return ctx.forge.pull_request(number)


def swap_tumor_versions(text: str) -> str:
    """v2's block moved above v1's: the order of the list says nothing about which version is newer."""
    start, middle = text.index(V1_BLOCK_START), text.index(V2_BLOCK_START)
    end = text.index("\n\n    stages:", middle) + 1
    return text[:start] + text[middle:end] + text[start:middle] + text[end:]


def test_reordering_versions_does_not_make_a_promotion_a_rollback(hub, ctx):
    pull = writer_pull(hub, ctx, {"models.yaml": lambda t: swap_tumor_versions(t).replace(
        "      staging: 2\n      production: 1\n", "      staging: 2\n      production: 2\n")})
    planned = plan_pull(ctx, pull, ["models.yaml"])
    [step] = planned.plan.steps
    assert step.transition.kind == "promote"
    assert [a.role for a in step.approvals] == ["ml-lead", "risk"]
    assert not allowed(planned.plan, planned.policies)


def test_a_version_that_never_served_the_stage_is_a_promotion_whatever_its_age(hub, ctx):
    """v1 is older than v2 but never served staging: moving staging back to it is a promotion, with its rules."""
    pull = writer_pull(hub, ctx, {"models.yaml": lambda t: t.replace("      staging: 2\n", "      staging: 1\n")})
    planned = plan_pull(ctx, pull, ["models.yaml"])
    [step] = planned.plan.steps
    assert step.transition.kind == "promote" and not allowed(planned.plan, planned.policies)


def test_a_return_to_a_version_the_stage_served_before_is_a_rollback(hub, ctx):
    """The base's history says v1 served staging before v2: moving back to it is a rollback."""
    main = ctx.forge.file_text("models.yaml", "main")
    hub.hub.as_user("pat-platform").push("main", {"models.yaml": main.replace("staging: 2\n", "staging: 1\n")},
                                         "staging on 1")
    hub.hub.as_user("pat-platform").push("main", {"models.yaml": main}, "staging on 2")
    run = next_run(hub, ctx.reports.parent)
    pull = writer_pull(hub, run, {"models.yaml": lambda t: t.replace("      staging: 2\n", "      staging: 1\n")})
    planned = plan_pull(run, pull, ["models.yaml"])
    [step] = planned.plan.steps
    assert step.transition.kind == "rollback" and allowed(planned.plan, planned.policies)


def test_an_owner_added_by_the_change_is_no_owner_of_it(hub, ctx, diabetes_v1):
    """wes adds himself to the owners and promotes to staging-less production: the base's owners decide, and the
    owners change needs the admin role and the current owners."""
    pull = writer_pull(hub, ctx, {"models.yaml": lambda t: t.replace(
        "    owners: [dana-ds]\n    task: regression", "    owners: [dana-ds, wes-writer]\n    task: regression")})
    result = validate_pull(ctx, pull, files=["models.yaml"], actors=["wes-writer"])
    assert result.plan.governance == ("changes the owners of diabetes-progression",)
    assert result.approvals.description == "platform 0/1, model-owners 0/1"
    owners = next(r for r in result.approvals.rules if r.role == "model-owners")
    assert "wes-writer" not in owners.may_approve and "dana-ds" in owners.may_approve
    assert result.automerge is None


def test_evaluation_settings_changed_by_the_change_are_not_used_and_need_the_admin(hub, ctx, diabetes_v1):
    pull = writer_pull(hub, ctx, {"models.yaml": lambda t: t.replace(
        "      slices: [sex, age_band]\n", "").replace("      staging: 1\n      production: null",
                                                      "      staging: 1\n      production: 1")})
    result = validate_pull(ctx, pull, files=["models.yaml"])
    assert "changes the evaluation settings of diabetes-progression" in result.plan.governance
    assert "platform" in [r.role for r in result.approvals.rules]
    report = ctx.forge.find_comment(pull.number, "<!-- modelbot:diabetes-progression:production:report -->")
    assert "age_band" in report.body  # judged on the base's slices, not the ones the change left


def test_a_new_policy_file_no_model_uses_yet_is_a_governance_change(hub, ctx):
    pull = writer_pull(hub, ctx, {"policies/lax.yaml": lambda _: "version: 1\nstages:\n  staging: {}\n"})
    planned = plan_pull(ctx, pull, None)
    assert planned.plan.governance == ("edits policies/lax.yaml",)
    assert [a.role for a in planned.plan.policy_change_approvals] == ["platform"]


def test_who_asked_for_a_promotion_cannot_approve_it(hub, ctx, tmp_path, diabetes_v1):
    event = comment(hub, "lena-ml", "/promote diabetes-progression 1 to production")
    assert handle_comment(ctx, event).outcome == "done"
    number = hub.request("GET", "/repos/acme/models/pulls", "pat-platform")[2][0]["number"]
    hub.hub.as_user("lena-ml").review(number, "APPROVE")
    hub.hub.as_user("rita-risk").review(number, "APPROVE")
    run = next_run(hub, tmp_path)
    state = refresh_approvals(run, run.forge.pull_request(number), ["models.yaml"])
    assert not state.approved and "lena-ml" in state.ignored
    assert state.description == "ml-lead 0/1, risk 1/1"


def test_a_status_any_writer_posts_is_not_the_approvals_check(hub, ctx, tmp_path, diabetes_v1):
    """`modelbot/approvals` is the bot's check run: a writer's `success` status of that name changes nothing the
    bot decides (no self-merge), and the check run stays pending."""
    event = comment(hub, "dana-ds", "/promote diabetes-progression 1 to production")
    assert handle_comment(ctx, event).outcome == "done"
    pull = next_run(hub, tmp_path).forge.pull_request(2)
    hub.hub.as_user("wes-writer").set_status(pull.head_sha, "success", "modelbot/approvals", "all approved")
    runs = hub.request("GET", f"/repos/acme/models/commits/{pull.head_sha}/check-runs", "pat-platform")[2]
    [approvals] = [r for r in runs["check_runs"] if r["name"] == "modelbot/approvals"]
    assert approvals["conclusion"] is None and approvals["app"]["slug"] == "github-actions"


def test_a_local_model_path_is_refused_before_anything_loads_it(hub, ctx):
    entry = ("      - version: 3\n        uri: file:///tmp/evil-model\n        created_at: \"2026-11-20T10:00:00Z\"\n"
             "        created_by: wes-writer\n")
    pull = writer_pull(hub, ctx, {"models.yaml": lambda t: t.replace(
        "\n    stages:\n      staging: 2\n", f"{entry}\n    stages:\n      staging: 3\n")})
    result = validate_pull(ctx, pull, files=["models.yaml"])
    assert result.status.value == "fail"
    assert any("uri 'file:///tmp/evil-model' is not an allowed model URI" in r for r in result.refusals)


OPTIONAL_LINEAGE = st.fixed_dictionaries({}, optional={
    "training_data": st.text(min_size=1, max_size=20),
    "training_data_sha256": st.just("a" * 64),
    "code_commit": st.just("abc1234"),
    "code_repository": st.text(min_size=1, max_size=20),
    "params": st.dictionaries(st.text(min_size=1, max_size=8), st.one_of(st.none(), st.booleans(), st.integers())),
})


@settings(max_examples=60, deadline=None)
@given(lineage=OPTIONAL_LINEAGE, run_id=st.one_of(st.none(), st.just("r" * 32)),
       description=st.one_of(st.none(), st.text(max_size=30)),
       metrics=st.dictionaries(st.sampled_from(["roc_auc", "brier"]), st.floats(0, 1), max_size=2))
def test_every_schema_valid_version_renders_its_promotion_pr(lineage, run_id, description, metrics):
    """A version with any subset of its optional fields gets a promotion PR body (a missing field crashed it)."""
    from dataclasses import replace
    from datetime import UTC, datetime

    from bot.flows.propose import body
    from bot.plan import plan
    from bot.registry import parse
    from tests.test_plan import EXAMPLE, POLICIES

    before = parse(EXAMPLE)
    model = before.models["tumor-malignancy"]
    candidate = replace(model.versions[1], lineage=lineage, run_id=run_id, description=description, metrics=metrics)
    after = parse(EXAMPLE.replace("      production: 1\n", "      production: 2\n", 1))
    [step] = plan(before, after, POLICIES, now=datetime(2026, 11, 25, tzinfo=UTC)).steps
    text = body(model, candidate, "production", step, None, None, None)
    assert "Promote `tumor-malignancy` version `2` to `production`" in text
