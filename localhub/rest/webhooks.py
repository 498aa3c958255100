"""The webhook payload GitHub would send for each change, built from the same representations the REST API
answers with, so a handler sees in a payload exactly what it would later read back over the API."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from localhub.rest.render import checks as render_checks
from localhub.rest.render import issues as render_issues
from localhub.rest.render.common import node_id, simple_user
from localhub.rest.render.repos import repository

if TYPE_CHECKING:
    from localhub.hub import Hub
    from localhub.state import Comment, Deployment, DeploymentStatus, Issue, Label, Review, Status


def _envelope(hub: Hub, sender: str) -> dict[str, Any]:
    out: dict[str, Any] = {"repository": repository(hub), "sender": simple_user(hub, sender)}
    owner = hub.state.repo.owner
    if owner in hub.state.orgs:
        org = simple_user(hub, owner)
        out["organization"] = {key: org[key] for key in ("login", "id", "node_id", "url", "avatar_url")} | {
            "repos_url": f"{hub.base_url}/orgs/{owner}/repos",
            "events_url": f"{hub.base_url}/orgs/{owner}/events",
            "hooks_url": f"{hub.base_url}/orgs/{owner}/hooks",
            "issues_url": f"{hub.base_url}/orgs/{owner}/issues",
            "members_url": f"{hub.base_url}/orgs/{owner}/members{{/member}}",
            "public_members_url": f"{hub.base_url}/orgs/{owner}/public_members{{/member}}",
            "description": None,
        }
    return out


def _pull_for_webhook(hub: Hub, issue: Issue) -> dict[str, Any]:
    out = render_issues.pull(hub, issue, full=True)
    for end in ("head", "base"):
        out[end]["repo"] = {
            **out[end]["repo"],
            "allow_update_branch": False,
            "use_squash_pr_title_as_default": False,
            "squash_merge_commit_title": "PR_TITLE",
            "squash_merge_commit_message": "COMMIT_MESSAGES",
            "merge_commit_title": "MERGE_MESSAGE",
            "merge_commit_message": "PR_TITLE",
        }
    out["merged"] = bool(issue.pull and issue.pull.merged)
    return out


def _org_as_login(repo: dict[str, Any]) -> dict[str, Any]:
    """Some payloads inline an older repository shape whose `organization` is the login, not an object."""
    org = repo.get("organization")
    return (
        {**repo, "organization": org["login"]}
        if isinstance(org, dict)
        else {k: v for k, v in repo.items() if k != "organization"}
    )


# Events whose pull_request.head/base.repo is the inline shape (webhooks.json).
_INLINE_REPO_ACTIONS = {"labeled", "synchronize"}


def pull_request(hub: Hub, action: str, issue: Issue, sender: str, **extra: Any) -> dict[str, Any]:
    pull = _pull_for_webhook(hub, issue)
    if action in _INLINE_REPO_ACTIONS:
        for end in ("head", "base"):
            pull[end] = {**pull[end], "repo": _org_as_login(pull[end]["repo"])}
    payload: dict[str, Any] = {"action": action, "number": issue.number, "pull_request": pull}
    if "label" in extra:
        payload["label"] = render_issues.label(hub, extra["label"])
    if "changes" in extra:
        payload["changes"] = extra["changes"]
    if action == "synchronize":
        payload["before"], payload["after"] = extra["before"], extra["after"]
    return {**payload, **_envelope(hub, sender)}


def issue_comment(
    hub: Hub, action: str, comment: Comment, sender: str, changes: dict[str, Any] | None = None
) -> dict[str, Any]:
    issue = hub.state.issues[comment.issue_number]
    rendered_issue = render_issues.issue(hub, issue)
    rendered_issue.setdefault("performed_via_github_app", None)
    payload: dict[str, Any] = {
        "action": action,
        "issue": rendered_issue,
        "comment": render_issues.comment(hub, comment),
    }
    if changes is not None:
        payload["changes"] = changes
    return {**payload, **_envelope(hub, sender)}


def pull_request_review(hub: Hub, action: str, review: Review, issue: Issue, sender: str) -> dict[str, Any]:
    rendered = render_issues.review(hub, review)
    rendered["state"] = rendered["state"].lower()
    pull = render_issues.pull(hub, issue, full=False)
    payload = {"action": action, "review": rendered, "pull_request": {**pull, **_pull_extras(hub, issue)}}
    return {**payload, **_envelope(hub, sender)}


def _pull_extras(hub: Hub, issue: Issue) -> dict[str, Any]:
    full = _pull_for_webhook(hub, issue)
    return {end: {**full[end], "repo": _org_as_login(full[end]["repo"])} for end in ("head", "base")}


def push(hub: Hub, sender: str, ref: str, before: str | None, after: str | None, forced: bool) -> dict[str, Any]:
    zero = "0" * 40
    git = hub.git
    new_commits = []
    if after:
        excluded = [f"^{sha}" for name, sha in git.refs("refs/heads/").items() if name != ref]
        revs = git.git("rev-list", "--reverse", after, *([f"^{before}"] if before else excluded), "--").split()
        new_commits = [_push_commit(hub, sha) for sha in revs[-20:]]
    user = hub.state.users[sender]
    base = f"{hub.base_url}/{hub.state.repo.full_name}"
    return {
        "ref": ref,
        "before": before or zero,
        "after": after or zero,
        "created": before is None,
        "deleted": after is None,
        "forced": forced,
        "base_ref": None,
        "compare": f"{base}/compare/{(before or zero)[:12]}...{(after or zero)[:12]}",
        "commits": new_commits,
        "head_commit": _push_commit(hub, after) if after else None,
        "pusher": {"name": sender, "email": user.email},
        **_envelope(hub, sender),
        "repository": _org_as_login(repository(hub)),
    }


def _push_commit(hub: Hub, sha: str) -> dict[str, Any]:
    info = hub.git.commit(sha)
    return {
        "id": sha,
        "tree_id": info.tree,
        "distinct": True,
        "message": info.message,
        "timestamp": info.committer.date,
        "url": f"{hub.base_url}/{hub.state.repo.full_name}/commit/{sha}",
        "author": {"name": info.author.name, "email": info.author.email},
        "committer": {"name": info.committer.name, "email": info.committer.email},
        "added": [],
        "removed": [],
        "modified": [],
    }


def status(hub: Hub, item: Status, sender: str) -> dict[str, Any]:
    from localhub.rest.render.git import commit

    branches = [
        {
            "name": name.removeprefix("refs/heads/"),
            "protected": False,
            "commit": {"sha": sha, "url": f"{hub.base_url}/repos/{hub.state.repo.full_name}/commits/{sha}"},
        }
        for name, sha in hub.git.refs("refs/heads/").items()
        if sha == item.sha
    ]
    rendered = render_checks.status(hub, item)
    return {
        "id": item.id,
        "sha": item.sha,
        "name": hub.state.repo.full_name,
        "target_url": item.target_url,
        "avatar_url": rendered["avatar_url"],
        "context": item.context,
        "description": item.description,
        "state": item.state,
        "commit": commit(hub, hub.git.commit(item.sha)),
        "branches": branches,
        "created_at": item.created_at,
        "updated_at": item.created_at,
        **_envelope(hub, sender),
    }


def deployment(hub: Hub, item: Deployment, sender: str) -> dict[str, Any]:
    return {
        "action": "created",
        "deployment": render_checks.deployment(hub, item),
        "workflow": None,
        "workflow_run": None,
        **_envelope(hub, sender),
    }


def deployment_status(hub: Hub, item: DeploymentStatus, parent: Deployment, sender: str) -> dict[str, Any]:
    return {
        "action": "created",
        "deployment_status": render_checks.deployment_status(hub, item),
        "deployment": render_checks.deployment(hub, parent),
        "check_run": None,
        "workflow": None,
        "workflow_run": None,
        **_envelope(hub, sender),
    }


def workflow_dispatch(hub: Hub, ref: str, workflow: str, inputs: dict[str, Any], sender: str) -> dict[str, Any]:
    return {"ref": ref, "workflow": workflow, "inputs": inputs or None, **_envelope(hub, sender)}


ACTIONS_INSTALLATION = 15368  # a workflow token is an installation token of GitHub Actions' own app (id 15368)


def repository_dispatch(hub: Hub, event_type: str, client_payload: dict[str, Any], sender: str) -> dict[str, Any]:
    """What `POST /dispatches` delivers: the event type as `action`, the default branch, the client's payload, and
    the installation of the app whose token asked (a registered app's, else GitHub Actions')."""
    registered = hub.app_of(sender)
    installation = registered.installation_id if registered is not None else ACTIONS_INSTALLATION
    return {
        "action": event_type,
        "branch": hub.state.repo.default_branch,
        "client_payload": client_payload,
        "installation": {"id": installation, "node_id": node_id("Installation", installation)},
        **_envelope(hub, sender),
    }


def labeled(hub: Hub, issue: Issue, label: Label, sender: str) -> dict[str, Any]:
    return pull_request(hub, "labeled", issue, sender, label=label)
