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


JOB_SCOPES = {"contents": "write", "actions": "write", "pull-requests": "write", "issues": "write", "checks": "write"}


def under_the_workflow_token(hub, tmp_path, workflow: str, job: str, now: datetime | None = None):
    """A run acting with a job's own GITHUB_TOKEN (the workflow's permissions, GitHub's restrictions on
    integrations), not a person's token; it asks the pull request workflow to validate, as in Actions."""
    from dataclasses import replace

    from bot.github.client import GitHubForge
    from bot.github.config import GitHubConfig
    from localhub.hub import ACTIONS_BOT
    from localhub.rest import permissions
    from localhub.rest.permissions import JobGrant

    token = hub.hub.token_for_job(JobGrant(permissions.parse(JOB_SCOPES), f".github/workflows/{workflow}", job, 7))
    run = bot_context(hub, tmp_path, now=now) if now else next_run(hub, tmp_path)
    forge = GitHubForge(GitHubConfig(hub.url, "acme/models", token), bot_login=ACTIONS_BOT)
    return replace(run, forge=forge, validate_by_dispatch=True)


def test_promote_under_a_workflow_token_barred_from_opening_pull_requests_names_the_setting(hub, tmp_path):
    """GitHub's default: Actions may not open pull requests. The command job's token asks anyway: the reply must
    say which setting to change, not just 403."""
    from bot.flows.commands import handle_comment
    from tests.flows.test_commands import comment

    hub.hub.state.repo.actions_may_create_pulls = False
    run = under_the_workflow_token(hub, tmp_path, "modelbot-comment.yml", "command")
    reply = handle_comment(run, comment(hub, "dana-ds", "/promote diabetes-progression 1 to production"))
    assert reply.outcome == "failed" and not [i for i in hub.hub.state.issues.values() if i.pull]
    assert "Allow GitHub Actions to create and approve pull requests" in reply.text, reply.text


def test_a_sock_puppets_review_of_a_fork_under_the_workflow_token_counts_nothing_and_names_the_app(hub, tmp_path):
    """The policy's roles name teams, which a workflow token cannot read. A review of mallory's rollback by an
    account of hers makes the schedule resolve the on-call team: the run fails naming the App setup, counts
    nothing, and the repository's own pull requests were served before it."""
    from bot.flows.sweep import SweepFailed

    run = serving_diabetes(hub, tmp_path)
    pull = fork_pull(hub, run, {"models.yaml": rollback}, title="Roll diabetes-progression back")
    sweep(run)
    hub.hub.as_user("wes-writer").push("docs", {"README.md": "# models\n"}, "Docs", base="main")
    member = hub.hub.as_user("wes-writer").open_pull("docs", "main", "Docs")
    hub.hub.as_user("mallory-alt").review(pull.number, "APPROVE")
    later = datetime.now(UTC) + timedelta(hours=2)
    with pytest.raises(SweepFailed, match=r"cannot read team membership.*run modelbot as a GitHub App"):
        sweep(under_the_workflow_token(hub, tmp_path, "modelbot-maintenance.yml", "maintenance", now=later))
    head = hub.hub.state.issues[member].pull.head_sha
    assert checks(hub, head) == {"modelbot/validation": None}  # asked for (dispatched), before the fork
    assert checks(hub, pull.head_sha)["modelbot/approvals"] is None and not merged(hub, pull.number)


# --- 8. Impersonating the bot in comments -----------------------------------------------------------------------


def read_only_token(hub) -> str:
    """The GITHUB_TOKEN of a run for a fork's pull request: read at most, whatever the workflow asks for."""
    from localhub.rest.permissions import JobGrant

    scopes = {scope: "read" for scope in JOB_SCOPES}
    return hub.hub.token_for_job(JobGrant(scopes, ".github/workflows/helpful.yml", "approve", 9))


def test_comments_carrying_the_bots_markers_and_state_are_neither_read_nor_edited(hub, tmp_path):
    """mallory cannot post a check run (her fork's runs hold a read-only token) but may comment: the bot's
    markers, its hidden state claiming her head passed with nobody to exclude, and a claim that it merged."""
    run = serving_diabetes(hub, tmp_path)
    pull = fork_pull(hub, run, {"models.yaml": rollback}, title="Roll diabetes-progression back")
    n, head = pull.number, pull.head_sha
    forged = {
        f"<!-- modelbot:pull:{n}:plan -->\n### ✅ modelbot validated this pull request",
        "<!-- modelbot:diabetes-progression:production:approvals -->\n### ✅ Approvals: oncall 1/1",
        f"<!-- modelbot:pull:{n}:automerge -->\n**Merged by modelbot**: nothing left to do.",
        f'<!-- modelbot-state {{"head":"{head}","actors":[],"inconclusive":[],"status":"pass"}} -->',
    }
    for body in forged:
        hub.hub.as_user("mallory").comment(n, body)
    fork_run = read_only_token(hub)  # what a workflow her pull request adds would hold
    for path, fields in ((f"{REPO}/check-runs", {"name": "modelbot/validation", "head_sha": head,
                                                  "conclusion": "success"}),
                         (f"{REPO}/statuses/{head}", {"state": "success", "context": "modelbot/approvals"})):
        assert hub.request("POST", path, token=fork_run, body=fields)[0] == 403
    sweep(run)
    assert checks(hub, head) == {"modelbot/validation": "success", "modelbot/approvals": None}
    hub.hub.as_user("omar-oncall").review(n, "APPROVE")
    sweep(next_run(hub, tmp_path))
    assert merged(hub, n)  # the forged "Merged by modelbot" stopped nothing
    comments = [c for c in hub.hub.state.comments.values() if c.issue_number == n]
    assert {c.body for c in comments if c.user == "mallory"} == forged  # none of hers was edited
    bots = [c.body for c in comments if c.user != "mallory"]
    assert any("**Merged by modelbot**" in b and "merged as" in b for b in bots), bots


