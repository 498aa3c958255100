"""Issues, pull requests, comments, reviews, labels and reactions as GitHub's REST API returns them."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from localhub.rest.queries import mergeability
from localhub.rest.render.common import (
    author_association,
    node_id,
    nullable_user,
    reaction_rollup,
    simple_user,
)
from localhub.rest.render.repos import repository
from localhub.state import Comment, Issue, Label, Reaction, Review

if TYPE_CHECKING:
    from localhub.hub import Hub


def _api(hub: Hub) -> str:
    return f"{hub.base_url}/repos/{hub.state.repo.full_name}"


def _html(hub: Hub) -> str:
    return f"{hub.base_url}/{hub.state.repo.full_name}"


def label(hub: Hub, item: Label) -> dict[str, Any]:
    return {
        "id": item.id,
        "node_id": node_id("Label", item.id),
        "url": f"{_api(hub)}/labels/{item.name}",
        "name": item.name,
        "description": item.description or "",
        "color": item.color,
        "default": False,
    }


def reaction(hub: Hub, item: Reaction) -> dict[str, Any]:
    return {
        "id": item.id,
        "node_id": node_id("Reaction", item.id),
        "user": simple_user(hub, item.user),
        "content": item.content,
        "created_at": item.created_at,
    }


def issue(hub: Hub, item: Issue) -> dict[str, Any]:
    api = f"{_api(hub)}/issues/{item.number}"
    kind = "pull" if item.pull else "issues"
    comments = sum(1 for c in hub.state.comments.values() if c.issue_number == item.number)
    out: dict[str, Any] = {
        "id": item.id,
        "node_id": node_id("Issue", item.id),
        "url": api,
        "repository_url": _api(hub),
        "labels_url": f"{api}/labels{{/name}}",
        "comments_url": f"{api}/comments",
        "events_url": f"{api}/events",
        "html_url": f"{_html(hub)}/{kind}/{item.number}",
        "number": item.number,
        "state": item.state,
        "state_reason": ("completed" if item.state == "closed" else None),
        "title": item.title,
        "body": item.body,
        "user": simple_user(hub, item.user),
        "labels": [label(hub, hub.state.labels[name]) for name in item.labels],
        "assignee": None,
        "assignees": [],
        "milestone": None,
        "locked": False,
        "active_lock_reason": None,
        "comments": comments,
        "closed_at": item.closed_at,
        "created_at": item.created_at,
        "updated_at": item.updated_at,
        "closed_by": None,
        "author_association": author_association(hub, item.user),
        "reactions": reaction_rollup(hub, api, item.reactions),
        "timeline_url": f"{api}/timeline",
    }
    if item.pull:
        pulls = f"{_api(hub)}/pulls/{item.number}"
        out["pull_request"] = {
            "url": pulls,
            "html_url": f"{_html(hub)}/pull/{item.number}",
            "diff_url": f"{_html(hub)}/pull/{item.number}.diff",
            "patch_url": f"{_html(hub)}/pull/{item.number}.patch",
            "merged_at": item.pull.merged_at,
        }
        out["draft"] = item.pull.draft
    return out


def comment(hub: Hub, item: Comment) -> dict[str, Any]:
    url = f"{_api(hub)}/issues/comments/{item.id}"
    issue_item = hub.state.issues[item.issue_number]
    kind = "pull" if issue_item.pull else "issues"
    return {
        "id": item.id,
        "node_id": node_id("IssueComment", item.id),
        "url": url,
        "html_url": f"{_html(hub)}/{kind}/{item.issue_number}#issuecomment-{item.id}",
        "issue_url": f"{_api(hub)}/issues/{item.issue_number}",
        "body": item.body,
        "user": simple_user(hub, item.user),
        "created_at": item.created_at,
        "updated_at": item.updated_at,
        "author_association": author_association(hub, item.user),
        "performed_via_github_app": None,
        "reactions": reaction_rollup(hub, url, item.reactions),
    }


def review(hub: Hub, item: Review) -> dict[str, Any]:
    html = f"{_html(hub)}/pull/{item.number}#pullrequestreview-{item.id}"
    pull_url = f"{_api(hub)}/pulls/{item.number}"
    return {
        "id": item.id,
        "node_id": node_id("PullRequestReview", item.id),
        "user": simple_user(hub, item.user),
        "body": item.body,
        "state": item.state,
        "html_url": html,
        "pull_request_url": pull_url,
        "_links": {"html": {"href": html}, "pull_request": {"href": pull_url}},
        "submitted_at": item.submitted_at,
        "commit_id": item.commit_id,
        "author_association": author_association(hub, item.user),
    }


def _branch_end(hub: Hub, ref: str, sha: str, fork_owner: str | None = None) -> dict[str, Any]:
    """One end of a pull request; the head of a pull request from a fork names the fork and its owner."""
    fork = hub.state.forks.get(fork_owner) if fork_owner else None
    owner = fork.owner if fork else hub.state.repo.owner
    return {
        "label": f"{owner}:{ref}",
        "ref": ref,
        "sha": sha,
        "user": simple_user(hub, owner),
        "repo": repository(hub, fork),
    }


def pull(hub: Hub, item: Issue, full: bool = True) -> dict[str, Any]:
    """A pull request; `full` adds what only the single-PR endpoints carry (mergeability, counts)."""
    pr = item.pull
    assert pr is not None
    api = f"{_api(hub)}/pulls/{item.number}"
    issue_api = f"{_api(hub)}/issues/{item.number}"
    html = f"{_html(hub)}/pull/{item.number}"
    statuses = f"{_api(hub)}/statuses/{pr.head_sha}"
    out: dict[str, Any] = {
        "url": api,
        "id": item.id,
        "node_id": node_id("PullRequest", item.id),
        "html_url": html,
        "diff_url": f"{html}.diff",
        "patch_url": f"{html}.patch",
        "issue_url": issue_api,
        "commits_url": f"{api}/commits",
        "review_comments_url": f"{api}/comments",
        "review_comment_url": f"{_api(hub)}/pulls/comments{{/number}}",
        "comments_url": f"{issue_api}/comments",
        "statuses_url": statuses,
        "number": item.number,
        "state": item.state,
        "locked": False,
        "title": item.title,
        "user": simple_user(hub, item.user),
        "body": item.body,
        "labels": [label(hub, hub.state.labels[name]) for name in item.labels],
        "milestone": None,
        "active_lock_reason": None,
        "created_at": item.created_at,
        "updated_at": item.updated_at,
        "closed_at": item.closed_at,
        "merged_at": pr.merged_at,
        "merge_commit_sha": pr.merge_commit_sha,
        "assignee": None,
        "assignees": [],
        "requested_reviewers": [simple_user(hub, login) for login in pr.requested_reviewers],
        "requested_teams": [],
        "draft": pr.draft,
        "head": _branch_end(hub, pr.head_ref, pr.head_sha, pr.head_owner),
        "base": _branch_end(hub, pr.base_ref, pr.base_sha),
        "_links": {
            name: {"href": href}
            for name, href in {
                "self": api,
                "html": html,
                "issue": issue_api,
                "comments": f"{issue_api}/comments",
                "review_comments": f"{api}/comments",
                "review_comment": f"{_api(hub)}/pulls/comments{{/number}}",
                "commits": f"{api}/commits",
                "statuses": statuses,
            }.items()
        },
        "author_association": author_association(hub, item.user),
        "auto_merge": None,
    }
    if full:
        out.update(_pull_details(hub, item))
    return out


def _pull_details(hub: Hub, item: Issue) -> dict[str, Any]:
    pr = item.pull
    assert pr is not None
    git = hub.git
    base = git.merge_base(pr.base_sha, pr.head_sha) or pr.base_sha
    files = git.changes(base, pr.head_sha)
    mergeable, mergeable_state = mergeability(hub, item)
    return {
        "merged": pr.merged,
        "mergeable": mergeable,
        "rebaseable": mergeable,
        "mergeable_state": mergeable_state,
        "merged_by": nullable_user(hub, pr.merged_by),
        "comments": sum(1 for c in hub.state.comments.values() if c.issue_number == item.number),
        "review_comments": 0,
        "maintainer_can_modify": pr.maintainer_can_modify,
        "commits": len(git.log(f"{base}..{pr.head_sha}")),
        "additions": sum(f.additions for f in files),
        "deletions": sum(f.deletions for f in files),
        "changed_files": len(files),
    }
