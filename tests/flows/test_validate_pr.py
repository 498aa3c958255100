"""Validating a promotion PR end to end on localhub with real models in a real MLflow: the report comment,
the check, and approvals that move only for the right people on the right commit."""

import pytest
from sklearn.dummy import DummyRegressor

from bot.evidence import Status
from bot.flows.propose import propose
from bot.flows.validate_pr import CHECK, refresh_approvals, validate_pull
from bot.github.markers import marker
from tests.flows.conftest import next_run
from tests.support.mlflow_models import MlflowStore, dataset


def promote_diabetes(ctx):
    result = propose(ctx, "diabetes-progression", "1", "production")
    assert result.ok, result.refusals
    return result.pull.pull


def approvals_check(hub, sha):
    """The `modelbot/approvals` check run: (conclusion or `pending` while in progress, its title)."""
    runs = hub.request("GET", f"/repos/acme/models/commits/{sha}/check-runs", "pat-platform")[2]["check_runs"]
    [run] = [r for r in runs if r["name"] == "modelbot/approvals"]
    return (run["conclusion"] or "pending", run["output"]["title"])


def check_runs(hub, sha):
    runs = hub.request("GET", f"/repos/acme/models/commits/{sha}/check-runs", "pat-platform")[2]["check_runs"]
    return {r["name"]: r["conclusion"] for r in runs}


def test_a_good_candidate_gets_a_report_a_green_check_and_waits_for_roles(hub, ctx, diabetes_v1):
    pull = promote_diabetes(ctx)
    result = validate_pull(ctx, pull, files=["models.yaml"])
    assert result.status == Status.PASS, result.summary
    report = ctx.forge.find_comment(pull.number, marker("diabetes-progression", "production", "report"))
    assert report is not None and "Validation passed" in report.body
    assert check_runs(hub, pull.head_sha)[CHECK] == "success"
    assert approvals_check(hub, pull.head_sha) == ("pending", "ml-lead 0/1, risk 0/1")


def test_a_pr_touching_other_files_is_refused_with_the_reason(hub, ctx, diabetes_v1):
    pull = promote_diabetes(ctx)
    result = validate_pull(ctx, pull, files=["models.yaml", ".github/workflows/modelbot-deploy.yml"])
    assert result.status == Status.FAIL
    assert "changes .github/workflows/modelbot-deploy.yml" in result.refusals[0]
    assert check_runs(hub, pull.head_sha)[CHECK] == "failure"


@pytest.mark.slow  # trains and registers its own model
def test_a_candidate_worse_than_the_baseline_fails_its_gates(hub, ctx, tmp_path):
    store = MlflowStore(tmp_path / "mlflow")
    store.register("diabetes-progression", DummyRegressor(strategy="median"), dataset("regression"))
    pull = promote_diabetes(ctx)
    result = validate_pull(ctx, pull, files=["models.yaml"])
    assert result.status == Status.FAIL
    assert check_runs(hub, pull.head_sha)[CHECK] == "failure"
    report = ctx.forge.find_comment(pull.number, marker("diabetes-progression", "production", "report"))
    assert "Validation failed" in report.body


def test_approvals_count_role_members_on_the_head_commit_only(hub, ctx, tmp_path, diabetes_v1):
    pull = promote_diabetes(ctx)
    validate_pull(ctx, pull, files=["models.yaml"])
    hub.hub.as_user("wes-writer").review(pull.number, "APPROVE")  # no role
    hub.hub.as_user("lena-ml").review(pull.number, "APPROVE")
    state = refresh_approvals(run := next_run(hub, tmp_path), run.forge.pull_request(pull.number), ["models.yaml"])
    assert (state.approved, state.description) == (False, "ml-lead 1/1, risk 0/1")
    assert approvals_check(hub, pull.head_sha) == ("pending", "ml-lead 1/1, risk 0/1")
    hub.hub.as_user("rita-risk").review(pull.number, "APPROVE")
    state = refresh_approvals(run := next_run(hub, tmp_path), run.forge.pull_request(pull.number), ["models.yaml"])
    assert state.approved
    assert approvals_check(hub, pull.head_sha) == ("success", "ml-lead 1/1, risk 1/1")
    section = ctx.forge.find_comment(pull.number, marker("diabetes-progression", "production", "approvals"))
    assert "`lena-ml`" in section.body and "`rita-risk`" in section.body and "`wes-writer`" not in section.body


def test_an_approval_before_a_push_does_not_count_after_it(hub, ctx, tmp_path, diabetes_v1):
    pull = promote_diabetes(ctx)
    hub.hub.as_user("lena-ml").review(pull.number, "APPROVE")
    hub.hub.as_user("rita-risk").review(pull.number, "APPROVE")
    text = ctx.forge.file_text("models.yaml", pull.head_sha)
    hub.hub.as_user("dana-ds").push(
        pull.head_ref, {"models.yaml": text.replace("Ridge regression.", "Ridge.")}, "Touch the description"
    )
    run = next_run(hub, tmp_path)
    pushed = run.forge.pull_request(pull.number)
    state = refresh_approvals(run, pushed, ["models.yaml"])
    assert pushed.head_sha != pull.head_sha
    assert not state.approved and set(state.stale) == {"lena-ml", "rita-risk"}


def test_an_edited_report_comment_changes_no_rule_the_check_run_record_decides(hub, ctx, tmp_path, diabetes_v1):
    """A writer edits the bot's report to say "inconclusive" (or anything): the approvals follow what the bot
    recorded in its own check run, which no other writer can edit."""
    pull = promote_diabetes(ctx)
    validate_pull(ctx, pull, files=["models.yaml"])
    report = marker("diabetes-progression", "production", "report")
    ctx.forge.upsert_comment(pull.number, report, "## ⚠️ Validation inconclusive: 1 gate(s) cannot be decided\n")
    run = next_run(hub, tmp_path)
    state = refresh_approvals(run, run.forge.pull_request(pull.number), ["models.yaml"])
    assert state.description == "ml-lead 0/1, risk 0/1"


def test_before_the_bot_validated_a_head_every_extra_role_is_asked(hub, ctx, tmp_path, diabetes_v1):
    """No record of this head yet (a review came before the validation): the inconclusive extra applies."""
    pull = promote_diabetes(ctx)
    run = next_run(hub, tmp_path)
    state = refresh_approvals(run, run.forge.pull_request(pull.number), ["models.yaml"])
    assert state.description == "ml-lead 0/1, risk 0/1, platform 0/1"


