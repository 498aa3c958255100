"""A rollback merges itself when the base policy allows it (`rollback.auto_merge`), once approved under the
rollback rules and validated on its head; it then starts the deploy workflow, since the merge it made with the
workflow's token starts none. Anything else is left for a person."""

from pathlib import Path

from bot.flows.automerge import allowed, waiting_for
from bot.policy import parse_files
from tests.flows.conftest import bot_context, next_run
from tests.flows.test_commands import comment
from tests.test_plan import PROJECT, PROMOTE_TUMOR, plan_of

ROLLBACK_STAGING = (("      staging: 2\n", "      staging: 1\n"),)


def policies_with_auto_merge(value: bytes):
    return parse_files({
        "policies/default.yaml": (PROJECT / "policies/default.yaml").read_bytes().replace(
            b"auto_merge: true", b"auto_merge: " + value),
        "policies/regression.yaml": (PROJECT / "policies/regression.yaml").read_bytes(),
    })


def test_only_a_rollback_under_a_policy_that_allows_it_may_merge_itself():
    from bot.policy import load_policies

    policies = load_policies(PROJECT)
    rollback = plan_of(*ROLLBACK_STAGING)
    assert allowed(rollback, policies)
    assert not allowed(rollback, policies_with_auto_merge(b"false"))
    assert not allowed(plan_of(PROMOTE_TUMOR), policies)  # a promotion never merges itself
    assert not allowed(plan_of(*ROLLBACK_STAGING, PROMOTE_TUMOR), policies)  # nor a rollback carrying one
    assert not allowed(plan_of(), policies)  # nor a change with no transition at all


def test_what_a_rollback_still_waits_for_is_said():
    assert waiting_for(True, "success", "a" * 40) is None
    assert waiting_for(False, "success", "a" * 40) == "the approvals the policy requires"
    assert "rollout analysis to pass" in (waiting_for(True, "success", "a" * 40, None) or "")
    assert waiting_for(True, None, "ab" * 20) == "its validation to pass on abababababab (it is not reported)"


def open_rollback(hub, tmp_path: Path) -> int:
    """diabetes-progression 1 promoted to production and merged, then `/rollback` by on-call: the revert's number."""
    from bot.flows.commands import handle_comment

    ctx = bot_context(hub, tmp_path)
    promote = comment(hub, "dana-ds", "/promote diabetes-progression 1 to production")
    assert handle_comment(ctx, promote).outcome == "done"
    number = hub.request("GET", "/repos/acme/models/pulls", "pat-platform")[2][0]["number"]
    for reviewer in ("lena-ml", "rita-risk"):
        hub.hub.as_user(reviewer).review(number, "APPROVE")
    hub.hub.as_user("pat-platform").merge(number)
    reply = handle_comment(bot_context(hub, tmp_path), comment(hub, "lena-ml", "/rollback diabetes-progression"))
    assert reply.outcome == "done", reply.text
    pulls = hub.request("GET", "/repos/acme/models/pulls", "pat-platform")[2]
    return next(p["number"] for p in pulls if p["title"].startswith("Revert"))


def test_an_approved_rollback_merges_itself_at_its_head_and_starts_the_deploy(hub, tmp_path, diabetes_v1):
    from bot.flows.validate_pr import refresh_approvals

    number = open_rollback(hub, tmp_path)
    run = next_run(hub, tmp_path)
    pull = run.forge.pull_request(number)
    assert not pull.merged  # opened, validated, waiting for on-call

    hub.hub.as_user("omar-oncall").review(number, "APPROVE")
    run = next_run(hub, tmp_path)
    assert refresh_approvals(run, run.forge.pull_request(number), ["models.yaml"]).approved

    merged = run.forge.pull_request(number)
    assert merged.merged and merged.merge_commit_sha
    assert hub.hub.git.resolve_commit("refs/heads/main") == merged.merge_commit_sha
    [dispatch] = [d for d in hub.hub.deliveries if d.event == "workflow_dispatch"]
    assert dispatch.payload["workflow"] == ".github/workflows/modelbot-deploy.yml"
    assert dispatch.payload["inputs"] == {"task": "deploy", "after": merged.merge_commit_sha}
    said = run.forge.find_comment(number, f"<!-- modelbot:pull:{number}:automerge -->")
    assert said is not None and "**Merged by modelbot**" in said.body


def test_a_merge_that_branch_protection_refuses_is_said_and_left_for_a_person(hub, tmp_path, diabetes_v1):
    from bot.flows.validate_pr import refresh_approvals

    number = open_rollback(hub, tmp_path)
    hub.hub.protect_branch("main", ["modelbot/validation", "ci/integration"])  # a check nobody reports
    hub.hub.as_user("omar-oncall").review(number, "APPROVE")
    run = next_run(hub, tmp_path)

    assert refresh_approvals(run, run.forge.pull_request(number), ["models.yaml"]).approved

    assert not run.forge.pull_request(number).merged
    assert not [d for d in hub.hub.deliveries if d.event == "workflow_dispatch"]
    said = run.forge.find_comment(number, f"<!-- modelbot:pull:{number}:automerge -->")
    assert said is not None and "**Not merged**" in said.body and "merge it by hand" in said.body
