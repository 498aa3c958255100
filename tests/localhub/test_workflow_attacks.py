"""Attacks on authority (issue 12) through the project's real workflows, run by localhub's Actions runner: a
writer with no role (wes) opens pull requests, a requester approves their own request. What the bot decides is
read from its check runs, as branch protection reads them."""

# ruff: noqa: F811 (the workflow fixtures are imported from the module that defines them)
from __future__ import annotations

from localhub.actions.runner import ActionsRunner
from tests.localhub.test_project_workflows import PROJECT, install_app, project, python, runner  # noqa: F401
from tests.support.localhub import RunningHub

V1 = "      - version: 1\n        uri: models:/tumor-malignancy/1\n"
V2 = "      - version: 2\n"


def check_runs(project: RunningHub, sha: str) -> dict[str, tuple[str | None, str]]:
    runs = project.request("GET", f"/repos/acme/models/commits/{sha}/check-runs", "pat-platform")[2]["check_runs"]
    return {r["name"]: (r["conclusion"], r["output"]["title"]) for r in runs}


def wes_opens(project: RunningHub, runner: ActionsRunner, models_yaml: str) -> tuple[int, str]:
    wes = project.hub.as_user("wes-writer")
    wes.push("wes/change", {"models.yaml": models_yaml}, "A change")
    number = wes.open_pull("wes/change", "main", "A change")
    runs = runner.run_pending()
    assert [r.job for r in runs] == ["evaluate", "publish"], [r.log() for r in runs]
    return number, project.hub.state.issues[number].pull.head_sha  # type: ignore[union-attr]


def test_reordering_versions_gets_no_rollback_rules_through_the_workflows(project: RunningHub,
                                                                          runner: ActionsRunner) -> None:
    text = (PROJECT / "models.yaml").read_text()
    start, middle = text.index(V1), text.index(V2)
    end = text.index("\n\n    stages:", middle) + 1
    swapped = text[:start] + text[middle:end] + text[start:middle] + text[end:]
    number, head = wes_opens(project, runner, swapped.replace("      staging: 2\n      production: 1\n",
                                                               "      staging: 2\n      production: 2\n"))
    conclusion, title = check_runs(project, head)["modelbot/approvals"]
    # A promotion's roles, not on-call's (the evaluation, with no registry here, may add the inconclusive extra).
    assert conclusion is None and title.startswith("ml-lead 0/1, risk 0/1") and "oncall" not in title
    assert not project.hub.state.issues[number].pull.merged  # type: ignore[union-attr]


def test_an_owner_added_by_the_change_needs_the_admin_and_the_current_owners(project: RunningHub,
                                                                             runner: ActionsRunner) -> None:
    text = (PROJECT / "models.yaml").read_text().replace(
        "    owners: [dana-ds]\n    task: regression", "    owners: [dana-ds, wes-writer]\n    task: regression")
    _, head = wes_opens(project, runner, text)
    assert check_runs(project, head)["modelbot/approvals"] == (None, "platform 0/1, model-owners 0/1")


def test_a_local_model_path_is_refused_before_the_evaluation_loads_it(project: RunningHub,
                                                                     runner: ActionsRunner) -> None:
    entry = ("      - version: 3\n        uri: file:///tmp/evil-model\n        created_at: \"2026-11-20T10:00:00Z\"\n"
             "        created_by: wes-writer\n")
    text = (PROJECT / "models.yaml").read_text().replace("\n    stages:\n      staging: 2\n",
                                                         f"{entry}\n    stages:\n      staging: 3\n")
    _, head = wes_opens(project, runner, text)
    assert check_runs(project, head)["modelbot/validation"] == ("failure", "Refused")
    [plan] = [c for c in project.hub.state.comments.values() if "modelbot:pull:" in c.body]
    assert "uri 'file:///tmp/evil-model' is not an allowed model URI" in plan.body