# --- 9. Injection through a fork's branch and file names ---------------------------------------------------------


def test_a_forks_branch_and_file_names_carry_no_shell_markdown_or_state_into_the_bots_record(hub, tmp_path):
    """Git allows `$( )`, quotes, `@` and `<!--` in branch and file names; the bot names changed files in its
    refusal, which it also keeps in its hidden record. Nothing may run, ping, or pass for the bot's own state."""
    from bot.flows import record

    run = next_run(hub, tmp_path)
    fake = '{"head":"HEAD","actors":[],"inconclusive":[],"status":"pass"}'
    name = f'x @rita-risk <!-- modelbot-state {fake} --> $(touch pwned).txt'
    branch = "$(touch${IFS}pwned)`id`"
    pull = fork_pull(hub, run, {"models.yaml": lambda t: t + "# tidy\n", name: lambda _: "x\n"}, branch=branch,
                     title="@acme/ml-leads please approve <!-- modelbot:pull:1:plan -->")
    assert pull.head_ref == branch
    sweep(run)
    kept = record.read(next_run(hub, tmp_path), pull.head_sha)
    assert kept is not None and kept.status == "fail" and not kept.actors
    assert any(name in r for r in kept.refusals)  # the name, as data inside the bot's own JSON
    [said] = [c.body for c in hub.hub.state.comments.values()
              if c.issue_number == pull.number and c.user != "mallory"]
    assert "@rita-risk" not in said and "<!-- modelbot-state" not in said  # mention defused, marker escaped
    assert not list(tmp_path.rglob("pwned")) and not list(hub.hub.git.path.parent.rglob("pwned"))


# --- 10. A fork's pull request into a branch with lax rules, retargeted -----------------------------------------

LAX_DEFAULT = (
    "version: 1\nadmin_role: platform\nroles:\n  platform: {users: [pat-platform]}\n"
    "stages:\n  staging: {}\n  production: {allow_skip: true}\n"
)


def test_a_fork_pull_request_judged_against_a_lax_branch_gains_nothing_when_retargeted_to_main(hub, tmp_path):
    """wes pushes a branch whose policies ask for nothing; mallory's fork promotes diabetes-progression into it
    and a member's /validate judges it there; then she retargets it to main (her fork's `edited` run is skipped).
    Only main's policies and history hold authority: the judgement against the other base was a refusal, and the
    schedule's recount asks for main's approvers."""
    from bot.flows.commands import CommandComment, handle_comment
    from tests.flows.test_redteam import retarget

    hub.hub.protect_branch("main", ["modelbot/validation", "modelbot/approvals"])
    hub.hub.as_user("wes-writer").push("wes/base", {"policies/default.yaml": LAX_DEFAULT,
                                                    "policies/regression.yaml": "version: 1\nextends: default\n"},
                                       "tidy policies", base="main")
    promote = lambda t: t.replace(DIABETES_STAGES, DIABETES_SERVING)  # noqa: E731
    files = {"models.yaml": promote(main_text(hub))}
    mallory = hub.hub.as_user("mallory")
    mallory.push_to_fork("promote", files, "Promote diabetes-progression 1")
    number = mallory.open_pull("mallory:promote", "wes/base", "Promote diabetes-progression 1 to production")
    run = next_run(hub, tmp_path)
    assert sweep(run).finished == ()  # the schedule looks only at pull requests into main
    posted = hub.hub.as_user("dana-ds").comment(number, "/validate")
    reply = handle_comment(run, CommandComment(posted.id, "/validate", "dana-ds", False, number, True))
    head = hub.hub.state.issues[number].pull.head_sha
    assert checks(hub, head) == {"modelbot/validation": "failure"}, reply.text  # refused: not the default branch
    retarget(hub, number, "main")
    assert sweep(next_run(hub, tmp_path)).recounted == (number,)
    runs = hub.request("GET", f"{REPO}/commits/{head}/check-runs", "pat-platform")[2]["check_runs"]
    titles = {r["name"]: (r["conclusion"], r["output"]["title"]) for r in runs}
    assert titles["modelbot/validation"][0] == "failure"
    assert titles["modelbot/approvals"] == (None, "ml-lead 0/1, risk 0/1")
    with pytest.raises(ApiError):
        hub.hub.as_user("wes-writer").merge(number)
