"""localhub runs a repository's workflows for its events as GitHub Actions would: matching triggers,
`if:` conditions, GitHub's environment, a real checkout at the event's ref, and loud failure for any other
`uses:`; and the runs' own writes (with GITHUB_TOKEN) start no new runs."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

import pytest

from localhub.actions.runner import ActionsRunner
from localhub.actions.workflows import job_order, load, triggered
from localhub.expressions import ExpressionError, condition, evaluate, substitute
from tests.support.localhub import RunningHub

WORKFLOW = """\
name: modelbot
on:
  issue_comment:
    types: [created]
  pull_request:
    branches: [main]
  workflow_dispatch:
permissions:
  contents: read
  pull-requests: write  # the reply below, a comment on a pull request
env:
  MODELBOT_STAGE: staging
jobs:
  bot:
    if: github.event_name != 'issue_comment' || github.event.issue.pull_request
    runs-on: ubuntu-latest
    outputs:
      handled: ${{ steps.act.outputs.handled }}
    steps:
      - uses: actions/checkout@v4
      - name: facts
        run: |
          echo "sha=$GITHUB_SHA ref=$GITHUB_REF event=$GITHUB_EVENT_NAME ci=$CI stage=$MODELBOT_STAGE"
          cat models.yaml
      - id: act
        run: modelbot action --json
        env:
          GITHUB_TOKEN: ${{ secrets.GITHUB_TOKEN }}
      - name: reply with the token
        if: github.event_name == 'issue_comment'
        env:
          GITHUB_TOKEN: ${{ secrets.GITHUB_TOKEN }}
          NUMBER: ${{ github.event.issue.number }}
        run: |
          python - <<'EOF'
          import os
          from bot.github import connect
          connect().upsert_comment(int(os.environ["NUMBER"]), "<!-- modelbot:churn:staging:ack -->", "seen")
          EOF
  after:
    needs: bot
    runs-on: ubuntu-latest
    steps:
      - run: echo "bot said ${{ needs.bot.result }}"
