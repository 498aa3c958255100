"""Attacks on the fork and identity paths (issue 15), as an adversary would make them: a fork's author with no
role (mallory), a writer with no role (wes-writer), a reviewer. Pull requests from forks are validated and
their approvals counted by the maintenance sweep (`bot/flows/sweep.py`), in-process here as in the scheduled
job. No model is loaded: every change here is one the plan decides without evidence (a rollback to "not
served", a policy edit, a file outside the registry). The ones that got through when this file was written:
a writer's edit of the bot's approvals comment kept a withdrawn approval's green check standing, a flood of
fork pull requests starved the sweep of a member's pull request, and /cancel on a fork's pull request deleted
the repository's branch of the same name."""

from __future__ import annotations

from collections.abc import Callable
from datetime import UTC, datetime, timedelta

import pytest

from bot.flows.sweep import sweep
from bot.github.forge import PullRequest
from localhub.errors import ApiError
from tests.flows.conftest import bot_context, next_run

REPO = "/repos/acme/models"
DIABETES_STAGES = "      staging: 1\n      production: null\n"
DIABETES_SERVING = "      staging: 1\n      production: 1\n"

Edit = Callable[[str], str]


def main_text(hub, path: str = "models.yaml") -> str:
    git = hub.hub.git
    return git.git("show", f"{git.resolve_commit('refs/heads/main')}:{path}", ok=(0, 128))


def fork_pull(hub, ctx, edits: dict[str, Edit], who: str = "mallory", branch: str = "change",
              title: str = "A change") -> PullRequest:
    """`who` (no role) pushes `edits` (path -> function of the file's text on main) to a branch of their fork and
    opens a pull request from it into main."""
    files = {path: edit(main_text(hub, path)) for path, edit in edits.items()}
    attacker = hub.hub.as_user(who)
    attacker.push_to_fork(branch, files, title)
    number = attacker.open_pull(f"{who}:{branch}", "main", title)
    pull = ctx.forge.pull_request(number)
    assert pull.fork
    return pull


def serving_diabetes(hub, tmp_path):
    """diabetes-progression 1 serves production on main (an admin's merge): moving production back to nothing is
    a rollback, which the policy lets merge itself once on-call approves. A run whose checkout has that history."""
    hub.hub.as_user("pat-platform").push("main", {"models.yaml": main_text(hub).replace(
        DIABETES_STAGES, DIABETES_SERVING)}, "diabetes-progression 1 to production")
    return next_run(hub, tmp_path)


def rollback(text: str) -> str:
    return text.replace(DIABETES_SERVING, DIABETES_STAGES)


def checks(hub, sha: str) -> dict[str, str | None]:
    runs = hub.request("GET", f"{REPO}/commits/{sha}/check-runs", "pat-platform")[2]["check_runs"]
    return {r["name"]: r["conclusion"] for r in runs}


def merged(hub, number: int) -> bool:
    return bool(hub.hub.state.issues[number].pull.merged)


# --- 1. A fork's rollback merges itself only on the policy's approver -------------------------------------------


def test_a_fork_rollback_does_not_merge_itself_on_approvals_of_outsiders_bots_or_writers(hub, tmp_path):
    run = serving_diabetes(hub, tmp_path)
    pull = fork_pull(hub, run, {"models.yaml": rollback}, title="Roll diabetes-progression back")
    assert sweep(run).finished == (pull.number,)
    assert checks(hub, pull.head_sha)["modelbot/validation"] == "success"
    with pytest.raises(ApiError):  # GitHub itself refuses the author's approval of their own pull request
        hub.hub.as_user("mallory").review(pull.number, "APPROVE")
    hub.hub.add_user("oncall-bot[bot]", role="write", user_type="Bot")
    for login in ("mallory-alt", "wes-writer", "oncall-bot[bot]", "github-actions[bot]"):
        hub.hub.as_user(login).review(pull.number, "APPROVE")
    swept = sweep(next_run(hub, tmp_path))
    assert swept.recounted == (pull.number,) and not merged(hub, pull.number)
    assert checks(hub, pull.head_sha)["modelbot/approvals"] is None  # oncall 0/1, in progress
    hub.hub.as_user("omar-oncall").review(pull.number, "APPROVE")  # the rollback rules' approver
    sweep(next_run(hub, tmp_path))
    assert merged(hub, pull.number)


# --- 2. The head moves between the sweep's listing and its recount ----------------------------------------------