def test_who_asked_for_a_promotion_cannot_approve_it_through_the_workflows(project: RunningHub,
                                                                          runner: ActionsRunner) -> None:
    """lena types /promote: the command job opens the PR and its validation runs; lena's approval, seen by
    the review workflow, does not count (the bot recorded her in its check run before anyone could review).
    The bot is the GitHub App (the ml-lead role names a team: a workflow token cannot read it)."""
    install_app(project)
    number = project.hub.as_user("dana-ds").open_issue("Promotions")
    project.hub.as_user("lena-ml").comment(number, "/promote diabetes-progression 1 to production")
    runs = [r for r in runner.run_pending() if r.conclusion != "skipped"]
    assert [r.job for r in runs] == ["command", "evaluate", "publish"], [r.log() for r in runs]
    [pull] = [i for i in project.hub.state.issues.values() if i.pull is not None]
    project.hub.as_user("lena-ml").review(pull.number, "APPROVE")
    project.hub.as_user("rita-risk").review(pull.number, "APPROVE")
    runner.run_pending()
    assert check_runs(project, pull.pull.head_sha)["modelbot/approvals"] == (None, "ml-lead 0/1, risk 1/1")


def test_a_new_policy_file_no_model_uses_needs_the_admin(project: RunningHub, runner: ActionsRunner) -> None:
    wes = project.hub.as_user("wes-writer")
    wes.push("wes/policy", {"policies/lax.yaml": "version: 1\nstages:\n  staging: {}\n"}, "A new policy")
    number = wes.open_pull("wes/policy", "main", "A policy for later")
    assert [r.job for r in runner.run_pending()] == ["evaluate", "publish"]
    head = project.hub.state.issues[number].pull.head_sha  # type: ignore[union-attr]
    assert check_runs(project, head)["modelbot/approvals"] == (None, "platform 0/1")


def test_switching_a_model_s_policy_or_slices_needs_the_admin(project: RunningHub, runner: ActionsRunner) -> None:
    text = (PROJECT / "models.yaml").read_text().replace("    policy: regression\n", "    policy: default\n")
    text = text.replace("      slices: [sex, age_band]\n", "")
    _, head = wes_opens(project, runner, text)
    assert check_runs(project, head)["modelbot/approvals"] == (None, "platform 0/1")


def test_an_edited_report_or_a_forged_status_changes_nothing_the_bot_decides(project: RunningHub,
                                                                            runner: ActionsRunner) -> None:
    """wes edits the bot's plan comment and posts a `success` status named like the approvals check; a review
    run then recomputes from the bot's own check-run record: still nothing approved."""
    text = (PROJECT / "models.yaml").read_text().replace("    owners: [dana-ds]\n    task: regression",
                                                         "    owners: [dana-ds, wes-writer]\n    task: regression")
    number, head = wes_opens(project, runner, text)
    for comment in [c for c in project.hub.state.comments.values() if c.issue_number == number]:
        project.request("PATCH", f"/repos/acme/models/issues/comments/{comment.id}", "wes-writer",
                        {"body": comment.body.replace("platform", "nobody") + "\nValidation inconclusive"})
    project.hub.as_user("wes-writer").set_status(head, "success", "modelbot/approvals", "all approved")
    project.hub.as_user("dana-ds").review(number, "APPROVE")
    runner.run_pending()
    assert check_runs(project, head)["modelbot/approvals"] == (None, "platform 0/1, model-owners 1/1")


def test_a_version_with_a_bare_lineage_gets_its_promotion_pr(project: RunningHub, runner: ActionsRunner) -> None:
    """A schema-valid version whose lineage lacks its optional fields crashed /promote's PR body."""
    text = (PROJECT / "models.yaml").read_text().replace(
        "          params: {model: ridge, alpha: 1.0}\n\n    stages:",
        "          params: {model: ridge, alpha: 1.0}\n"
        "      - version: 2\n        uri: models:/diabetes-progression/2\n"
        "        created_at: \"2026-11-20T10:00:00Z\"\n        created_by: dana-ds\n        lineage: {}\n\n    stages:")
    project.hub.as_user("pat-platform").push("main", {"models.yaml": text}, "Register diabetes 2")
    runner.run_pending()  # the deploy run of that push
    number = project.hub.as_user("dana-ds").open_issue("Promotions")
    project.hub.as_user("dana-ds").comment(number, "/promote diabetes-progression 2 to staging")
    runs = runner.run_pending()
    assert runs[0].job == "command" and runs[0].conclusion == "success", runs[0].log()
    titles = [i.title for i in project.hub.state.issues.values() if i.pull is not None]
    assert titles == ["Promote diabetes-progression 2 to staging"]