"""


@pytest.fixture
def repo(localhub_factory: Callable[..., RunningHub]) -> RunningHub:
    running = localhub_factory(files={"models.yaml": "models: {churn: 6}\n",
                                      ".github/workflows/modelbot.yml": WORKFLOW})
    running.hub.add_user("alice", role="write")
    return running


def _pull(hub: RunningHub) -> int:
    alice = hub.hub.as_user("alice")
    alice.push("promote", {"models.yaml": "models: {churn: 7}\n"}, "promote churn 7")
    return alice.open_pull("promote", "main", "Promote churn 7")


def test_a_pr_comment_runs_the_bot_on_the_default_branch_with_githubs_environment(repo: RunningHub,
                                                                               tmp_path: Path) -> None:
    number = _pull(repo)
    runner = ActionsRunner(repo.server, tmp_path / "runs")
    repo.hub.as_user("alice").comment(number, "looks good")  # no command: the bot has nothing to do but say so
    runs = runner.run_pending()
    assert [(r.job, r.conclusion) for r in runs] == [("bot", "success"), ("after", "success")], runs[0].log()
    bot = runs[0]
    main = repo.hub.git.resolve_commit("refs/heads/main")
    facts = bot.steps[1].log
    assert f"sha={main} ref=refs/heads/main event=issue_comment ci=true stage=staging" in facts
    assert "churn: 6" in facts  # issue_comment runs on the default branch, not the PR head
    assert '"handled": true' in bot.steps[2].log
    assert bot.outputs == {"handled": "true"}  # written by `modelbot action` to GITHUB_OUTPUT
    replies = [c for c in repo.hub.state.comments.values() if c.user == "github-actions[bot]"]
    assert [c.body.splitlines()[-1] for c in replies] == ["seen"]
    assert runner.queue == [] and "bot said success" in runs[1].steps[0].log
    assert runner.run_pending() == []  # the bot's own comment started nothing


def test_a_pull_request_runs_on_its_merge_commit_and_checks_it_out(repo: RunningHub, tmp_path: Path) -> None:
    runner = ActionsRunner(repo.server, tmp_path / "runs")
    number = _pull(repo)
    runs = [r for r in runner.run_pending() if r.job == "bot"]
    assert len(runs) == 1 and runs[0].event == "pull_request" and runs[0].action == "opened"
    merge = repo.hub.git.resolve_commit(f"refs/pull/{number}/merge")
    assert runs[0].sha == merge and runs[0].ref == f"refs/pull/{number}/merge"
    assert repo.hub.git.commit(merge).parents == (repo.hub.git.resolve_commit("refs/heads/main"),  # type: ignore[arg-type]
                                                  repo.hub.git.resolve_commit("refs/heads/promote"))
    assert "churn: 7" in runs[0].steps[1].log  # the checkout holds the PR's change
    assert "skipped" not in [s.conclusion for s in runs[0].steps[:3]]


def test_a_comment_on_a_plain_issue_skips_the_job(repo: RunningHub, tmp_path: Path) -> None:
    runner = ActionsRunner(repo.server, tmp_path / "runs")
    number = repo.hub.as_user("alice").open_issue("question")
    repo.hub.as_user("alice").comment(number, "/promote churn 7 to staging")
    runs = runner.run_pending()
    assert [(r.job, r.conclusion) for r in runs] == [("bot", "skipped"), ("after", "skipped")]


def test_an_unknown_uses_fails_loudly(localhub_factory: Callable[..., RunningHub], tmp_path: Path) -> None:
    workflow = "on: [push]\njobs:\n  j:\n    steps:\n      - uses: actions/cache@v4\n      - run: echo never\n"
    hub = localhub_factory(files={".github/workflows/w.yml": workflow})
    runner = ActionsRunner(hub.server, tmp_path / "runs")
    hub.hub.as_user("bob").push("main", {"x.txt": "x\n"}, "x")
    (run,) = runner.run_pending()
    assert run.conclusion == "failure"
    assert "uses: actions/cache@v4 is not supported by localhub" in run.steps[0].log
    assert run.steps[1].conclusion == "skipped"


@pytest.mark.parametrize(("triggers", "event", "action", "branch", "runs"), [
    ({"pull_request": {}}, "pull_request", "opened", "main", True),
    ({"pull_request": {}}, "pull_request", "closed", "main", False),  # default types exclude closed
    ({"pull_request": {"types": ["closed"]}}, "pull_request", "closed", "main", True),
    ({"pull_request": {"branches": ["release/*"]}}, "pull_request", "opened", "main", False),
    ({"push": {"branches-ignore": ["modelbot/**"]}}, "push", None, "modelbot/promote/churn/staging", False),
    ({"issue_comment": {}}, "issue_comment", "edited", "main", True),
    ({"workflow_dispatch": {}}, "push", None, "main", False),
])
def test_triggers_match_as_github_documents(triggers: dict[str, object], event: str, action: str | None,
                                           branch: str, runs: bool) -> None:
    import yaml

    workflow = load("w.yml", yaml.safe_dump({"on": triggers, "jobs": {"j": {"steps": []}}}))
    assert triggered(workflow, event, action, branch) is runs


def test_jobs_run_in_needs_order() -> None:
    assert job_order({"c": {"needs": ["a", "b"]}, "b": {"needs": "a"}, "a": {}}) == ["a", "b", "c"]


CONTEXT = {"github": {"event_name": "issue_comment",
                      "event": {"comment": {"body": "/promote churn 7"}, "issue": {"number": 3}}},
           "env": {"STAGE": "staging"}, "job": {"status": "success"}, "steps": {}}


@pytest.mark.parametrize(("expression", "value"), [
    ("github.event_name == 'ISSUE_COMMENT'", True),  # string comparison ignores case
    ("startsWith(github.event.comment.body, '/promote')", True),
    ("contains(github.event.comment.body, 'churn') && github.event.issue.number", 3),
    ("github.event.issue.pull_request || 'plain issue'", "plain issue"),
    ("!github.event.issue.pull_request", True),
    ("format('{0}-{1}', env.STAGE, github.event.issue.number)", "staging-3"),
    ("github.event.missing.deeper == null", True),
    ("fromJSON('[1, 2]')[1] == 2", True),
    ("github.EVENT.Issue.number", 3),  # property names ignore case
])
def test_expressions_evaluate_as_github_documents(expression: str, value: object) -> None:
    assert evaluate(expression, CONTEXT) == value


def test_conditions_carry_the_implicit_success_check_and_unknowns_fail_loudly() -> None:
    failed = {**CONTEXT, "job": {"status": "failure"}}
    assert condition("github.event.issue.number", CONTEXT) and not condition("github.event.issue.number", failed)
    assert condition("${{ always() }}", failed)
    assert substitute("n=${{ github.event.issue.number }}", CONTEXT) == "n=3"
    with pytest.raises(ExpressionError, match="unknown context 'matrix'"):
        evaluate("matrix.python", CONTEXT)
    with pytest.raises(ExpressionError, match="hashFiles"):
        evaluate("hashFiles('x')", CONTEXT)


SCHEDULED = """\
name: nightly
on:
  schedule:
    - cron: "*/15 * * * *"
permissions: {}
jobs:
  tick:
    runs-on: ubuntu-latest
    steps:
      - run: |
          echo "event=$GITHUB_EVENT_NAME ref=$GITHUB_REF"
          python -c "import json, os; e = json.load(open(os.environ['GITHUB_EVENT_PATH']));
          print(e['schedule'], e['workflow'], e['repository']['full_name'])"
"""


def test_a_schedule_fires_the_workflow_on_the_default_branch_with_its_cron_line(
        localhub_factory: Callable[..., RunningHub], tmp_path: Path) -> None:
    from localhub.errors import LocalhubError

    hub = localhub_factory(files={"models.yaml": "models: {}\n", ".github/workflows/nightly.yml": SCHEDULED,
                                  ".github/workflows/modelbot.yml": WORKFLOW})
    runner = ActionsRunner(hub.server, tmp_path / "runs")
    [run] = runner.run_schedule(".github/workflows/nightly.yml")
    assert (run.workflow, run.event, run.conclusion) == (".github/workflows/nightly.yml", "schedule", "success")
    log = run.steps[0].log
    assert "event=schedule ref=refs/heads/main" in log
    assert "*/15 * * * * .github/workflows/nightly.yml acme/models" in log
    assert not hub.hub.deliveries  # a schedule is no webhook: nothing was delivered
    with pytest.raises(LocalhubError, match="has no `on: schedule`"):
        runner.run_schedule(".github/workflows/modelbot.yml")
