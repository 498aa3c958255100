"""Attacks on authority (issue 12) through the project's real workflows, run by localhub's Actions runner: a
writer with no role (wes) opens pull requests, a requester approves their own request. What the bot decides is
read from its check runs, as branch protection reads them."""

# ruff: noqa: F811 (the workflow fixtures are imported from the module that defines them)
from __future__ import annotations

from bot.localhub.runner import ActionsRunner
from tests.localhub.test_project_workflows import PROJECT, project, python, runner  # noqa: F401
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
    checks = check_runs(project, head)
    assert checks["modelbot/approvals"] == (None, "ml-lead 0/1, risk 0/1")  # a promotion's roles, not on-call's
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
    """lena types /promote: the command job opens the PR and dispatches its validation; lena's approval, seen by
    the review workflow, does not count (the bot recorded her in its check run before anyone could review)."""
    number = project.hub.as_user("dana-ds").open_issue("Promotions")
    project.hub.as_user("lena-ml").comment(number, "/promote diabetes-progression 1 to production")
    runs = runner.run_pending()
    assert [r.job for r in runs] == ["command", "evaluate", "publish"], [r.log() for r in runs]
    [pull] = [i for i in project.hub.state.issues.values() if i.pull is not None]
    project.hub.as_user("lena-ml").review(pull.number, "APPROVE")
    project.hub.as_user("rita-risk").review(pull.number, "APPROVE")
    runner.run_pending()
    assert check_runs(project, pull.pull.head_sha)["modelbot/approvals"] == (None, "ml-lead 0/1, risk 1/1")
