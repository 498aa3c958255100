"""This project's own workflows (.github/workflows/modelbot-*.yml) and composite action (action.yml), run by
localhub's Actions runner for the events they answer, on a repository seeded with the project's example
content (no bot/ in it: the runner's prepared Python already has modelbot installed).

Each run must check out the right revision, set up Python from the runner, skip the installation of a bot
that is already installed, and call `modelbot action` with GitHub's environment: the event's name and
payload, the workflow token as GITHUB_TOKEN in that step only, MLFLOW_TRACKING_URI from the repository's
secrets. Untrusted text (comment bodies, titles, branch names) reaches the bot only through the event
payload, never a `run:` line; a job whose `if:` is false runs nothing."""

from __future__ import annotations

import json
import re
import shutil
from collections.abc import Callable
from pathlib import Path

import pytest
import yaml

from localhub.actions.job import StepRun
from localhub.actions.pyenv import prepare
from localhub.actions.runner import ActionsRunner, JobRun
from localhub.hub import ACTIONS_BOT
from localhub.rest import permissions
from tests.support.gitrepo import PROJECT, GitRepo
from tests.support.localhub import RunningHub

SEEDED = ("models.yaml", "policies", "data", ".github", "action.yml", "pyproject.toml")
TRACKING = "sqlite:////srv/mlflow/registry.db"
UNGUARDED = 'run: python -m pip install --disable-pip-version-check --quiet "$ACTION_PATH"'
# The install step proposed for action.yml: skip pip when this very version of modelbot is installed.
GUARDED = """run: |
  version=$(python -c 'import sys, tomllib; print(tomllib.load(open(sys.argv[1], "rb"))["project"]["version"])' \\
    "$ACTION_PATH/pyproject.toml")
  if [ "$(modelbot --version 2>/dev/null)" = "modelbot $version" ]; then
    echo "modelbot $version is already installed"
  else
    python -m pip install --disable-pip-version-check --quiet "$ACTION_PATH"
  fi"""
INJECTION = "$(touch${IFS}pwned)`touch${IFS}pwned`"
PEOPLE = {"dana-ds": "write", "lena-ml": "write", "rita-risk": "write", "pat-platform": "admin",
          "wes-writer": "write"}


# What each job of the project's workflows needs, and nothing more (GitHub gives a job's token exactly these).
JOB_PERMISSIONS = {
    ("modelbot-comment.yml", "command"): {"contents": "write", "actions": "write", "pull-requests": "write",
                                          "issues": "write", "checks": "write"},
    ("modelbot-deploy.yml", "smoke"): {"contents": "read"},
    ("modelbot-deploy.yml", "deploy"): {"contents": "write", "deployments": "write", "pull-requests": "write",
                                        "issues": "write", "checks": "write", "actions": "write"},
    ("modelbot-maintenance.yml", "maintenance"): {"contents": "write", "pull-requests": "write", "issues": "write",
                                                  "checks": "write", "actions": "write"},
    ("modelbot-pull-request.yml", "evaluate"): {"contents": "read", "pull-requests": "read"},
    ("modelbot-pull-request.yml", "publish"): {"contents": "read", "pull-requests": "write", "checks": "write"},
    ("modelbot-review.yml", "approvals"): {"contents": "write", "actions": "write", "pull-requests": "write",
                                           "checks": "write"},
}


def with_install_guard(action_yml: str) -> str:
    """action.yml with the proposed install step (unchanged once action.yml carries it)."""
    for line in action_yml.splitlines():
        if line.strip() == UNGUARDED:
            indent = line[: len(line) - len(line.lstrip())]
            guarded = "\n".join(indent + row if row else row for row in GUARDED.splitlines())
            return action_yml.replace(line, guarded)
    return action_yml