def test_an_approval_of_a_fork_head_that_moved_during_the_sweep_neither_merges_nor_counts(hub, tmp_path):
    """On-call approved the rollback mallory showed them; she pushes another head right after the sweep listed
    the pull requests: the recount judges the listed head, GitHub refuses the merge bound to it, and the new
    head is validated afresh, the approval of the old one stale."""
    run = serving_diabetes(hub, tmp_path)
    pull = fork_pull(hub, run, {"models.yaml": rollback}, title="Roll diabetes-progression back")
    sweep(run)
    hub.hub.as_user("omar-oncall").review(pull.number, "APPROVE")
    moved = rollback(main_text(hub)) + "# rolled back after the incident\n"
    run = next_run(hub, tmp_path)
    listed = run.forge.open_pulls

    def list_then_push(base: str, limit: int = 100) -> list[PullRequest]:
        found = listed(base, limit)
        hub.hub.as_user("mallory").push_to_fork("change", {"models.yaml": moved}, "one more thing")
        return found

    run.forge.open_pulls = list_then_push  # type: ignore[method-assign]
    assert sweep(run).recounted == (pull.number,)
    assert not merged(hub, pull.number)
    said = run.forge.find_comment(pull.number, f"<!-- modelbot:pull:{pull.number}:automerge -->")
    assert said is not None and "its head moved" in said.body
    head = hub.hub.state.issues[pull.number].pull.head_sha
    assert head != pull.head_sha
    swept = sweep(next_run(hub, tmp_path))
    assert swept.finished == (pull.number,) and not merged(hub, pull.number)
    assert checks(hub, head) == {"modelbot/validation": "success", "modelbot/approvals": None}


# --- 3. Authority files from a fork ------------------------------------------------------------------------------

EVIL_WORKFLOW = """\
name: helpful
on: [pull_request_target]
permissions: write-all
jobs:
  approve:
    runs-on: ubuntu-latest
    steps:
      - run: gh pr review --approve "$PR"
"""
ROLLBACK_APPROVALS = "rollback:\n  roles: [oncall, ml-lead]\n  approvals:\n    - {role: oncall, count: 1}\n"
NO_ROLLBACK_APPROVALS = "rollback:\n  roles: [oncall, ml-lead]\n  approvals: []\n"


def test_a_fork_rollback_carrying_a_workflow_or_its_own_policy_is_refused_or_held_for_the_admin(hub, tmp_path):
    run = serving_diabetes(hub, tmp_path)
    workflow = fork_pull(hub, run, {"models.yaml": rollback, ".github/workflows/helpful.yml": lambda _: EVIL_WORKFLOW},
                         branch="workflow")
    policy = fork_pull(hub, run, {"models.yaml": rollback, "policies/default.yaml": lambda t: t.replace(
        ROLLBACK_APPROVALS, NO_ROLLBACK_APPROVALS)},
        branch="policy")
    assert NO_ROLLBACK_APPROVALS in hub.hub.git.git("show", f"{policy.head_sha}:policies/default.yaml")
    assert sweep(run).finished == (workflow.number, policy.number)
    assert checks(hub, workflow.head_sha) == {"modelbot/validation": "failure"}  # refused: not a promotion
    assert checks(hub, policy.head_sha)["modelbot/approvals"] is None
    hub.hub.as_user("omar-oncall").review(policy.number, "APPROVE")  # the base's rollback rules hold...
    state = sweep(next_run(hub, tmp_path))
    assert state.recounted == (workflow.number, policy.number)
    assert not merged(hub, policy.number) and not merged(hub, workflow.number)  # ...and a policy edit never merges
    runs = hub.request("GET", f"{REPO}/commits/{policy.head_sha}/check-runs", "pat-platform")[2]["check_runs"]
    [approvals] = [r for r in runs if r["name"] == "modelbot/approvals"]
    assert approvals["conclusion"] is None and "platform 0/1" in approvals["output"]["title"]


# --- 4. A fork's branch named like the bot's --------------------------------------------------------------------


def test_cancel_on_a_fork_pull_request_named_like_a_promotion_deletes_no_branch_of_the_repository(hub, ctx):
    """mallory's fork branch carries the name of the bot's open promotion branch; a member who cancels her pull
    request must not delete the repository's branch (and with it close the real promotion)."""
    from bot.flows.commands import CommandComment, handle_comment

    branch = "modelbot/promote/tumor-malignancy/production"
    promote = lambda t: t.replace("      staging: 2\n      production: 1\n", "      staging: 2\n      production: 2\n")  # noqa: E731
    hub.hub.as_user("pat-platform").push(branch, {"models.yaml": promote(main_text(hub))}, "Promote", base="main")
    real = hub.hub.as_user("pat-platform").open_pull(branch, "main", "Promote tumor-malignancy 2 to production")
    spam = fork_pull(hub, ctx, {"models.yaml": promote}, branch=branch, title="Promote tumor-malignancy 2")
    posted = hub.hub.as_user("lena-ml").comment(spam.number, "/cancel")
    reply = handle_comment(ctx, CommandComment(posted.id, "/cancel", "lena-ml", False, spam.number, True))
    assert hub.hub.git.resolve_commit(f"refs/heads/{branch}") is not None, reply.text
    assert hub.hub.state.issues[real].state == "open"
    assert reply.outcome == "refused" and hub.hub.state.issues[spam.number].state == "open"


# --- 5. The bot's comment is presentation: an edit of it must not keep a check standing -------------------------


def what_the_bot_would_say(run, number: int) -> tuple[int, str]:
    """The id of the bot's approvals comment on #number, and the text the bot would write there now: anyone can
    compute it (the bot and its templates are open source, and the reviews public)."""
    from bot.flows import approvals
    from bot.flows.validate_pr import plan_pull
    from bot.github.markers import marker, with_marker
    from bot.texts import render

    pull = run.forge.pull_request(number)
    planned = plan_pull(run, pull, None)
    needed = approvals.rules(planned.plan, planned.head.registry, set(), planned.base.registry)
    state = approvals.state(run.forge, pull, needed, planned.policies, run.bot_login, ())
    mark = marker("pull", str(number), approvals.KIND)
    said = run.forge.find_comment(number, mark)
    assert said is not None
    return said.id, with_marker(render("approvals.md.j2", state=state, head_sha=pull.head_sha), mark)


def test_a_writers_edit_of_the_bots_approvals_comment_does_not_keep_a_withdrawn_approval_green(hub, tmp_path):
    """mallory's fork edits a policy (the admin's approval; no evidence). The admin approves, then requests
    changes; before the schedule counts again, wes (write access, no role) edits the bot's approvals comment to
    the very text the bot is about to write, so that the bot finds nothing to change, and merges."""
    hub.hub.protect_branch("main", ["modelbot/validation", "modelbot/approvals"])
    run = next_run(hub, tmp_path)
    pull = fork_pull(hub, run, {"policies/default.yaml": lambda t: t.replace(
        "description: Two stages;", "description: Two stages, lighter;")}, title="Tidy the policy")
    sweep(run)
    hub.hub.as_user("pat-platform").review(pull.number, "APPROVE")
    sweep(next_run(hub, tmp_path))
    assert checks(hub, pull.head_sha) == {"modelbot/validation": "success", "modelbot/approvals": "success"}
    hub.hub.as_user("pat-platform").review(pull.number, "REQUEST_CHANGES", "not this")
    comment_id, text = what_the_bot_would_say(next_run(hub, tmp_path), pull.number)
    assert "Changes requested by `pat-platform`" in text
    status, _, _ = hub.request("PATCH", f"{REPO}/issues/comments/{comment_id}", "wes-writer", {"body": text})
    assert status == 200
    sweep(next_run(hub, tmp_path))
    assert checks(hub, pull.head_sha)["modelbot/approvals"] == "failure"
    with pytest.raises(ApiError):
        hub.hub.as_user("wes-writer").merge(pull.number)


# --- 6. A flood of fork pull requests and the sweep's limit -----------------------------------------------------


def test_a_flood_of_fork_pull_requests_does_not_starve_a_members_pull_request(hub, tmp_path):
    """Anyone may open pull requests from a fork, and each scheduled run asks for a bounded number of validations
    (LIMIT; 2 here). mallory opens three before a writer's pull request whose own run was lost: every run would
    spend its budget on hers (validating, then counting their approvals again) and never reach the writer's."""
    for n in range(3):
        fork_pull(hub, next_run(hub, tmp_path), {"README.md": lambda _, n=n: f"# spam {n}\n"}, branch=f"spam-{n}")
    hub.hub.as_user("wes-writer").push("docs", {"README.md": "# models\n"}, "Docs", base="main")
    member = hub.hub.as_user("wes-writer").open_pull("docs", "main", "Docs")
    later = datetime.now(UTC) + timedelta(hours=2)  # the writer's pull request has stood longer than a run takes
    first = sweep(bot_context(hub, tmp_path, now=later), limit=2)
    assert first.finished[0] == member and first.deferred == 2, first  # one fork's validation, two left for later
    second = sweep(bot_context(hub, tmp_path, now=later), limit=2)
    third = sweep(bot_context(hub, tmp_path, now=later), limit=2)
    assert len({*first.finished, *second.finished, *third.finished}) == 4  # the forks are served too, in turn


# --- 7. The workflow token where GitHub does not let it open pull requests ---------------------------------------


def test_promote_under_a_workflow_token_barred_from_opening_pull_requests_names_the_setting(hub, tmp_path):
    """GitHub's default: Actions may not open pull requests. The command job's own GITHUB_TOKEN (the workflow's
    permissions, not a person's token) asks anyway: the reply must say which setting to change, not just 403."""
    from dataclasses import replace

    from bot.flows.commands import handle_comment
    from bot.github.client import GitHubForge
    from bot.github.config import GitHubConfig
    from localhub.hub import ACTIONS_BOT
    from localhub.rest import permissions
    from localhub.rest.permissions import JobGrant
    from tests.flows.test_commands import comment

    hub.hub.state.repo.actions_may_create_pulls = False
    scopes = {"contents": "write", "actions": "write", "pull-requests": "write", "issues": "write", "checks": "write"}
    token = hub.hub.token_for_job(JobGrant(permissions.parse(scopes), ".github/workflows/modelbot-comment.yml",
                                           "command", 7))
    run = next_run(hub, tmp_path)
    run = replace(run, forge=GitHubForge(GitHubConfig(hub.url, "acme/models", token), bot_login=ACTIONS_BOT),
                  validate_by_dispatch=True)
    reply = handle_comment(run, comment(hub, "dana-ds", "/promote diabetes-progression 1 to production"))
    assert reply.outcome == "failed" and not [i for i in hub.hub.state.issues.values() if i.pull]
    assert "Allow GitHub Actions to create and approve pull requests" in reply.text, reply.text