@pytest.fixture(scope="module")
def python(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """The runner's prepared Python: a layer over this environment, where modelbot is installed."""
    return prepare(tmp_path_factory.mktemp("pyenv") / "venv", "modelbot")


def seed(dest: Path, version: str | None = None) -> Path:
    dest.mkdir(parents=True)
    for name in SEEDED:
        source = PROJECT / name
        (shutil.copytree if source.is_dir() else shutil.copy2)(source, dest / name)
    action = dest / "action.yml"
    action.write_text(with_install_guard(action.read_text(encoding="utf-8")), encoding="utf-8")
    if version is not None:
        project = dest / "pyproject.toml"
        project.write_text(re.sub(r'(?m)^version = ".*"$', f'version = "{version}"', project.read_text()))
    repo = GitRepo(dest)
    repo.git("init", "-q", "-b", "main")
    repo.commit("The example registry, the bot's workflows and action", when="2026-11-02T09:00:00Z")
    return dest


@pytest.fixture
def project(localhub_factory: Callable[..., RunningHub], tmp_path: Path) -> RunningHub:
    running = localhub_factory(seed=seed(tmp_path / "seed"))
    for login, role in PEOPLE.items():
        running.hub.add_user(login, role=role)
    running.hub.add_team("acme", "ml-leads", ["lena-ml"])
    running.hub.add_team("acme", "diagnostics", ["dana-ds"])
    running.hub.add_user("renovate[bot]", role="write", user_type="Bot")
    running.hub.secrets["MLFLOW_TRACKING_URI"] = TRACKING
    return running


def install_app(project: RunningHub, slug: str = "modelbot") -> None:
    """The bot's GitHub App, installed and configured as the README says (vars.MODELBOT_APP_ID and
    secrets.MODELBOT_APP_PRIVATE_KEY), with the permissions its manifest asks for."""
    from bot.github.identity import APP_PERMISSIONS

    app = project.hub.add_app(slug, APP_PERMISSIONS)
    project.hub.variables["MODELBOT_APP_ID"] = str(app.id)
    project.hub.secrets["MODELBOT_APP_PRIVATE_KEY"] = app.private_key_pem.decode()


@pytest.fixture
def runner(project: RunningHub, tmp_path: Path, python: Path) -> ActionsRunner:
    return ActionsRunner(project.server, tmp_path / "runs", python=python)


def step(run: JobRun, name: str) -> StepRun:
    found = [s for s in run.all_steps() if s.name == name]
    assert len(found) == 1, run.log()
    return found[0]


def assert_ran_the_bot(project: RunningHub, run: JobRun, python: Path, event: str) -> StepRun:
    """The job succeeded through the action's steps, and `modelbot action` got GitHub's environment."""
    assert run.conclusion == "success", run.log()
    names = [(s.name, s.conclusion) for s in run.all_steps()]
    first = next(i for i, (name, _) in enumerate(names) if name == "modelbot")
    assert all(c == "success" for _, c in names[:first]) and names[first] == ("modelbot", "success"), run.log()
    assert names[first + 1:first + 4] == [("Set up Python", "success"), ("Install modelbot", "success"),
                                          ("Handle the event", "success")], run.log()
    setup = step(run, "Set up Python")
    assert setup.log == f"setup-python: using the runner's Python 3.11 at {python} (tool cache)"
    assert step(run, "Install modelbot").log.strip() == "modelbot 0.1.0 is already installed"
    bot = step(run, "Handle the event")
    assert bot.script == "exec modelbot action"  # no shell left holding the token (test_deploy_job_attacks)
    env = bot.env
    assert env["PATH"].split(":")[0] == str(python.parent) and env["pythonLocation"] == str(python.parent.parent)
    assert env["GITHUB_EVENT_NAME"] == event and env["GITHUB_ACTIONS"] == "true"
    (delivered,) = [d for d in project.hub.deliveries if d.id == run.delivery and d.event == event]
    assert json.loads(Path(env["GITHUB_EVENT_PATH"]).read_text()) == delivered.payload
    assert project.hub.state.tokens[env["GITHUB_TOKEN"]] == ACTIONS_BOT
    grant = project.hub.state.grants[env["GITHUB_TOKEN"]]  # the job's own token, with its `permissions:`
    assert grant.permissions == JOB_PERMISSIONS[(Path(run.workflow).name, run.job)]
    refused = [str(r) for r in project.log.by_job(grant.identity, api_only=False) if r.status == 403]
    assert refused == [], run.log()
    assert env["GITHUB_API_URL"] == project.url and env["GITHUB_REPOSITORY"] == "acme/models"
    holders = [s.name for s in run.all_steps() if "GITHUB_TOKEN" in s.env]
    assert holders == ["Handle the event"]  # the token goes only where the action puts it
    workspace = Path(env["GITHUB_WORKSPACE"])
    assert "extraheader" not in (workspace / ".git" / "config").read_text()  # persist-credentials: false
    assert Path(env["GITHUB_ACTION_PATH"]) == workspace.resolve()
    return bot


def no_untrusted_text_in_scripts(runs: list[JobRun], *texts: str) -> None:
    scripts = [s.script for run in runs for s in run.all_steps() if s.script is not None]
    assert scripts and not [s for s in scripts for t in texts if t in s]


def test_the_project_runs_no_expression_inside_a_run_line() -> None:
    """zizmor's template-injection rule, held for every `run:` the runner may execute."""
    files = [*sorted((PROJECT / ".github" / "workflows").glob("modelbot-*.yml")), PROJECT / "action.yml"]
    runs = []
    for file in files:
        data = yaml.safe_load(file.read_text())
        steps = [s for job in (data.get("jobs") or {}).values() for s in job.get("steps", [])]
        steps += (data.get("runs") or {}).get("steps", [])
        runs += [s["run"] for s in steps if "run" in s]
    assert len(files) == 6 and runs and not [r for r in runs if "${{" in r]


def test_every_project_job_declares_its_own_least_permissions() -> None:
    """`permissions: {}` at the top (a job added later starts with nothing), then each job's own scopes: no
    commit statuses anywhere (the bot's results are check runs), no write in the job that loads models."""
    declared = {}
    for file in sorted((PROJECT / ".github" / "workflows").glob("modelbot-*.yml")):
        data = yaml.safe_load(file.read_text())
        assert data["permissions"] == {}, file.name
        for name, job in data["jobs"].items():
            declared[(file.name, name)] = permissions.parse(job["permissions"])
    assert declared == JOB_PERMISSIONS


def test_a_slash_command_runs_the_command_workflow_with_the_action(project: RunningHub, runner: ActionsRunner,
                                                                   python: Path) -> None:
    number = project.hub.as_user("dana-ds").open_issue(f"Status please {INJECTION}")
    project.hub.as_user("wes-writer").comment(number, f"/status tumor-malignancy {INJECTION}")
    (run,) = runner.run_pending()
    assert (run.workflow, run.job, run.event) == (".github/workflows/modelbot-comment.yml", "command", "issue_comment")
    bot = assert_ran_the_bot(project, run, python, "issue_comment")
    assert bot.env["MLFLOW_TRACKING_URI"] == TRACKING
    assert run.sha == project.hub.git.resolve_commit("refs/heads/main")
    assert bot.outputs["result"] in ("done", "refused")
    assert run.steps[1].outputs == {"result": bot.outputs["result"]}  # the action's `outputs:` mapping
    replies = [c for c in project.hub.state.comments.values() if c.user == ACTIONS_BOT]
    assert len(replies) == 1 and replies[0].issue_number == number
    no_untrusted_text_in_scripts([run], INJECTION, "touch")
    assert not list(Path(bot.env["GITHUB_WORKSPACE"]).parent.rglob("pwned"))


def test_with_an_app_configured_the_workflows_act_as_the_app(project: RunningHub, runner: ActionsRunner,
                                                              python: Path) -> None:
    """vars.MODELBOT_APP_ID and secrets.MODELBOT_APP_PRIVATE_KEY set, as the README says: the bot mints its own
    installation token and answers as modelbot[bot]; its own reply (an app's event starts runs, unlike the
    workflow token's) starts the command workflow again, whose job leaves a bot's comment alone."""
    install_app(project)
    app = project.hub.app_of("modelbot[bot]")
    assert app is not None
    number = project.hub.as_user("dana-ds").open_issue("Status please")
    project.hub.as_user("wes-writer").comment(number, "/status tumor-malignancy")
    runs = runner.run_pending()
    assert [(r.job, r.conclusion) for r in runs] == [("command", "success"), ("command", "skipped")]
    replies = [c for c in project.hub.state.comments.values() if c.user != "wes-writer"]
    assert [c.user for c in replies] == ["modelbot[bot]"] and "tumor-malignancy" in replies[0].body
    minted = [r for r in project.log.entries if r.path.endswith("/access_tokens")]
    assert len(minted) == 1 and minted[0].status == 201
    assert runs[1].steps == []  # the bot's own reply: the job's `if:` takes no bot's comment
    assert app.private_key_pem.decode() not in runs[0].log()  # the key is masked like every secret


@pytest.mark.parametrize(("author", "body"), [("wes-writer", "thanks, looks right"),
                                              ("renovate[bot]", "/status tumor-malignancy")])
def test_a_comment_the_command_job_does_not_take_runs_nothing(project: RunningHub, runner: ActionsRunner,
                                                             author: str, body: str) -> None:
    number = project.hub.as_user("dana-ds").open_issue("question")
    mark = project.log.mark()
    project.hub.as_user(author).comment(number, body)
    (run,) = runner.run_pending()
    assert (run.job, run.conclusion, run.steps) == ("command", "skipped", [])
    assert [r for r in project.log.since(mark) if r.user == ACTIONS_BOT] == []


def test_a_pull_request_runs_the_validation_workflow_on_the_base_revision(project: RunningHub,
                                                                         runner: ActionsRunner,
                                                                         python: Path) -> None:
    dana = project.hub.as_user("dana-ds")
    branch = f"promote{INJECTION}"
    models = (PROJECT / "models.yaml").read_text().replace("      production: null", "      production: 1")
    dana.push(branch, {"models.yaml": models, "README.md": "also this\n"}, "Promote diabetes 1")
    number = dana.open_pull(branch, "main", f"Promote diabetes {INJECTION}", f"body {INJECTION}")
    mark = project.log.mark()
    (evaluate, publish) = runner.run_pending()
    workflow = ".github/workflows/modelbot-pull-request.yml"
    assert [(r.workflow, r.job, r.event, r.action) for r in (evaluate, publish)] == [
        (workflow, job, "pull_request", "opened") for job in ("evaluate", "publish")]
    pull = project.hub.state.issues[number].pull
    assert pull is not None and evaluate.sha == project.hub.git.resolve_commit(f"refs/pull/{number}/merge")
    # The evaluation job has the registry (it loads models) and hands its findings over; the one that posts
    # has no registry, so it cannot load a model.
    judge = assert_ran_the_bot(project, evaluate, python, "pull_request")
    assert judge.env["MLFLOW_TRACKING_URI"] == TRACKING and judge.outputs["result"] == "evaluated"
    bot = assert_ran_the_bot(project, publish, python, "pull_request")
    assert bot.env["MLFLOW_TRACKING_URI"] == "" and bot.outputs["result"] == "failure"
    # Each job's token holds exactly its `permissions:`; the one that loads models never writes, not even
    # an attempt (a refused write would be a 403 in the log), and its checkout reads with its own token.
    grants = project.hub.state.grants
    judged, posted = grants[judge.env["GITHUB_TOKEN"]], grants[bot.env["GITHUB_TOKEN"]]
    assert judged.permissions == {"contents": "read", "pull-requests": "read"}
    assert posted.permissions == {"contents": "read", "pull-requests": "write", "checks": "write"}
    evaluated = project.log.by_job(judged.identity, mark, api_only=False)
    assert evaluated and not [r for r in evaluated if (r.api and r.is_write) or r.status >= 400 or
                              "receive-pack" in r.path + r.query], [str(r) for r in evaluated]  # git fetches POST
    published = project.log.by_job(posted.identity, mark)
    assert {r.status for r in published} <= {200, 201} and any(r.is_write for r in published)
    workspace = Path(bot.env["GITHUB_WORKSPACE"])
    assert (workspace / "models.yaml").read_text() == (PROJECT / "models.yaml").read_text()  # base, not head
    (check,) = project.hub.state.check_runs.values()  # refused: the PR changes more than the registry
    assert (check.name, check.conclusion, check.head_sha) == ("modelbot/validation", "failure", pull.head_sha)
    assert "changes README.md" in check.output["summary"]
    no_untrusted_text_in_scripts([evaluate, publish], INJECTION, "touch")
    assert not list(workspace.parent.parent.rglob("pwned"))


def test_a_review_runs_the_approvals_workflow(project: RunningHub, runner: ActionsRunner, python: Path) -> None:
    dana = project.hub.as_user("dana-ds")
    models = (PROJECT / "models.yaml").read_text().replace("      production: null", "      production: 1")
    dana.push("promote", {"models.yaml": models}, "Promote diabetes-progression 1 to production")
    number = dana.open_pull("promote", "main", "Promote diabetes-progression 1 to production")
    runner.queue.clear()  # the validation run is another test's subject
    project.hub.as_user("lena-ml").review(number, "APPROVE")
    (run,) = runner.run_pending()
    assert (run.workflow, run.job, run.event, run.action) == (
        ".github/workflows/modelbot-review.yml", "approvals", "pull_request_review", "submitted")
    bot = assert_ran_the_bot(project, run, python, "pull_request_review")
    assert bot.env["MLFLOW_TRACKING_URI"] == ""  # this workflow passes no tracking URI: the input's default
    head = project.hub.state.issues[number].pull.head_sha  # type: ignore[union-attr]
    assert project.hub.state.statuses == [], run.log()  # the approvals are a check run, not a status
    runs = project.request("GET", f"/repos/acme/models/commits/{head}/check-runs", "pat-platform")[2]["check_runs"]
    assert [(r["name"], r["app"]["slug"]) for r in runs] == [("modelbot/approvals", "github-actions")], run.log()


def _promotion_under_review(project: RunningHub, runner: ActionsRunner) -> tuple[int, Callable[[], str]]:
    """dana's pull request promoting diabetes-progression 1 to production (its validation run left out: another
    test's subject), and a reader of its modelbot/approvals check run's conclusion and title."""
    dana = project.hub.as_user("dana-ds")
    models = (PROJECT / "models.yaml").read_text().replace("      production: null", "      production: 1")
    dana.push("promote", {"models.yaml": models}, "Promote diabetes-progression 1 to production")
    number = dana.open_pull("promote", "main", "Promote diabetes-progression 1 to production")
    head = project.hub.state.issues[number].pull.head_sha  # type: ignore[union-attr]
    runner.queue.clear()

    def approvals() -> str:
        runs = project.request("GET", f"/repos/acme/models/commits/{head}/check-runs", "pat-platform")[2]
        found = [f"{r['conclusion']}: {r['output']['title']}" for r in runs["check_runs"]
                 if r["name"] == "modelbot/approvals"]
        return found[0] if found else "missing"

    return number, approvals


def test_under_the_workflow_token_roles_of_users_work(project: RunningHub, runner: ActionsRunner) -> None:
    """The reduced mode with a policy whose roles name users only: the reviews are counted as under the App."""
    policy = (PROJECT / "policies" / "default.yaml").read_text()
    users_only = "\n".join(line for line in policy.splitlines() if not line.strip().startswith("teams:")) + "\n"
    project.hub.as_user("pat-platform").push("main", {"policies/default.yaml": users_only}, "Roles by user")
    runner.queue.clear()
    number, approvals = _promotion_under_review(project, runner)
    for reviewer in ("rita-risk", "lena-ml"):
        project.hub.as_user(reviewer).review(number, "APPROVE")
        (run,) = runner.run_pending()
        assert run.conclusion == "success", run.log()
    # (platform: the extra an unvalidated head needs; this test leaves the validation out)
    assert approvals() == "None: ml-lead 1/1, risk 1/1, platform 0/1"


def test_under_the_workflow_token_a_team_role_is_refused_naming_the_app(project: RunningHub,
                                                                       runner: ActionsRunner) -> None:
    """A role given to a team cannot be checked with a workflow's token (GitHub hides teams from it): the run
    fails saying how to set the App up, and counts nothing wrongly. Under the App the same reviews count, a
    member of the team only included."""
    project.hub.add_team("acme", "ml-leads", ["lena-ml", "tess-lead"])
    project.hub.add_user("tess-lead", role="write")
    number, approvals = _promotion_under_review(project, runner)
    project.hub.as_user("rita-risk").review(number, "APPROVE")
    (run,) = runner.run_pending()
    assert run.conclusion == "failure"
    assert "cannot read team membership" in run.log() and "GitHub App" in run.log(), run.log()
    assert approvals() == "missing"
    install_app(project)
    project.hub.as_user("tess-lead").review(number, "APPROVE")  # ml-lead through the team only
    runs = [r for r in runner.run_pending() if r.conclusion != "skipped"]
    assert [r.conclusion for r in runs] == ["success"], [r.log() for r in runs]
    assert approvals() == "None: ml-lead 1/1, risk 1/1, platform 0/1"


def test_a_pull_request_from_a_fork_starts_no_job_that_could_post_or_load(project: RunningHub,
                                                                          runner: ActionsRunner) -> None:
    """GitHub would give these runs a read-only token and no secrets: the validation's jobs and the review's are
    skipped (the schedule validates a fork's pull request and counts its reviews), and nothing is written."""
    mallory = project.hub.as_user("mallory")
    models = (PROJECT / "models.yaml").read_text().replace("      production: null", "      production: 1")
    mallory.push_to_fork("promote", {"models.yaml": models}, "Promote diabetes-progression 1 to production")
    number = mallory.open_pull("mallory:promote", "main", "Promote diabetes-progression 1 to production")
    project.hub.as_user("lena-ml").review(number, "APPROVE")
    mark = project.log.mark()
    runs = runner.run_pending()
    assert sorted((r.workflow.rsplit("/", 1)[1], r.job, r.conclusion) for r in runs) == [
        ("modelbot-pull-request.yml", "evaluate", "skipped"), ("modelbot-pull-request.yml", "publish", "skipped"),
        ("modelbot-review.yml", "approvals", "skipped")]
    assert project.log.since(mark) == [] and project.hub.state.check_runs == {}


def test_a_push_of_models_yaml_to_main_runs_the_deploy_workflow(project: RunningHub, runner: ActionsRunner,
                                                               python: Path) -> None:
    pat = project.hub.as_user("pat-platform")
    pat.push("main", {"README.md": "# models\n"}, "docs only")
    assert runner.run_pending() == []  # paths: [models.yaml]
    text = (PROJECT / "models.yaml").read_text().replace("Ridge regression.", "Ridge regression (alpha 1).")
    sha = pat.push("main", {"models.yaml": text}, "Describe diabetes v1 better")
    smoke, run = runner.run_pending()
    assert [(r.workflow, r.job, r.event, r.sha) for r in (smoke, run)] == [
        (".github/workflows/modelbot-deploy.yml", "smoke", "push", sha),
        (".github/workflows/modelbot-deploy.yml", "deploy", "push", sha),
    ]
    # the job that could run a model holds a token that cannot write; the one that writes is handed its answers
    tried = assert_ran_the_bot(project, smoke, python, "push")
    assert tried.outputs["result"] == "evaluated" and tried.env["MODELBOT_JOB"] == "smoke"
    bot = assert_ran_the_bot(project, run, python, "push")
    assert bot.env["MODELBOT_JOB"] == "deploy"
    handed = [Path(b.env["MODELBOT_EVIDENCE"]) / "smoke-answers.json" for b in (tried, bot)]
    assert handed[0].read_bytes() == handed[1].read_bytes()  # through the artifact, as made
    workspace = Path(bot.env["GITHUB_WORKSPACE"])
    assert GitRepo(workspace).git("rev-list", "--count", "HEAD") == "3"  # fetch-depth: 0, the whole history
    assert bot.outputs["result"] == "success" and bot.env["MLFLOW_TRACKING_URI"] == TRACKING


def test_a_dispatch_runs_the_maintenance_workflow_with_its_inputs(project: RunningHub, runner: ActionsRunner,
                                                                 python: Path) -> None:
    inputs = {"task": "propose", "model": "no-such-model", "version": "1", "stage": "staging"}
    status, _, _ = project.request("POST", "/repos/acme/models/actions/workflows/modelbot-maintenance.yml/dispatches",
                                   "pat-platform", {"ref": "main", "inputs": inputs})
    assert status == 204
    (run,) = runner.run_pending()
    assert (run.workflow, run.job, run.event) == (
        ".github/workflows/modelbot-maintenance.yml", "maintenance", "workflow_dispatch")
    bot = assert_ran_the_bot(project, run, python, "workflow_dispatch")
    assert bot.outputs["result"] == "refused"
    assert "no-such-model" in step(run, "Handle the event").log


def test_a_dispatched_proposal_opens_its_pull_request_with_the_maintenance_jobs_permissions(
        project: RunningHub, runner: ActionsRunner, python: Path) -> None:
    """propose opens the PR (contents, pull-requests), records who asked in its check run (checks) and
    dispatches its validation (actions): nothing it does needs `issues: write` or `statuses: write`."""
    inputs = {"task": "propose", "model": "diabetes-progression", "version": "1", "stage": "production"}
    status, _, _ = project.request("POST", "/repos/acme/models/actions/workflows/modelbot-maintenance.yml/dispatches",
                                   "pat-platform", {"ref": "main", "inputs": inputs})
    assert status == 204
    run = runner.run_event(runner.queue.pop(0))[0]
    bot = assert_ran_the_bot(project, run, python, "workflow_dispatch")  # no request of its token refused
    assert bot.outputs["result"] not in ("refused", "failure"), run.log()
    (pull,) = [i for i in project.hub.state.issues.values() if i.pull is not None]
    assert pull.user == ACTIONS_BOT
    assert [d.payload["workflow"] for d in project.hub.deliveries if d.event == "workflow_dispatch"][1:] == [
        ".github/workflows/modelbot-pull-request.yml"], run.log()


def test_under_an_app_a_proposal_is_validated_by_the_run_its_pull_request_starts_not_by_a_dispatch(
        project: RunningHub, runner: ActionsRunner, python: Path) -> None:
    """An app's events start workflow runs (the workflow token's do not): the pull request the bot opens as the
    app starts the pull request workflow, so the bot records who asked and dispatches nothing, and that run is
    the one validation."""
    install_app(project)
    inputs = {"task": "propose", "model": "diabetes-progression", "version": "1", "stage": "production"}
    status, _, _ = project.request("POST", "/repos/acme/models/actions/workflows/modelbot-maintenance.yml/dispatches",
                                   "pat-platform", {"ref": "main", "inputs": inputs})
    assert status == 204
    runs = runner.run_pending()
    (pull,) = [i for i in project.hub.state.issues.values() if i.pull is not None]
    assert pull.user == "modelbot[bot]"
    assert [d.payload["workflow"] for d in project.hub.deliveries if d.event == "workflow_dispatch"] == [
        ".github/workflows/modelbot-maintenance.yml"]  # no validation dispatched
    pull_runs = [r for r in runs if r.workflow.endswith("modelbot-pull-request.yml")]
    validations = [(r.workflow, r.job, r.event) for r in pull_runs if r.conclusion != "skipped"]
    assert validations == [(".github/workflows/modelbot-pull-request.yml", "evaluate", "pull_request"),
                           (".github/workflows/modelbot-pull-request.yml", "publish", "pull_request")]
    # the bot's own edit of the body (the model card section) is an `edited` event the app's token starts runs
    # for: the workflow skips it (only a new base is judged again)
    assert all(r.action == "edited" for r in pull_runs if r.conclusion == "skipped")
    checks = [r for r in project.hub.state.check_runs.values() if r.name == "modelbot/validation"]
    assert len(checks) == 1 and checks[0].creator == "modelbot[bot]" and checks[0].status == "completed"
    assert "pat-platform" in checks[0].output.get("summary", "")  # who asked stays its author


def test_the_install_step_installs_when_another_version_is_wanted(localhub_factory: Callable[..., RunningHub],
                                                                 tmp_path: Path,
                                                                 monkeypatch: pytest.MonkeyPatch) -> None:
    """The guard skips pip only for the very version the action ships: here pip runs (and, offline and
    without a package index, fails), and the job stops before handling the event."""
    monkeypatch.setenv("PIP_NO_INDEX", "1")
    monkeypatch.setenv("PIP_FIND_LINKS", str(tmp_path))
    hub = localhub_factory(seed=seed(tmp_path / "seed", version="9.9.9"))
    own = prepare(tmp_path / "layer", "modelbot")  # its own layer: a failed install must not touch the shared one
    runner = ActionsRunner(hub.server, tmp_path / "runs", python=own)
    hub.hub.add_user("wes-writer", role="write")
    number = hub.hub.as_user("wes-writer").open_issue("q")
    hub.hub.as_user("wes-writer").comment(number, "/help")
    (run,) = runner.run_pending()
    install = step(run, "Install modelbot")
    assert install.conclusion == "failure" and "already installed" not in install.log
    assert step(run, "Handle the event").conclusion == "skipped" and run.conclusion == "failure"
